"""The proof that goes with every fix: the full ONNX check, and the same outputs in onnxruntime.

Both models run on the same seeded random inputs: floats from N(0, 1); integers that index a table
(a Gather's indices) uniform below the table's length, other integers 1 (masks: every position
attends); booleans true. Dynamic dimensions are 1. Outputs must agree within
``|fixed - original| <= rtol * |original| + atol * max|original|`` (atol relative to the output's
largest magnitude, so a softmax of 1000 classes is held as tightly as a hidden state), with NaN
exactly where the original has NaN.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import select
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from trtadvisor.forked import fork_writer
from trtadvisor.ir.graph import Graph

SEED = 0
# Tolerances by output element type: the rewrites reorder float arithmetic (a fused LayerNorm, a
# folded BatchNorm), so results differ in the last bits, never by more than rounding.
TOLERANCES = {"float32": (1e-3, 1e-4), "float64": (1e-6, 1e-8), "float16": (1e-2, 1e-2),
              "bfloat16": (2e-2, 2e-2)}


@dataclass
class NumericCheck:
    ran: bool
    passed: bool | None
    reason: str = ""
    outputs: list[dict[str, object]] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"ran": self.ran, "passed": self.passed, "reason": self.reason, "outputs": self.outputs,
                "seed": SEED, "tolerance": {k: {"rtol": r, "atol": a} for k, (r, a) in TOLERANCES.items()}}


def full_check(path: Path | None, proto: onnx.ModelProto) -> str | None:
    """None when ``onnx.checker`` (full check: strict shape inference too) accepts the model, else why not."""
    try:
        if path is not None:
            onnx.checker.check_model(str(path), full_check=True)
        else:
            onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return first[:300]
    return None


def full_check_without_weights(proto: onnx.ModelProto) -> str | None:
    """The full check of a model whose external weights are absent.

    The checker insists that every external data file exists as a regular file holding the tensor's
    bytes; the model is checked in a temporary folder beside sparse placeholder files of the right
    sizes (no disk, no memory), so everything but the weight values is checked.
    """
    import tempfile

    from onnx.external_data_helper import _get_all_tensors

    sizes: dict[str, int] = {}
    for tensor in _get_all_tensors(proto):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in tensor.external_data}
            end = int(info.get("offset", 0)) + int(info.get("length", 0))
            sizes[info["location"]] = max(sizes.get(info["location"], 0), end)
    with tempfile.TemporaryDirectory(prefix="trtadvisor-fix-") as folder:
        for location, size in sizes.items():
            placeholder = Path(folder) / location
            if placeholder.resolve().parent != Path(folder).resolve():
                return f"external data location '{location}' is outside the model's folder"
            with placeholder.open("wb") as fh:
                fh.truncate(size)
        model = Path(folder) / "model.onnx"
        onnx.save_model(proto, str(model))
        return full_check(model, proto)


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _index_bounds(graph: Graph) -> dict[str, int]:
    """Integer inputs used as Gather indices, and the length of the smallest table they index."""
    bounds: dict[str, int] = {}
    for name in graph.inputs:
        for reader in graph.consumers(name):
            if reader.op in ("Gather", "GatherElements") and reader.input(1) == name:
                shape = graph.shape(reader.inputs[0])
                axis = reader.attr("axis", 0)
                if shape and isinstance(shape[axis], int):
                    bounds[name] = min(bounds.get(name, shape[axis]), shape[axis])
    return bounds


def random_inputs(session, graph: Graph) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(SEED)
    bounds = _index_bounds(graph)
    feeds: dict[str, np.ndarray] = {}
    types = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
             "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_,
             "tensor(int8)": np.int8, "tensor(uint8)": np.uint8}
    for meta in session.get_inputs():
        shape = [d if isinstance(d, int) and d >= 0 else 1 for d in meta.shape]
        dtype = types.get(meta.type)
        if dtype is None:
            raise ValueError(f"input '{meta.name}' has type {meta.type}")
        if np.issubdtype(dtype, np.floating):
            feeds[meta.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype is np.bool_:
            feeds[meta.name] = np.ones(shape, dtype=bool)
        elif meta.name in bounds:
            feeds[meta.name] = rng.integers(0, max(bounds[meta.name], 1), size=shape).astype(dtype)
        else:
            feeds[meta.name] = np.ones(shape, dtype=dtype)
    return feeds


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # fatal only: a failing kernel is reported in the verdict, not on stderr
    options.intra_op_num_threads = 2
    # Each model runs as written: no runtime fusion may hide (or cause) a difference.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def compare_outputs(original: Path, fixed: Path, graph: Graph) -> NumericCheck:
    try:
        before = _session(original)
    except Exception as exc:
        return NumericCheck(False, None, f"onnxruntime cannot load the original model ({_first(exc)})")
    try:
        feeds = random_inputs(before, graph)
        expected = before.run(None, feeds)
    except Exception as exc:
        return NumericCheck(False, None, f"onnxruntime cannot run the original model ({_first(exc)})")
    try:
        got = _session(fixed).run(None, feeds)
    except Exception as exc:
        return NumericCheck(True, False, f"onnxruntime cannot run the fixed model ({_first(exc)})")
    names = [o.name for o in before.get_outputs()]
    check = NumericCheck(True, True)
    for name, want, have in zip(names, expected, got, strict=False):
        want, have = np.asarray(want), np.asarray(have)
        entry: dict[str, object] = {"name": name, "shape": list(want.shape), "dtype": str(want.dtype)}
        if want.shape != have.shape or want.dtype != have.dtype:
            entry["max_abs_diff"] = None
            check.passed = False
            check.reason = f"output '{name}' changed shape or type"
        elif want.dtype.kind in "fc":
            rtol, atol = TOLERANCES.get(str(want.dtype), (1e-3, 1e-4))
            w64, h64 = want.astype(np.float64), have.astype(np.float64)
            same_nan = np.array_equal(np.isnan(w64), np.isnan(h64))
            finite = np.isfinite(w64)
            diff = np.abs(w64 - h64)[finite]
            entry["max_abs_diff"] = float(diff.max()) if diff.size else 0.0
            entry.update(rtol=rtol, atol=atol)
            scale = float(np.abs(w64[finite]).max()) if finite.any() else 1.0
            if not same_nan or not np.allclose(h64, w64, rtol=rtol, atol=atol * scale, equal_nan=True):
                check.passed = False
                check.reason = f"output '{name}' differs by up to {entry['max_abs_diff']:.3g}"
        else:
            equal = bool(np.array_equal(want, have))
            entry["max_abs_diff"] = 0.0 if equal else None
            if not equal:
                check.passed = False
                check.reason = f"output '{name}' differs"
        check.outputs.append(entry)
    return check


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


# --------------------------------------------------------------------------------------------------
# Running a model from a pull request is running untrusted input: a ConstantOfShape of 2**32 elements
# or a Range to 2**40 allocates what it says. The comparison is skipped when the model's known tensor
# sizes are already too large, and otherwise runs in a forked child with an address-space limit and a
# time limit, so an allocation or a loop that the shapes did not show ends the child, not this process.
_MAX_TENSOR_BYTES = 4 << 30     # sum of every known tensor at the inputs' smallest shapes
_CHILD_EXTRA_BYTES = 6 << 30    # address space the child may add to what it inherited
VERIFY_TIMEOUT_S = 300.0


def known_tensor_bytes(graph: Graph) -> int:
    """Bytes of every value of the main graph whose shape is known (a symbolic dimension counts 1,
    as the random inputs use), stopping once past the bound."""
    total = 0
    for node in graph.nodes:
        for name in node.outputs:
            shape = graph.shape(name) if name else None
            if not shape:
                continue
            count = 1
            for d in shape:
                count *= d if isinstance(d, int) and d > 0 else 1
            total += count * 4
            if total > _MAX_TENSOR_BYTES:
                return total
    return total


def _virtual_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def compare_outputs_bounded(original: Path, fixed: Path, graph: Graph,
                            timeout: float = VERIFY_TIMEOUT_S) -> NumericCheck:
    """:func:`compare_outputs` within bounds of memory and time (see above); fork where it exists."""
    need = known_tensor_bytes(graph)
    if need > _MAX_TENSOR_BYTES:
        return NumericCheck(False, None, f"not run: the model's tensors would take more than "
                                         f"{_MAX_TENSOR_BYTES >> 30} GB at its smallest input shapes")
    if not hasattr(os, "fork"):
        return compare_outputs(original, fixed, graph)

    def verdict() -> bytes:  # in the child: compare within the memory bound, the verdict as JSON
        import resource

        limit = _virtual_bytes() + _CHILD_EXTRA_BYTES + 2 * need
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)  # a limit set by the caller already (a sandbox) stays the cap
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        check = compare_outputs(original, fixed, graph)
        return json.dumps({"ran": check.ran, "passed": check.passed, "reason": check.reason,
                           "outputs": check.outputs}).encode()

    pid, read_end = fork_writer(verdict)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    timed_out = False
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                timed_out = True
                break
            chunk = os.read(pipe.fileno(), 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return NumericCheck(False, None, f"onnxruntime did not finish within {timeout:.0f} s")
    try:
        data = json.loads(b"".join(chunks))
    except ValueError:
        return NumericCheck(False, None, "onnxruntime ran out of the memory or time given to it "
                                         f"(exit status {status})")
    return NumericCheck(bool(data["ran"]), data["passed"], str(data["reason"]), list(data["outputs"]))
