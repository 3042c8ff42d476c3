"""``trtadvisor fix``: apply the selected rewrites, prove the result, write it; never touch the input.

Order matters: sorting first (every matcher reads file order), then folding (BatchNorm folding needs
initializers), identity removal (it hides LayerNorm weights behind TorchScript's Identity copies),
BatchNorm folding, merging parallel convolution branches (after the folding, so a branch's BatchNorm is
already in its convolution), the native normalization ops, and un-repeated K/V.

The model is written beside ``OUT`` under a temporary name, checked, compared in onnxruntime, and
only then renamed to ``OUT``; a failed proof removes everything written. External weights that no
rewrite changed stay in their file and are referenced from ``OUT`` when ``OUT`` is in the same
folder; in another folder, the tensors ``OUT`` reads are streamed into ``OUT.data`` byte for byte
(onnx.checker refuses linked data files). New or changed tensors of 1 KiB or more go to ``OUT.data``.
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from trtadvisor.errors import UserError, shown
from trtadvisor.fix.base import Change, Rewrite, Skip, Work
from trtadvisor.fix.batchnorm import BatchNormRewrite
from trtadvisor.fix.fold import FoldRewrite
from trtadvisor.fix.identity import IdentityRewrite
from trtadvisor.fix.layernorm import LayerNormRewrite
from trtadvisor.fix.reparam import ReparamRewrite
from trtadvisor.fix.repeat_kv import RepeatKVRewrite
from trtadvisor.fix.rmsnorm import RMSNormRewrite
from trtadvisor.fix.toposort import TopoSortRewrite
from trtadvisor.fix.verify import (
    NumericCheck,
    compare_outputs_bounded,
    full_check,
    full_check_without_weights,
    onnxruntime_available,
)


def all_rewrites() -> list[Rewrite]:
    return [TopoSortRewrite(), FoldRewrite(), IdentityRewrite(), BatchNormRewrite(), ReparamRewrite(),
            LayerNormRewrite(), RMSNormRewrite(), RepeatKVRewrite()]


def rewrite_codes() -> set[str]:
    return {code for r in all_rewrites() for code in r.codes}


@dataclass
class EngineSummary:
    """The predicted engine of one model, as the fix report compares it."""

    layers: int
    fusion_coverage: float
    eliminated_nodes: int
    nodes: int
    findings: dict[str, int]
    latency_ms: float | None = None
    latency_unknown_layers: int = 0   # layers the cost model could not price: the latency leaves them out

    def to_json(self) -> dict[str, object]:
        return {"predicted_layers": self.layers, "fusion_coverage": round(self.fusion_coverage, 4),
                "eliminated_nodes": self.eliminated_nodes, "nodes": self.nodes, "findings": self.findings,
                "predicted_latency_ms": self.latency_ms, "latency_unknown_layers": self.latency_unknown_layers}


@dataclass
class FixReport:
    model: str
    output: str | None
    dry_run: bool
    changes: list[Change] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    before: EngineSummary | None = None
    after: EngineSummary | None = None
    checker: str = "not run"
    numeric: NumericCheck | None = None
    written: bool = False
    refused: str | None = None

    @property
    def resolved(self) -> dict[str, int]:
        """Findings the fix removed, by rule: how many fewer the fixed model has."""
        if self.before is None or self.after is None:
            return {}
        return {code: n - self.after.findings.get(code, 0) for code, n in sorted(self.before.findings.items())
                if self.after.findings.get(code, 0) < n}

    def to_json(self) -> dict[str, object]:
        return {"schema": "trtadvisor.fix/v1", "model": self.model, "output": self.output, "dry_run": self.dry_run,
                "written": self.written,
                "refused": self.refused, "changes": [c.to_json() for c in self.changes],
                "skipped": [s.to_json() for s in self.skips], "notes": self.notes, "checker": self.checker,
                "numeric": self.numeric.to_json() if self.numeric else None,
                "before": self.before.to_json() if self.before else None,
                "after": self.after.to_json() if self.after else None, "resolved": self.resolved}


def _summary(path: Path, target: dict[str, object]) -> EngineSummary:
    from trtadvisor.api import audit

    result = audit(path, **target)  # type: ignore[arg-type]
    prediction = result.prediction
    cost = getattr(result, "cost", None)
    latency = getattr(cost, "predicted_ms", None)
    return EngineSummary(layers=len(prediction.layers), fusion_coverage=prediction.coverage,
                         eliminated_nodes=len(prediction.eliminated), nodes=result.model.node_count,
                         findings=dict(sorted(Counter(f.rule for f in result.findings).items())),
                         latency_ms=latency if isinstance(latency, (int, float)) else None,
                         latency_unknown_layers=int(getattr(cost, "unknown", 0) or 0))


def _inputs_of(model: Path, proto: onnx.ModelProto) -> list[Path]:
    """The files the model consists of: itself and its external data files."""
    files = [model]
    for init in proto.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            for entry in init.external_data:
                if entry.key == "location":
                    files.append(model.parent / entry.value)
    return list(dict.fromkeys(files))


def _same(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _select(select: Sequence[str], ignore: Sequence[str]) -> list[Rewrite]:
    chosen = []
    for rewrite in all_rewrites():
        codes = rewrite.codes
        if select and not any(c.startswith(s) for c in codes for s in select) and rewrite.name not in select:
            continue
        if any(c.startswith(i) for c in codes for i in ignore) or rewrite.name in ignore:
            continue
        chosen.append(rewrite)
    return chosen


def fix_model(model: str | os.PathLike[str], output: str | os.PathLike[str] | None, *,
              select: Sequence[str] = (), ignore: Sequence[str] = (), dry_run: bool = False,
              target: dict[str, object] | None = None, verify_numerics: bool = True,
              report_path: str | os.PathLike[str] | None = None) -> FixReport:
    """Rewrite ``model`` into ``output`` (see the module docstring); every user error is a UserError."""
    from trtadvisor.ir.load import load_model

    target = target or {}
    source = Path(model)
    loaded = load_model(source, wait_for_shapes=True)  # the house's checks and errors for bad input
    missing = loaded.missing_external_data
    if loaded.outside_external_data:
        # fix reads and copies weights: a location outside the model's folder would make it read (and write
        # into the fixed model) a file the model chose elsewhere on the machine. Never looked up.
        raise UserError(f"{shown(source)}: external data location '{shown(loaded.outside_external_data[0], 80)}' "
                        "is outside the model's folder",
                        "keep the weight files beside the model (relative locations without '..'); fix reads "
                        "weights only from the model's folder")
    del loaded
    proto = onnx.load(str(source), load_external_data=False)
    inputs = _inputs_of(source, proto)
    out = Path(output) if output is not None else None
    if report_path is not None:
        for f in [*inputs, *([out] if out is not None else [])]:
            if _same(Path(report_path), f):
                raise UserError(f"--report {report_path} would overwrite {f}", "write the report to another file")
    if out is None and not dry_run:
        raise UserError("no output given", "pass -o OUT.onnx (the model is never rewritten in place)")
    if out is not None:
        data = out.with_name(out.name + ".data")
        for f in inputs:
            if _same(out, f) or _same(data, f):
                raise UserError(f"-o {out} would overwrite the input file {f}",
                                "write the fixed model to a new path; the input is never rewritten in place")
        if out.exists() and out.is_dir():
            raise UserError(f"-o {out} is a directory", "give a file path for the fixed model")
        if out.exists() and not out.is_file():
            # a device or FIFO would be replaced by the rename that writes the model (/dev/full included)
            raise UserError(f"-o {shown(out)} is not a regular file", "give a file path for the fixed model")
        if not out.parent.is_dir():
            raise UserError(f"-o {out}: folder {out.parent} does not exist", "create the folder or choose another")
    report = FixReport(model=str(source), output=str(out) if out else None, dry_run=dry_run)
    weights_present = not missing
    if not weights_present:
        report.notes.append(f"external weights {', '.join(missing)} are absent: rewrites that "
                            "read weight values are skipped and the outputs cannot be compared")
    report.before = _summary(source, target)
    work = Work(proto, source.parent, weights_present)
    for rewrite in _select(select, ignore):
        saved = onnx.ModelProto()
        saved.CopyFrom(work.proto)
        try:
            outcome = rewrite.apply(work)
        except Exception as exc:  # a rewrite that fails on this graph is skipped, the model as before it
            work.proto = saved
            work._ir = None
            report.skips.append(Skip(rewrite.name, rewrite.codes[0], (), f"failed on this graph "
                                     f"({type(exc).__name__}: {str(exc)[:160]})"))
            continue
        report.changes += outcome.changes
        report.skips += outcome.skips
    report.notes += work.notes
    if dry_run or out is None:
        return report
    if not report.changes:
        report.notes.append("no rewrite applies: nothing was written")
        return report
    _write_and_prove(report, work, source, inputs, out, verify_numerics)
    if report.written:
        report.after = _summary(out, target)
    return report


def _check_absent_external(inputs: list[Path], source: Path, out: Path) -> None:
    """Weights absent: ``out`` names the same files; none of that name may sit beside it already."""
    if out.parent.resolve() == source.parent.resolve():
        return
    for f in inputs[1:]:
        dest = out.parent / f.relative_to(source.parent)
        if not f.exists() and dest.exists():
            raise UserError(f"the model's absent weight file {f.name} exists beside {out} (another file)",
                            "write the fixed model to a folder without that file")


def _carry_external(proto: onnx.ModelProto, source_dir: Path, dest: Path) -> None:
    """Weights ``out`` still reads from the input's data files, streamed into ``dest`` (OUT.data).

    Used when OUT is in another folder: only the tensors the fixed model reads are copied, byte for
    byte in chunks (never decoded), so weights a rewrite replaced are not carried along.
    """
    from onnx.external_data_helper import _get_all_tensors

    placed: dict[tuple[str, int, int], int] = {}
    with dest.open("ab") as fh:
        for tensor in _get_all_tensors(proto):
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            info = {e.key: e.value for e in tensor.external_data}
            src = source_dir / info["location"]
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else src.stat().st_size - offset
            key = (info["location"], offset, length)
            if key not in placed:
                fh.seek(0, 2)
                fh.write(b"\0" * ((-fh.tell()) % 64))
                placed[key] = fh.tell()
                with src.open("rb") as data:
                    data.seek(offset)
                    left = length
                    while left:
                        chunk = data.read(min(left, 1 << 24))
                        if not chunk:
                            raise UserError(f"{src} is shorter than the model says", "re-export the model")
                        fh.write(chunk)
                        left -= len(chunk)
            del tensor.external_data[:]
            for k, v in (("location", dest.name), ("offset", str(placed[key])), ("length", str(length))):
                entry = tensor.external_data.add()
                entry.key, entry.value = k, v


def _new_tensors_external(proto: onnx.ModelProto, original_inline: set[str], location: str) -> None:
    """New or changed tensors of 1 KiB or more go to ``location``; what the input held inline stays inline,
    what it held externally stays in its file."""
    from onnx import numpy_helper
    from onnx.external_data_helper import _get_all_tensors, set_external_data

    for tensor in _get_all_tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or tensor.name in original_inline:
            continue
        if not tensor.HasField("raw_data"):
            array = numpy_helper.to_array(tensor)
            if array.nbytes < 1024:
                continue
            tensor.CopyFrom(numpy_helper.from_array(array, tensor.name))
        if len(tensor.raw_data) >= 1024:
            set_external_data(tensor, location)


def _identical(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def _write_and_prove(report: FixReport, work: Work, source: Path, inputs: list[Path], out: Path,
                     verify_numerics: bool) -> None:
    created: list[Path] = []
    tmp = out.with_name(f".{out.name}.tmp")
    data_name = out.name + ".data"
    try:
        proto = work.proto
        (out.parent / data_name).unlink(missing_ok=True)
        elsewhere = out.parent.resolve() != source.parent.resolve()
        if elsewhere and work.weights_present and len(inputs) > 1:
            created.append(out.parent / data_name)
            _carry_external(proto, source.parent, out.parent / data_name)
        elif elsewhere:
            _check_absent_external(inputs, source, out)
        if proto.ByteSize() > 1_900_000_000 and len(inputs) == 1:  # protobuf's 2 GB limit
            onnx.save_model(proto, str(tmp), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=data_name, size_threshold=1024)
        else:
            if len(inputs) > 1:
                _new_tensors_external(proto, work.original_inline, data_name)
            onnx.save_model(proto, str(tmp))
        if (out.parent / data_name).exists() and out.parent / data_name not in created:
            created.append(out.parent / data_name)
        created.append(tmp)
        problem = full_check(tmp, proto) if work.weights_present else full_check_without_weights(proto)
        if problem is not None:
            report.checker = f"failed: {problem}"
            report.refused = f"the result does not pass onnx.checker ({problem})"
            return
        report.checker = "passed (full check)"
        if not verify_numerics:
            report.numeric = NumericCheck(False, None, "not asked for")
        elif not work.weights_present:
            report.numeric = NumericCheck(False, None, "the model's external weights are absent")
        elif not onnxruntime_available():
            report.numeric = NumericCheck(False, None, "onnxruntime is not installed (pip install "
                                          "'trtadvisor[fix]')")
        else:
            from trtadvisor.ir.load import load_model

            # the house's loader: bounded shape inference (If nested deep is exponential in onnx's own)
            graph = load_model(source, wait_for_shapes=True).graph
            report.numeric = compare_outputs_bounded(source, tmp, graph)
            if report.numeric.ran and report.numeric.passed is False:
                report.refused = f"outputs differ from the original's: {report.numeric.reason}"
                return
        os.replace(tmp, out)
        created.remove(tmp)
        created.clear()
        report.written = True
    finally:
        for path in created:
            with contextlib.suppress(OSError):
                path.unlink()
