"""Engine layer -> the ONNX nodes it implements.

TensorRT >= 8.6 writes the answer in a layer's ``Metadata`` (``[ONNX Layer: a]\\x1e[ONNX Layer: b]``: U+001E
separates nodes fused into one layer, U+001F nodes a Myelin kernel spans). Older engines and names-only
exports only have the layer name, which TensorRT composes from node names:

- ``a + b + c``           nodes fused into one layer
- ``PWN(a, PWN(b), c)``   a generated pointwise kernel (``fusedPointwiseNode(...)`` in some versions)
- ``a || b``              a horizontal merge of independent layers
- ``{ForeignNode[a...b]}`` a Myelin (or DLA) region: every node from a to b in topological order
- ``Reformatting CopyNode for Input Tensor 0 to X``  a format copy feeding layer X
- ``(Unnamed Layer* 12) [Shuffle]``  a layer the parser created (no ONNX node)
- ``name [profile 1]``    the copy of a layer for a second optimization profile

Some tokens are not ONNX nodes at all: weights (``conv1.weight``), PyTorch constant inputs
(``onnx::Mul_387``), shuffles the parser inserted (``reshape_after_Gemm_48``), Myelin's own kernels
(``__myl_*``) and buffers. Given the model's node names, only real node names are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from trtadvisor.confirm.model import Engine, EngineLayer

_PROFILE_SUFFIX = re.compile(r"\s*\[profile \d+\]")
_MYELIN_SUFFIX = re.compile(r"_myl\d+_\d+$")
_REFORMAT = re.compile(r"^Reformatting CopyNode for (?:Input|Output) Tensor \d+ to (.+)$", re.DOTALL)
_POINTWISE = re.compile(r"^(?:PWN|fusedPointwiseNode)\((.*)\)$", re.DOTALL)
_FOREIGN = re.compile(r"^\{ForeignNode\[(.*)\]\}$", re.DOTALL)
_UNNAMED = re.compile(r"^\(Unnamed Layer\* \d+\) \[[^\]]*\]")
_NVM_HELPER = re.compile(r"^(?:.+ (?:to|from) nvm|.+ finish)$")
_QDQ_TOKEN = re.compile(r"(?:^|[/_.])(?:Quantize|Dequantize)Linear(?:_\d+)?$", re.IGNORECASE)
_METADATA_SPLIT = re.compile(r"[\x1e\x1f]|(?<=\])(?=\[ONNX Layer: )")
_METADATA_ENTRY = re.compile(r"^\[ONNX Layer: (.*)\]$", re.DOTALL)

_INTERNAL_PREFIXES = (
    "ONNXTRT_",
    "__myl",
    "__mye",
    "[trainStation",
    "reshape_after_",
    "reshape_before_",
    "transpose_after_",
    "transpose_before_",
    "unsqueeze_node_after_",
    "squeeze_after_",
    "copied_squeeze_after_",
    "shuffle_between_",
)
_WEIGHT_SUFFIXES = (".weight", ".bias", ".running_mean", ".running_var", "/read:0", "_weight", "_bias")


_OTHER_PROFILE = re.compile(r"\[profile [1-9]\d*\]")


def is_other_profile(name: str) -> bool:
    """A layer's copy for a second or later optimization profile (``node_linear [profile 1]_myl11_2``):
    the same layer as the first profile's, built again."""
    return bool(_OTHER_PROFILE.search(name))


def strip_profile_suffix(name: str) -> str:
    """``"node_linear [profile 1]_myl11_2"`` -> ``"node_linear_myl11_2"``."""
    return _PROFILE_SUFFIX.sub("", name)


def metadata_nodes(metadata: str | None) -> tuple[str, ...]:
    """The ONNX node names of a ``Metadata`` string, in order, without duplicates."""
    if not metadata:
        return ()
    nodes: list[str] = []
    for entry in _METADATA_SPLIT.split(metadata.strip()):
        match = _METADATA_ENTRY.match(entry.strip())
        if match and match.group(1) and match.group(1) not in nodes:
            nodes.append(match.group(1))
    return tuple(nodes)


def classify_token(token: str) -> str:
    """One name token: ``onnx`` (a node name), ``unnamed``, ``internal`` or ``weight``."""
    if _UNNAMED.match(token):
        return "unnamed"
    if token.startswith(_INTERNAL_PREFIXES) or token.endswith(" copy") or "_clone_" in token:
        return "internal"
    # ":0" ends a TensorFlow tensor name (a variable read), never a node name.
    if token.endswith(_WEIGHT_SUFFIXES) or token.startswith("onnx::") or re.search(r":\d+$", token):
        return "weight"
    return "onnx"


def _split_top_level(text: str, separators: Sequence[str]) -> list[str]:
    """Split on separators outside (), [] and {}; falls back to a plain split if brackets do not balance."""
    parts: list[str] = []
    depth = 0
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            separator = next((sep for sep in separators if text.startswith(sep, index)), None)
            if separator is not None:
                parts.append(text[start:index])
                index += len(separator)
                start = index
                continue
        index += 1
    parts.append(text[start:])
    if depth != 0:
        pattern = "|".join(re.escape(sep) for sep in separators)
        parts = re.split(pattern, text)
    return [part.strip() for part in parts if part.strip()]


def name_tokens(name: str) -> list[str | tuple[list[str], list[str]]]:
    """The tokens of a layer name; a ``{ForeignNode[a...b]}`` range is a pair (tokens of a, tokens of b)."""
    name = strip_profile_suffix(name).strip()
    reformat = _REFORMAT.match(name)
    if reformat:
        return name_tokens(reformat.group(1))
    tokens: list[str | tuple[list[str], list[str]]] = []
    for part in _split_top_level(name, (" + ", "||")):
        pointwise = _POINTWISE.match(part)
        foreign = _FOREIGN.match(part)
        if pointwise:
            for inner in _split_top_level(pointwise.group(1), (", ", " + ")):
                tokens.extend(name_tokens(inner))
        elif foreign:
            first, _, last = foreign.group(1).partition("...")
            first_tokens = [t for t in name_tokens(first) if isinstance(t, str)]
            last_tokens = [t for t in name_tokens(last) if isinstance(t, str)] if last else first_tokens
            tokens.append((first_tokens, last_tokens))
        else:
            tokens.append(part)
    return tokens


def _candidates(token: str) -> list[str]:
    """Spellings of a token to look up among node names (Myelin suffixes, ``_output_0`` tensor names)."""
    candidates = [token]
    without_myelin = _MYELIN_SUFFIX.sub("", token)
    for variant in (without_myelin, re.sub(r"_output_\d+$", "", token)):
        if variant not in candidates:
            candidates.append(variant)
    # Myelin clones a node and appends "_<n>" before its suffix: "node_linear_1_2_myl5_3".
    clone = re.sub(r"_\d+$", "", without_myelin)
    if clone not in candidates:
        candidates.append(clone)
    return candidates


def _resolve(token: str, known: set[str] | None) -> str | None:
    if known is None:
        if classify_token(token) != "onnx":
            return None
        return _MYELIN_SUFFIX.sub("", token)
    if classify_token(token) == "unnamed":
        return None
    return next((candidate for candidate in _candidates(token) if candidate in known), None)


def _resolve_range(
    first: list[str], last: list[str], known: set[str] | None, order: Sequence[str] | None
) -> list[str]:
    starts = [node for node in (_resolve(t, known) for t in first) if node]
    ends = [node for node in (_resolve(t, known) for t in last) if node]
    if order is not None and starts and ends:
        position = {node: index for index, node in enumerate(order)}
        if starts[0] in position and ends[-1] in position and position[starts[0]] <= position[ends[-1]]:
            return list(order[position[starts[0]] : position[ends[-1]] + 1])
    return [*starts, *(node for node in ends if node not in starts)]


def map_name(
    name: str, known_nodes: Iterable[str] | None = None, topo_order: Sequence[str] | None = None
) -> tuple[str, ...]:
    """The ONNX nodes a layer name spells. ``known_nodes``: keep only real node names; ``topo_order``:
    resolve ``{ForeignNode[a...b]}`` to every node from a to b (``known_nodes`` defaults to it)."""
    known = set(known_nodes) if known_nodes is not None else (set(topo_order) if topo_order else None)
    if _NVM_HELPER.match(name.strip()):
        return ()
    nodes: list[str] = []
    for token in name_tokens(name):
        found = (
            _resolve_range(*token, known, topo_order)
            if isinstance(token, tuple)
            else [_resolve(token, known)]
        )
        nodes.extend(node for node in found if node and node not in nodes)
    return tuple(nodes)


def map_layer(
    layer: EngineLayer, known_nodes: Iterable[str] | None = None, topo_order: Sequence[str] | None = None
) -> tuple[str, ...]:
    """Metadata first (exact), else the name. A reformat layer maps to the nodes of the layer it feeds."""
    known = set(known_nodes) if known_nodes is not None else (set(topo_order) if topo_order else None)
    if layer.type == "FinishNvmRegion":
        return ()
    if layer.metadata_nodes:
        if known is None:
            return layer.metadata_nodes
        kept = tuple(node for node in layer.metadata_nodes if node in known)
        if kept:
            return kept
    return map_name(layer.name, known, topo_order)


def map_engine(engine: Engine, onnx_nodes: Sequence[str] | None = None) -> Engine:
    """Every layer with ``onnx_nodes`` filled; ``onnx_nodes``: the model's nodes in topological order."""
    layers = tuple(replace(layer, onnx_nodes=map_layer(layer, None, onnx_nodes)) for layer in engine.layers)
    return replace(engine, layers=layers)


def is_qdq_name(token: str) -> bool:
    return bool(_QDQ_TOKEN.search(token))


def layer_role(layer: EngineLayer) -> str:
    """What a layer is for: ``compute``, ``reformat``, ``qdq``, ``noop``, ``dla``, ``dla_helper``, ``myelin``,
    ``sync`` (TRT 10 ``signal``/``wait`` between streams) or ``internal`` (maps to no ONNX node)."""
    name = strip_profile_suffix(layer.name).strip()
    layer_type = layer.type or ""
    if layer_type == "FinishNvmRegion" or _NVM_HELPER.match(name):
        return "dla_helper"
    if layer_type == "DLA":
        return "dla"
    if layer_type in ("signal", "wait"):
        return "sync"
    if layer_type == "NoOp":
        return "noop"
    tokens = [token for token in name_tokens(name) if isinstance(token, str)]
    qdq_only = bool(tokens) and all(is_qdq_name(token) for token in tokens)
    if (layer.origin == "QDQ" or qdq_only) and not _REFORMAT.match(name):
        return "qdq"
    if layer_type == "Reformat" or _REFORMAT.match(name):
        return "reformat"
    if layer_type == "Myelin" or _FOREIGN.match(name) or name.startswith(("__myl", "__mye")):
        return "myelin" if layer.onnx_nodes or _FOREIGN.match(name) else "internal"
    if not layer.onnx_nodes and not map_name(name):
        return "internal"
    return "compute"


# TensorRT 10.x lists a Myelin region as its kernels, named after a node or a generated kernel and
# ending in the region's suffix: "node_linear_myl4_0", "__myl_MulSum_myl4_1", "__mye26_0_myl7_0".
_MYELIN_KERNEL = re.compile(r"_myl(\d+)_\d+$")

# tensor -> (node index, node name, node inputs), or None for a graph input or initializer.
TensorProducers = Mapping[str, "tuple[int, str, Sequence[str]] | None"]


def myelin_region_of(layer: EngineLayer) -> str | None:
    """The region a Myelin kernel belongs to (``"4"`` for ``__myl_MulSum_myl4_1``); None for other layers."""
    match = _MYELIN_KERNEL.search(strip_profile_suffix(layer.name).strip())
    return match.group(1) if match else None


def nodes_between(inputs: Iterable[str], outputs: Iterable[str], producers: TensorProducers) -> tuple[str, ...]:
    """The model's nodes that turn ``inputs`` into ``outputs`` (walking back from the outputs), in graph
    order; empty when a boundary tensor is not one of the model's (TensorRT's own helper tensors)."""
    stop = set(inputs)
    if not stop or any(name not in producers for name in stop):
        return ()
    stack = [name for name in outputs if name in producers]
    found: dict[str, int] = {}
    while stack:
        tensor = stack.pop()
        if tensor in stop:
            continue
        entry = producers.get(tensor)
        if entry is None:
            continue
        index, node, node_inputs = entry
        if node not in found:
            found[node] = index
            stack.extend(node_inputs)
    return tuple(sorted(found, key=found.__getitem__))


def _by_boundary(layer: EngineLayer, aliases: Mapping[str, str], producers: TensorProducers) -> tuple[str, ...]:
    """A Myelin region's nodes from the tensors at its boundary, when they are the model's and the result
    holds every node its name or metadata gave (TensorRT leaves a folded Reshape out of the metadata)."""
    inputs = [aliases.get(t.name, t.name) for t in layer.inputs]
    outputs = [t.name for t in layer.outputs if t.name in producers]
    if not outputs:
        return layer.onnx_nodes
    found = nodes_between(inputs, outputs, producers)
    return found if found and set(found) >= set(layer.onnx_nodes) else layer.onnx_nodes


def merge_myelin_kernels(layers: Sequence[EngineLayer], producers: TensorProducers | None = None
                         ) -> list[EngineLayer]:
    """Layers with each Myelin region's kernels merged into one ``Myelin`` layer (at its first kernel's
    place): its nodes are the kernels' nodes, or the nodes between its boundary tensors when
    ``producers`` (the model's tensors) is given. Other layers are returned as they are."""
    members: dict[str, list[EngineLayer]] = {}
    for layer in layers:
        region = myelin_region_of(layer)
        if region is not None:
            members.setdefault(region, []).append(layer)
    aliases = {layer.outputs[0].name: layer.inputs[0].name for layer in layers
               if layer_role(layer) == "reformat" and len(layer.inputs) == 1 and len(layer.outputs) == 1}
    merged: list[EngineLayer] = []
    for layer in layers:
        region = myelin_region_of(layer)
        if region is None:
            if producers is not None and (layer.type == "Myelin" or _FOREIGN.match(layer.name.strip())):
                layer = replace(layer, onnx_nodes=_by_boundary(layer, aliases, producers))
            merged.append(layer)
            continue
        kernels = members.pop(region, None)
        if kernels is None:
            continue  # a later kernel of a region already placed
        nodes: list[str] = []
        for kernel in kernels:
            nodes.extend(n for n in kernel.onnx_nodes if n not in nodes)
        made = {t.name for k in kernels for t in k.outputs}
        inputs = tuple(t for k in kernels for t in k.inputs if t.name not in made)
        outputs = tuple(t for k in kernels for t in k.outputs)
        timed = [k.time_ms for k in kernels if k.time_ms is not None]
        # A region built for a second profile names the profile in some kernels only: say it in its name.
        found = (_OTHER_PROFILE.search(k.name) for k in kernels)
        profile = next((m.group(0) for m in found if m), "")
        name = (f"{{Myelin region myl{region}: {kernels[0].name} ... {kernels[-1].name}}}" if len(kernels) > 1
                else kernels[0].name)
        if profile and profile not in name:
            name = f"{name} {profile}"
        region_layer = EngineLayer(name=name, type="Myelin", inputs=inputs, outputs=outputs, onnx_nodes=tuple(nodes),
                                   median_ms=sum(timed) if timed else None)
        if producers is not None:
            region_layer = replace(region_layer, onnx_nodes=_by_boundary(region_layer, aliases, producers))
        merged.append(region_layer)
    return merged
