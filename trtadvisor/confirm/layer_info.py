"""Readers for the layer list of an engine, in every form TensorRT writes it.

- ``--exportLayerInfo`` JSON: detailed (``{"Layers": [{...}], "Bindings": [...]}``) or names-only
  (``"Layers": [str]``); ``Location`` (>= 8.4), ``Metadata``/``StreamId`` (>= 8.6) may be missing.
  TensorRT 11 replaces ``Bindings`` (names) by ``I/O Tensors`` (Name, IOMode, DataType, Dimensions,
  Location, IsShapeInferenceIO, ProfileInfo[{MinShape, OptShape, MaxShape, Format}]: the IEngineInspector
  migration page, ../shared/reference/tensorrt-11.md 'Engine inspector and profiles'); both are read.
- one-line text (``--dumpLayerInfo``, ``IEngineInspector`` ONELINE): ``Name: a, LayerType: b, Inputs: [...]``.
- names-only text: one layer name per line after ``Layers:``.
- the verbose build's ``Engine Layer Information:`` block:
  ``Layer(CaskConvolution): name, Tactic: 0x.., in (Float[1,3,8,8]) -> out (Half[1,8:8,8,8])``
  (before 8.6: ``in[Float(-2,1,28,28)]``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trtadvisor.confirm.files import looks_like_json, parse_json, read_text, split_lines
from trtadvisor.confirm.mapping import metadata_nodes
from trtadvisor.confirm.model import EngineLayer, EngineTensor, IoTensor
from trtadvisor.errors import ArtifactError, shown

LAYER_INFO_EXPECTED = "a TensorRT layer-info file (trtexec --exportLayerInfo JSON or IEngineInspector output)"


@dataclass(frozen=True)
class LayerInfo:
    layers: tuple[EngineLayer, ...]
    bindings: tuple[str, ...] = ()
    detailed: bool = True  # False for names-only exports (kLAYER_NAMES_ONLY)
    io_tensors: tuple[IoTensor, ...] = ()  # 11.x "I/O Tensors" (bindings holds their names too)


_MAX_DIM = 1 << 62  # dimensions and stream ids beyond this are not TensorRT's


def _int(value: Any) -> int | None:
    """An integer field, or None when it is not one (a NaN, a huge float, text that is no number)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.strip()
        if not (value.lstrip("-").isdigit() and value.isascii() and len(value) <= 20):
            return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -_MAX_DIM <= number <= _MAX_DIM else None


class _Fields:
    """Typed access to one JSON object of a layer-info file: a field of the wrong type is an
    ArtifactError naming the file, the entry and the field, never a crash further on."""

    def __init__(self, item: dict[str, Any], path: Path | None, where: str) -> None:
        self.item, self.path, self.where = item, path, where

    def _wrong(self, key: str, expected: str) -> ArtifactError:
        value = self.item.get(key)
        return ArtifactError(f"{shown(self.path or 'layer info')}: {self.where} has \"{shown(key, 40)}\" of type "
                             f"{type(value).__name__}, expected {expected}",
                             "pass the file trtexec --exportLayerInfo wrote, unedited")

    def text(self, key: str, default: str | None = None, strict: bool = False) -> str | None:
        """The text of ``key``; ``strict``: present means a string (a number or null is an error too)."""
        value = self.item.get(key)
        if strict and key in self.item and not isinstance(value, str):
            raise self._wrong(key, "text")
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a layer literally named 5: TensorRT writes names as text, but numbers are harmless
        if not isinstance(value, str):
            raise self._wrong(key, "text")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.item.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(key, "a list")
        return value


def _dims(text: str) -> tuple[tuple[int, ...], int | None]:
    """``"-1,32:8,14,14"`` -> ((-1, 32, 14, 14), 8): a vectorized dimension keeps its size."""
    dims: list[int] = []
    vector: int | None = None
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        size, _, vec = part.partition(":")
        number = _int(size)
        dims.append(number if number is not None else -1)
        if vec and _int(vec) is not None:
            vector = _int(vec)
    return tuple(dims), vector


def _tensor_from_json(item: Any, path: Path | None = None, where: str = "a tensor") -> EngineTensor:
    if isinstance(item, str):
        return EngineTensor(name=item)
    if not isinstance(item, dict):
        raise ArtifactError(f"{shown(path or 'layer info')}: {where} is a {type(item).__name__}, expected an object "
                            "with Name and Dimensions", "pass the file trtexec --exportLayerInfo wrote, unedited")
    fields = _Fields(item, path, where)
    dims = tuple(-1 if (d := _int(v)) is None else d for v in fields.items("Dimensions"))
    return EngineTensor(
        name=fields.text("Name", "") or "",
        dims=dims,
        format=fields.text("Format/Datatype"),
        location=fields.text("Location"),
    )


def _tactic(tactic_name: Any, tactic_value: Any) -> str | None:
    if tactic_name:
        return str(tactic_name)
    return None if tactic_value in (None, "") else str(tactic_value)


def layer_from_dict(item: dict[str, Any], path: Path | None = None, index: int = 0) -> EngineLayer:
    """One detailed layer object of ``--exportLayerInfo``; fields of the wrong type are an ArtifactError."""
    fields = _Fields(item, path, f"layer {index}")
    where = f"layer {index} ({shown(fields.text('Name', '') or '', 60)})"
    fields.where = where
    metadata = item.get("Metadata")
    return EngineLayer(
        name=fields.text("Name", "") or "",
        type=fields.text("LayerType"),
        inputs=tuple(_tensor_from_json(t, path, f"{where} input {i}") for i, t in enumerate(fields.items("Inputs"))),
        outputs=tuple(_tensor_from_json(t, path, f"{where} output {i}")
                      for i, t in enumerate(fields.items("Outputs"))),
        tactic=_tactic(fields.text("TacticName"), fields.text("TacticValue")),
        metadata_nodes=metadata_nodes(metadata if isinstance(metadata, str) else None),
        stream_id=_int(item.get("StreamId")),
        origin=fields.text("Origin"),
        raw=dict(item),
    )


def layers_from_json(data: Any, path: Path) -> LayerInfo:
    """Layers of a parsed ``--exportLayerInfo`` document (detailed or names-only)."""
    io_tensors: tuple[IoTensor, ...] = ()
    if isinstance(data, dict) and "Layers" in data:
        items, bindings = data["Layers"], data.get("Bindings") or []
        if "I/O Tensors" in data:  # TensorRT 11
            io_tensors = tuple(_io_tensor(t, path, i)
                               for i, t in enumerate(_Fields(data, path, "the document").items("I/O Tensors")))
            bindings = bindings or [t.name for t in io_tensors]
    elif isinstance(data, list) and all(isinstance(i, dict) and "LayerType" in i for i in data):
        items, bindings = data, []  # a bare list of layer objects (IEngineInspector JSON of one layer each)
    else:
        raise ArtifactError(
            f'{path}: JSON without a "Layers" list, expected {LAYER_INFO_EXPECTED}',
            "pass the file of --exportLayerInfo (the profile goes to --profile, the timing to --timing)",
        )
    if not isinstance(items, list):
        raise ArtifactError(f'{path}: "Layers" is not a list', "re-export with trtexec --exportLayerInfo")
    layers: list[EngineLayer] = []
    detailed = True
    for index, item in enumerate(items):
        if isinstance(item, str):
            detailed = False
            layers.append(EngineLayer(name=item))
        elif isinstance(item, dict) and "Name" in item:
            layers.append(layer_from_dict(item, path, index))
        else:
            raise ArtifactError(
                f'{path}: a layer entry is neither a name nor an object with "Name"',
                "re-export with trtexec --exportLayerInfo --profilingVerbosity=detailed",
            )
    if not isinstance(bindings, list) or not all(isinstance(b, (str, int, float)) for b in bindings):
        raise ArtifactError(f'{shown(path)}: "Bindings" is not a list of names',
                            "re-export with trtexec --exportLayerInfo")
    return LayerInfo(tuple(layers), tuple(str(b) for b in bindings), detailed, io_tensors)


def _shape(value: list[Any]) -> list[int]:
    """Dimensions of a shape list; one that is no integer in TensorRT's range is unknown (-1)."""
    return [-1 if (d := _int(v)) is None else d for v in value]


def _io_tensor(item: Any, path: Path | None, index: int) -> IoTensor:
    """One entry of TensorRT 11's ``I/O Tensors``; a missing field stays None (never guessed), a field of
    the wrong type (a number, list or object where text belongs) is an ArtifactError."""
    where = f"I/O tensor {index}"
    if not isinstance(item, dict):
        raise ArtifactError(f"{shown(path or 'layer info')}: {where} is a {type(item).__name__}, expected an object "
                            "with Name, IOMode, DataType and Dimensions",
                            "pass the file trtexec --exportLayerInfo wrote, unedited")
    fields = _Fields(item, path, where)
    fields.where = f"{where} ({shown(fields.text('Name', '') or '', 60)})"
    profiles = []
    for i, p in enumerate(fields.items("ProfileInfo")):
        if not isinstance(p, dict):
            raise ArtifactError(f"{shown(path or 'layer info')}: {fields.where} profile {i} is a "
                                f"{type(p).__name__}, expected an object with MinShape, OptShape and MaxShape",
                                "pass the file trtexec --exportLayerInfo wrote, unedited")
        profile = _Fields(p, path, f"{fields.where} profile {i}")
        profiles.append({"min": _shape(profile.items("MinShape")), "opt": _shape(profile.items("OptShape")),
                         "max": _shape(profile.items("MaxShape")), "format": profile.text("Format", strict=True)})
    shape_io = item.get("IsShapeInferenceIO")
    return IoTensor(name=fields.text("Name", "", strict=True) or "", io_mode=fields.text("IOMode", strict=True),
                    data_type=fields.text("DataType", strict=True), dims=tuple(_shape(fields.items("Dimensions"))),
                    location=fields.text("Location", strict=True),
                    shape_io=shape_io if isinstance(shape_io, bool) else None, profiles=tuple(profiles))


# ---------------------------------------------------------------------------------------------------------
# One-line text: "Name: n, LayerType: t, Inputs: [ { Name: x, Location: Device, Dimensions: [1,2], ...
_ONELINE_HEAD = re.compile(r"^Name: (?P<name>.*?), LayerType: (?P<type>[\w.]+)(?P<rest>.*)$")
# Every variable part stops at a brace or bracket, so a long line costs linear time (no backtracking
# across tensors).
_ONELINE_TENSOR = re.compile(
    r"\{ Name: (?P<name>[^{}]*?), (?:Location: (?P<loc>\w+), )?Dimensions: \[(?P<dims>[^\[\]{}]*)\], "
    r"Format/Datatype: (?P<fmt>[^{}]*?) \}"
)
_ONELINE_FIELD = {
    "tactic_name": re.compile(r", TacticName: ([^,]+)"),
    "tactic_value": re.compile(r", TacticValue: (\w+)"),
    "stream": re.compile(r", StreamId: (\d+)"),
    "origin": re.compile(r", Origin: (\w+)"),
    "metadata": re.compile(r", Metadata: (.*)$", re.DOTALL),
}


def _oneline_tensors(section: str) -> tuple[EngineTensor, ...]:
    tensors = []
    for match in _ONELINE_TENSOR.finditer(section):
        dims, vector = _dims(match.group("dims"))
        tensors.append(
            EngineTensor(match.group("name"), dims, match.group("fmt"), match.group("loc"), vector)
        )
    return tuple(tensors)


def parse_oneline_layer(line: str) -> EngineLayer | None:
    """One ``Name: ..., LayerType: ...`` line, or ``None`` if the line is not one."""
    head = _ONELINE_HEAD.match(line.rstrip("\r\n"))
    if not head:
        return None
    rest = head.group("rest")
    inputs_part, _, after_inputs = rest.partition(", Outputs: [")
    outputs_part = after_inputs.split("}]", 1)[0] + "}" if after_inputs else ""
    fields = {key: pattern.search(rest) for key, pattern in _ONELINE_FIELD.items()}
    metadata = fields["metadata"].group(1) if fields["metadata"] else None
    return EngineLayer(
        name=head.group("name"),
        type=head.group("type"),
        inputs=_oneline_tensors(inputs_part),
        outputs=_oneline_tensors(outputs_part),
        tactic=_tactic(
            fields["tactic_name"].group(1) if fields["tactic_name"] else None,
            fields["tactic_value"].group(1) if fields["tactic_value"] else None,
        ),
        metadata_nodes=metadata_nodes(metadata),
        stream_id=_int(fields["stream"].group(1)) if fields["stream"] else None,
        origin=fields["origin"].group(1) if fields["origin"] else None,
        raw={"line": line.rstrip("\r\n")},
    )


_LOG_PREFIX = re.compile(r"^\[[^\]]*\] \[[A-Z]\] (?:\[TRT\] )?")


def parse_layers_block(lines: Sequence[str]) -> tuple[EngineLayer, ...]:
    """The first ``Layers:`` block of a text dump: one-line layers, or names one per line.

    IEngineInspector prints ``Layers:`` once per engine and then (8.4) every layer again under
    ``Layer information:``; only the first block is the engine's layer list.
    """
    start = next((i for i, line in enumerate(lines) if _LOG_PREFIX.sub("", line).strip() == "Layers:"), None)
    if start is None:
        return ()
    layers: list[EngineLayer] = []
    for line in lines[start + 1 :]:
        text = line.rstrip("\r\n")
        if not text.strip() or text.startswith("Bindings:") or _LOG_PREFIX.match(text):
            break
        layer = parse_oneline_layer(text)
        layers.append(layer if layer is not None else EngineLayer(name=text))
    return tuple(layers)


# ---------------------------------------------------------------------------------------------------------
# Verbose build: "Layer(Type): name, Tactic: 0x.., a (Float[1,2]), b (Half[3]) -> c (Float[4])"
_ENGINE_LAYER = re.compile(r"^Layer\((?P<type>[^)]*)\): (?P<name>.*), Tactic: (?P<tactic>-?\w+), (?P<io>.*)$")
# The type-and-dims tail of each tensor; the name is the text before it. Searching for the tail alone
# (whose parts cannot span a bracket) keeps a long line linear, where "(?P<name>.+?) ..." was not.
_NEW_TENSOR_TAIL = re.compile(r" \((?P<fmt>\w+)\[(?P<dims>[^\[\]()]*)\]\)(?:, |$)")
_OLD_TENSOR_TAIL = re.compile(r"\[(?P<fmt>\w+)\((?P<dims>[^\[\]()]*)\)\](?:, |$)")


def _engine_tensors(text: str) -> tuple[EngineTensor, ...]:
    text = text.strip()
    if not text:
        return ()
    first_new = _NEW_TENSOR_TAIL.search(text)
    first_old = _OLD_TENSOR_TAIL.search(text)
    use_new = first_new is not None and (first_old is None or first_new.start() <= first_old.start())
    pattern = _NEW_TENSOR_TAIL if use_new else _OLD_TENSOR_TAIL
    tensors = []
    start = 0
    for match in pattern.finditer(text):
        name = text[start:match.start()].strip()
        start = match.end()
        if not name:
            continue
        dims, vector = _dims(match.group("dims"))
        tensors.append(EngineTensor(name, dims, match.group("fmt"), None, vector))
    return tuple(tensors)


def parse_engine_layer_line(line: str) -> EngineLayer | None:
    match = _ENGINE_LAYER.match(line.rstrip("\r\n"))
    if not match:
        return None
    inputs, _, outputs = match.group("io").partition(" -> ")
    return EngineLayer(
        name=match.group("name"),
        type=match.group("type"),
        inputs=_engine_tensors(inputs),
        outputs=_engine_tensors(outputs),
        tactic=match.group("tactic"),
        raw={"line": line.rstrip("\r\n")},
    )


def parse_engine_layer_information(lines: Sequence[str]) -> tuple[EngineLayer, ...]:
    """The last ``Engine Layer Information:`` block of a verbose build log (one per built engine)."""
    starts = [i for i, line in enumerate(lines) if line.rstrip().endswith("Engine Layer Information:")]
    if not starts:
        return ()
    layers: list[EngineLayer] = []
    for line in lines[starts[-1] + 1 :]:
        layer = parse_engine_layer_line(line)
        if layer is None:
            break
        layers.append(layer)
    return tuple(layers)


# ---------------------------------------------------------------------------------------------------------
def read_layer_info(path: Path) -> LayerInfo:
    """``--exportLayerInfo`` JSON, or a text dump (IEngineInspector / ``--dumpLayerInfo``)."""
    text = read_text(path, LAYER_INFO_EXPECTED)
    if looks_like_json(text):
        return layers_from_json(parse_json(text, path, LAYER_INFO_EXPECTED), path)
    lines = split_lines(text)
    layers = parse_layers_block(lines) or parse_engine_layer_information(lines)
    if not layers:
        raise ArtifactError(
            f"{shown(path)}: no layers found, expected {LAYER_INFO_EXPECTED}",
            "use trtexec --exportLayerInfo=<file> --profilingVerbosity=detailed",
        )
    detailed = any(layer.type for layer in layers)
    return LayerInfo(layers, (), detailed)
