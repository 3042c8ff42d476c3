"""Hostile and broken inputs for every reader of trtadvisor, and a sandboxed way to run the CLI on them.

Each case is a command line plus the files it reads. The hostile ONNX models are built with
onnx.helper or by patching a real exported sample's bytes: no exporter writes a recursive local
function, a non-UTF-8 node name or If nested 24 deep, which is exactly what a pull request may carry.
The artifacts start from real TensorRT files under ../shared/data/trt-artifacts where one fits.

Used by tests/hostile/test_hostile.py (one test per class), tests/hostile/test_fuzz.py (seeded
mutations, bounded) and tests/hostile/campaign.py (the larger run outside the suite).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import onnx
from onnx import TensorProto, helper

REPO = Path(__file__).resolve().parents[2]
BASE_MODEL = REPO / "samples" / "cnn" / "resnet18.dynamo.opset18.onnx"
# Phi, dynamo export: its causal mask and gather indices are external data, in a small '.ints' file.
EXTERNAL_MASK_MODEL = REPO / "samples" / "wild" / "phi_dynamo_external_mask.onnx"
MEMORY_LIMIT = 2 << 30   # RLIMIT_AS of every CLI run: the issue's "2 GB"
TIME_LIMIT_S = 60.0


@dataclass
class Case:
    """One hostile invocation: ``argv`` after ``trtadvisor``; ``inputs`` must come out unchanged."""

    name: str
    argv: list[str]
    inputs: list[Path] = field(default_factory=list)
    codes: tuple[int, ...] = (0, 1, 2)      # the exit codes that are right for it
    stdout_to: str | None = None            # a device to send standard output to (e.g. /dev/full)
    expect_in_error: tuple[str, ...] = ()   # words the one-line error must contain (exit 2)


@dataclass
class Outcome:
    code: int | None          # None: killed at the time limit
    stdout: bytes
    stderr: str
    seconds: float
    changed: list[str]        # inputs whose bytes changed
    stdout_sha: str = ""
    stdout_utf8: bool = True
    peak_kb: int = 0          # the worker's resident high-water mark after this case
    children_peak_kb: int = 0  # the same for its forked children (shape inference)


# ---------------------------------------------------------------------------------------------------
# Running the CLI sandboxed: its own process, 2 GB of address space, a time limit, inputs hashed.

def _digest(path: Path) -> str | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return f"{st.st_mode:o}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_cli(case: Case, cwd: Path, timeout: float = TIME_LIMIT_S) -> Outcome:
    before = {str(p): _digest(p) for p in case.inputs}
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "100"}
    stdout = open(case.stdout_to, "wb") if case.stdout_to else subprocess.PIPE  # noqa: SIM115
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "trtadvisor", *case.argv], cwd=cwd, env=env,
                              stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE,
                              timeout=timeout, preexec_fn=_limits, check=False)
        code, out, err = proc.returncode, proc.stdout or b"", proc.stderr
    except subprocess.TimeoutExpired as exc:
        code, out, err = None, exc.stdout or b"", exc.stderr or b""
    finally:
        if case.stdout_to:
            stdout.close()  # type: ignore[union-attr]
    seconds = time.monotonic() - start
    changed = [p for p, digest in before.items() if _digest(Path(p)) != digest]
    return Outcome(code, out, err.decode("utf-8", "replace"), seconds, changed)


WORKER = Path(__file__).with_name("worker.py")


def run_worker(cases: Sequence[Case], cwd: Path, per_case: float = TIME_LIMIT_S,
               total: float = 600.0, hash_seed: int | None = None) -> dict[str, Outcome]:
    """Run ``cases`` through one sandboxed worker process (2 GB address space, ``per_case`` seconds
    each); a worker that dies (memory, a native crash) is restarted after the case that killed it.
    ``hash_seed`` fixes PYTHONHASHSEED: two runs with different seeds show output that depends on
    set or dict-of-str iteration order."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(WORKER.parent)]), "COLUMNS": "100"}
    if hash_seed is not None:
        env["PYTHONHASHSEED"] = str(hash_seed)
    outcomes: dict[str, Outcome] = {}
    pending = list(cases)
    deadline = time.monotonic() + total
    while pending:
        payload = json.dumps([{"name": c.name, "argv": c.argv, "inputs": [str(p) for p in c.inputs],
                               "stdout_to": c.stdout_to, "timeout": per_case} for c in pending])
        try:
            proc = subprocess.run([sys.executable, str(WORKER)], input=payload.encode(), cwd=cwd, env=env,
                                  capture_output=True, preexec_fn=_limits, check=False,
                                  timeout=max(deadline - time.monotonic(), 1.0))
            lines, died = proc.stdout.decode().splitlines(), f"worker exit {proc.returncode}: " + \
                proc.stderr.decode("utf-8", "replace")[-300:]
        except subprocess.TimeoutExpired as exc:
            lines, died = (exc.stdout or b"").decode().splitlines(), "overall time limit"
        for line in lines:
            r = json.loads(line)
            outcomes[r["name"]] = Outcome(r["code"], r["stdout_head"].encode(), r["stderr"], r["seconds"],
                                          r["changed"], r["stdout_sha"], r["stdout_utf8"], r["peak_kb"],
                                          r["children_peak_kb"])
        done = len(lines)
        if done < len(pending):  # the case after the last answer killed the worker
            victim = pending[done]
            outcomes[victim.name] = Outcome(-9, b"", f"Traceback: {died}", 0.0, [])
            if died == "overall time limit":
                for case in pending[done + 1:]:
                    outcomes[case.name] = Outcome(None, b"", "not run: overall time limit", 0.0, [])
                break
            pending = pending[done + 1:]
        else:
            pending = []
    return outcomes


def problems(case: Case, outcome: Outcome) -> list[str]:
    """What is wrong with an outcome: the issue's bar for every input."""
    found: list[str] = []
    if outcome.code is None:
        found.append(f"hang: killed after {outcome.seconds:.0f} s")
    elif outcome.code not in case.codes:
        found.append(f"exit {outcome.code}, expected one of {case.codes}")
    if "internal error" in outcome.stderr or "Traceback" in outcome.stderr:
        found.append("internal error: " + outcome.stderr.strip()[-300:])
    if "MemoryError" in outcome.stderr:
        found.append("memory")
    if outcome.code == 2:
        lines = outcome.stderr.splitlines()
        if len(lines) != 1 or "Hint:" not in lines[0] or not lines[0].startswith("error: "):
            found.append(f"not one line with a Hint: {outcome.stderr[:300]!r}")
        elif len(lines[0]) > 1300:  # UserError.one_line: 600 + 600 characters at most
            found.append(f"error line of {len(lines[0])} characters")
        for word in case.expect_in_error:
            if word not in outcome.stderr:
                found.append(f"error does not say {word!r}: {outcome.stderr[:300]!r}")
    if outcome.changed:
        found.append(f"inputs modified: {outcome.changed}")
    if not outcome.stdout_utf8:
        found.append("standard output is not valid UTF-8")
    return found


# ---------------------------------------------------------------------------------------------------
# Models

def base_model() -> onnx.ModelProto:
    return onnx.load(str(BASE_MODEL), load_external_data=False)


def _save(model: onnx.ModelProto | bytes, path: Path) -> Path:
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def _tiny(nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto], outputs: list[onnx.ValueInfoProto],
          inits: Sequence[TensorProto] = (), opset: int = 17, **kw: object) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)


def _vi(name: str, dims: Sequence[int | str] | None, elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, dims)


def non_utf8_names(path: Path) -> Path:
    """The real ResNet-18 with a node name and a tensor name of invalid UTF-8 (bytes patched in place)."""
    model = base_model()
    model.graph.node[3].name = "Q" * 12
    data = model.SerializeToString().replace(b"Q" * 12, b"\xff\xfe\x1b[31m\xc3(\x80\x80\x80")
    return _save(data, path)


def softmax_axis_string(path: Path) -> Path:
    node = helper.make_node("Softmax", ["x"], ["y"], axis="last")
    return _save(_tiny([node], [_vi("x", [1, 8])], [_vi("y", [1, 8])]), path)


def duplicated_attribute(path: Path) -> Path:
    node = helper.make_node("Softmax", ["x"], ["y"], axis=1)
    node.attribute.append(helper.make_attribute("axis", 0))
    return _save(_tiny([node], [_vi("x", [1, 8])], [_vi("y", [1, 8])]), path)


def recursive_function(path: Path) -> Path:
    body = helper.make_node("loop", ["a"], ["b"], domain="local")
    fn = helper.make_function("local", "loop", ["a"], ["b"], [body], [helper.make_opsetid("", 17)])
    call = helper.make_node("loop", ["x"], ["y"], domain="local")
    model = _tiny([call], [_vi("x", [1, 8])], [_vi("y", [1, 8])],
                  functions=[fn])
    model.opset_import.append(helper.make_opsetid("local", 1))
    return _save(model, path)


def external_location(path: Path, location: str) -> Path:
    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[8, 8])
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value=location)
    weight.external_data.add(key="length", value="256")
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    return _save(_tiny([node], [_vi("x", [1, 8])], [_vi("y", [1, 8])], [weight]), path)


def huge_name_scopes(path: Path) -> Path:
    """A dynamo-style name_scopes entry of 100,000 characters of nesting (ast.literal_eval's bane)."""
    model = base_model()
    for node in model.graph.node[:3]:
        node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value="[" * 100_000)
    model.graph.node[3].metadata_props.add(key="pkg.torch.onnx.name_scopes", value="['" + "a" * 200_000 + "']")
    return _save(model, path)


def constant_of_shape_mask(path: Path) -> Path:
    """An additive attention mask made by ConstantOfShape([1,1,65536,65536]): 16 GB if evaluated."""
    shape = helper.make_tensor("mask_shape", TensorProto.INT64, [4], [1, 1, 65536, 65536])
    fill = helper.make_tensor("fill", TensorProto.FLOAT, [1], [0.0])
    nodes = [
        helper.make_node("ConstantOfShape", ["mask_shape"], ["mask"], value=fill),
        helper.make_node("MatMul", ["q", "kt"], ["scores"]),
        helper.make_node("Add", ["scores", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["probs"], axis=-1),
        helper.make_node("MatMul", ["probs", "v"], ["out"]),
    ]
    inputs = [_vi("q", [1, 1, 65536, 64]), _vi("kt", [1, 1, 64, 65536]), _vi("v", [1, 1, 65536, 64])]
    return _save(_tiny(nodes, inputs, [_vi("out", [1, 1, 65536, 64])], [shape]), path)


def huge_range(path: Path) -> Path:
    """Range(0, 2**40, 1): shape inference with data propagation would materialise it."""
    consts = [helper.make_tensor(n, TensorProto.INT64, [], [v]) for n, v in (("s", 0), ("l", 2**40), ("d", 1))]
    nodes = [helper.make_node("Range", ["s", "l", "d"], ["r"]),
             helper.make_node("Shape", ["r"], ["n"]),
             helper.make_node("Reshape", ["x", "n"], ["y"])]
    return _save(_tiny(nodes, [_vi("x", [2**40])], [_vi("y", None)], consts), path)


def nested_if(path: Path, depth: int = 24) -> Path:
    """If nested ``depth`` deep, each branch holding the next level (a few KB of file)."""
    def level(d: int) -> onnx.GraphProto:
        if d == 0:
            leaf = helper.make_node("Identity", ["x"], [f"o{d}"])
            return helper.make_graph([leaf], f"leaf{d}", [], [_vi(f"o{d}", [1, 8])])
        leaf = helper.make_graph([helper.make_node("Identity", ["x"], [f"e{d}"])], f"else{d}", [],
                                 [_vi(f"e{d}", [1, 8])])
        node = helper.make_node("If", ["c"], [f"o{d}"], then_branch=level(d - 1), else_branch=leaf)
        return helper.make_graph([node], f"g{d}", [], [_vi(f"o{d}", [1, 8])])
    top = level(depth)
    model = _tiny(list(top.node), [_vi("c", [], TensorProto.BOOL), _vi("x", [1, 8])], [_vi(f"o{depth}", [1, 8])])
    return _save(model, path)


def unsorted_mask(path: Path) -> Path:
    """The ConstantOfShape([1,1,65536,65536]) mask model with its nodes in reverse order: the fix command's
    topological sort applies, so the fixed model is proved by running both in onnxruntime (16 GB)."""
    model = onnx.load(str(constant_of_shape_mask(path)))
    nodes = list(model.graph.node)[::-1]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return _save(model, path)


def data_dependent_range(path: Path) -> Path:
    """Range(0, (int(max|x|) + 1) * 2**31): no shape says how large it is until it runs (16 GB of int64
    in onnxruntime); nodes reversed so that fix's topological sort applies and the model is run."""
    nodes = [helper.make_node("Abs", ["x"], ["ax"]), helper.make_node("ReduceMax", ["ax"], ["m0"], keepdims=0),
             helper.make_node("Add", ["m0", "onef"], ["m1"]),
             helper.make_node("Cast", ["m1"], ["n"], to=TensorProto.INT64),
             helper.make_node("Mul", ["n", "big"], ["lim"]), helper.make_node("Range", ["zero", "lim", "one"], ["r"]),
             helper.make_node("ReduceSum", ["r"], ["y"], keepdims=0)]
    consts = [helper.make_tensor(name, TensorProto.INT64, [], [value])
              for name, value in (("big", 2**31), ("zero", 0), ("one", 1))]
    consts.append(helper.make_tensor("onef", TensorProto.FLOAT, [], [1.0]))
    return _save(_tiny(nodes[::-1], [_vi("x", [4])], [_vi("y", [], TensorProto.INT64)], consts), path)


def _wire_field(number: int, payload: bytes) -> bytes:
    """One length-delimited protobuf field, written by hand."""
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
            n >>= 7
            if not n:
                return bytes(out)
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def nested_control_flow(path: Path, ops: Sequence[str]) -> Path:
    """If/Loop bodies nested ``len(ops)`` deep (``ops[0]`` outermost), every level a valid body.

    Written as protobuf bytes by hand, innermost level first: protobuf itself cannot build (or parse)
    past about 32 levels, and a pull request can still carry such a file. Each If reads the outer ``c``
    and ``x``; each Loop runs ``M`` times with ``x`` as its carried value."""
    def body_head(d: int, parent: str) -> tuple[onnx.GraphProto, str]:
        """The body graph a ``parent`` node holds at level ``d`` (0: the innermost), output ``o{d}``."""
        if parent == "Loop":
            return helper.make_graph([helper.make_node("Identity", [f"ci{d}"], [f"co{d}"])], f"loop{d}",
                                     [_vi(f"i{d}", [], TensorProto.INT64), _vi(f"ci{d}", [], TensorProto.BOOL),
                                      _vi(f"v{d}", [1, 8])],
                                     [_vi(f"co{d}", [], TensorProto.BOOL), _vi(f"o{d}", [1, 8])]), f"v{d}"
        return helper.make_graph([], f"then{d}", [], [_vi(f"o{d}", [1, 8])]), "x"

    def node(d: int, out: str, body: bytes) -> bytes:
        op = ops[len(ops) - d]
        if op == "Loop":
            proto = helper.make_node("Loop", ["M", "c", "x"], [out])
        else:
            proto = helper.make_node("If", ["c"], [out], else_branch=helper.make_graph(
                [helper.make_node("Identity", ["x"], [f"e{d}"])], f"else{d}", [], [_vi(f"e{d}", [1, 8])]))
        attribute = helper.AttributeProto(name="body" if op == "Loop" else "then_branch",
                                          type=helper.AttributeProto.GRAPH)
        return proto.SerializeToString() + _wire_field(5, attribute.SerializeToString() + _wire_field(6, body))

    graph, carried = body_head(0, ops[-1])
    graph.node.append(helper.make_node("Identity", [carried], ["o0"]))
    body = graph.SerializeToString()
    for d in range(1, len(ops)):  # the node of level d holds the body of level d - 1
        head, _ = body_head(d, ops[len(ops) - d - 1])
        body = head.SerializeToString() + _wire_field(1, node(d, f"o{d}", body))
    top = helper.make_graph([], "top", [_vi("c", [], TensorProto.BOOL), _vi("x", [1, 8]),
                                        _vi("M", [], TensorProto.INT64)], [_vi("y", [1, 8])])
    model = helper.make_model(helper.make_graph([], "unused", [], []), opset_imports=[helper.make_opsetid("", 17)])
    model.ClearField("graph")
    graph_bytes = top.SerializeToString() + _wire_field(1, node(len(ops), "y", body))
    return _save(model.SerializeToString() + _wire_field(7, graph_bytes), path)


# ---------------------------------------------------------------------------------------------------
# Artifacts: layer info, profile, timing, logs, configs, baselines

ARTIFACTS = REPO.parent / "shared" / "data" / "trt-artifacts"
REAL_LAYER_INFO = ARTIFACTS / "trt2023-controlnet" / "controlnet.b3d06c8.layerinfo.json"
REAL_PROFILE = ARTIFACTS / "trt2023-controlnet" / "controlnet.b3d06c8.profile.json"
REAL_TIMING = ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.timing.json"
REAL_LOG = ARTIFACTS / "trt2022-levit" / "levit128S.trtexec-dumpProfile-verbose.log"

_LAYER = {"Name": "conv1", "LayerType": "CaskConvolution",
          "Inputs": [{"Name": "x", "Location": "Device", "Dimensions": [1, 3, 8, 8], "Format/Datatype": "Float"}],
          "Outputs": [{"Name": "y", "Location": "Device", "Dimensions": [1, 8, 8, 8], "Format/Datatype": "Float"}],
          "TacticValue": "0x1", "Metadata": "[ONNX Layer: /conv1/Conv]"}


def layer_info_with(**fields: object) -> str:
    return json.dumps({"Layers": [{**_LAYER, **fields}], "Bindings": ["x", "y"]})


def hostile_layer_infos() -> dict[str, str]:
    digits = "9" * 5000
    return {
        "li_huge_int": layer_info_with().replace("[1, 3, 8, 8]", f"[1, {digits}, 8, 8]"),
        "li_deep": '{"Layers": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "li_infinity": layer_info_with().replace("[1, 3, 8, 8]", "[1, Infinity, NaN, -Infinity]"),
        "li_name_number": layer_info_with(Name=5, LayerType=7),
        "li_inputs_string": layer_info_with(Inputs="x", Outputs={"a": 1}),
        "li_dims_string": layer_info_with(Inputs=[{"Name": "x", "Dimensions": "1x3"}]),
        "li_metadata_list": layer_info_with(Metadata=["a"], StreamId="zz", Origin=3, TacticName=[1]),
        "li_layers_dict": json.dumps({"Layers": {"a": 1}}),
        "li_bindings_nested": json.dumps({"Layers": ["a", "b"], "Bindings": [{"x": [1]}, None]}),
        "li_float_dims": layer_info_with().replace("[1, 3, 8, 8]", "[1.5e308, 3e400, 1e-400, -0.0]"),
        "li_huge_float": layer_info_with().replace("[1, 3, 8, 8]", f"[1{'0' * 400}.5]"),
        "li_oneline_long": "Layers:\nName: " + "a" * 200_000 + ", LayerType: Conv, Inputs: [ { Name: "
                           + "x, " * 50_000 + "}]\n",
        "li_engine_line_long": "Engine Layer Information:\nLayer(Conv): n, Tactic: 0x1, "
                               + "a (Float[1,2]), " * 20_000 + "b (" * 20_000 + " -> c\n",
    }


def hostile_profiles() -> dict[str, str]:
    rec = {"name": "conv1", "timeMs": 1.0, "averageMs": 0.1, "medianMs": 0.1, "percentage": 50.0}
    return {
        "pr_count_str": json.dumps([{"count": "1.5"}, rec]),
        "pr_count_huge": json.dumps([{"count": 10**400}, rec]).replace("1" + "0" * 400, "9" * 5000),
        "pr_count_inf": json.dumps([{"count": float("inf")}, rec]),
        "pr_name_list": json.dumps([{"count": 10}, {**rec, "name": ["a"]}]),
        "pr_avg_str": json.dumps([{"count": 10}, {**rec, "averageMs": "banana", "timeMs": [1]}]),
        "pr_nan": json.dumps([{"count": 10}, {**rec, "averageMs": float("nan"), "percentage": float("inf")}]),
        "pr_deep": "[" * 100_000,
        "pr_iprofiler_long": "Timing: " + "1" * 100_000 + "us ->" + " " * 100_000 + "\n",
    }


def hostile_timings() -> dict[str, str]:
    return {
        "ti_str": json.dumps([{"latencyMs": "x", "computeMs": [1], "startEnqMs": {}, "endEnqMs": None}]),
        "ti_huge_int": '[{"latencyMs": ' + "9" * 5000 + "}]",
        "ti_nan": json.dumps([{"latencyMs": float("nan"), "computeMs": float("inf")}]),
        "ti_overflow": json.dumps([{"latencyMs": 1e308, "computeMs": 1e308}, {"latencyMs": 1e308}] * 3),
        "ti_deep": '[{"latencyMs": ' + "[" * 50_000 + "]" * 50_000 + "}]",
    }


def hostile_logs() -> dict[str, str]:
    pre = "[11/30/2026-10:00:00] [I] "
    long = "x" * 200_000
    return {
        "log_banana": f"{pre}=== Performance summary ===\n{pre}Throughput: banana qps\n"
                      f"{pre}Latency: min = nan ms, max = 1e999 ms, mean = - ms\n"
                      f"{pre}Total Host Walltime: 3.x s\n",
        "log_capability": f"{pre}Selected Device: A100\n{pre}Compute Capability: \u00b2.0\n"
                          f"{pre}TensorRT version: 99999999999999999999999999\n",
        "log_version_tag": "&&&& RUNNING TensorRT.trtexec [TensorRT v" + "9" * 30 + "] # trtexec\n"
                           "&&&& RUNNING TensorRT.trtexec [TensorRT v0000] # trtexec\n",
        "log_fusion_long": f"{pre}[V] [TRT] ConvReluFusion: Fusing " + (long + " with ") * 3 + "\n"
                           + f"[V] {long}] a: Fusing " * 2 + "\n",
        "log_fusion_spaces": "] a: Fusing " + "b with " * 30_000 + " " * 100_000 + "x\n",
        "log_profile_long": f"{pre}=== Profile (10 iterations ) ===\n{pre}   Time(ms)     Avg. Time(ms)   Median\n"
                            + pre + "1 " * 100_000 + "x\n",
        "log_profile_long_old": f"{pre}=== Profile (10 iterations ) ===\n{pre}Layer   Time (ms)   Avg. Time (ms)\n"
                                + pre + "a " + "1 " * 100_000 + "x\n",
        "log_iprofiler_long": "Timing: " + "1." * 100_000 + "\n" + "layer " + "1" * 100_000 + " us-> \n",
        "log_tensor_long": "Engine Layer Information:\nLayer(Conv): n, Tactic: 0x1, "
                           + "a (" * 60_000 + "Float[1,2])" + " -> c (Half[1])\n",
        "log_option_long": f"{pre}=== Build Options ===\n{pre}A" + " " * 200_000 + "x\n",
        "log_old_tensor_long": "Engine Layer Information:\nLayer(Conv): n, Tactic: 0x1, "
                               + "a[" * 60_000 + "Float(1,2)]" + " -> c[Half(1)]\n",
    }


def hostile_configs() -> dict[str, tuple[str, str]]:
    """name -> (file name, text)."""
    deep = "[tool.black]\nx = " + "[" * 10_000 + "]" * 10_000 + "\n[tool.trtadvisor]\nfail-on = \"error\"\n"
    return {
        "cfg_tool_string": ("pyproject.toml", 'tool = "x"\n'),
        "cfg_trt_string": ("pyproject.toml", 'tool = {trtadvisor = "x"}\n'),
        "cfg_deep_black": ("pyproject.toml", deep),
        "cfg_deep_own": ("trtadvisor.toml", "select = " + "[" * 10_000 + "]" * 10_000 + "\n"),
        "cfg_inline_deep": ("trtadvisor.toml", "x = " + "{a = " * 5_000 + "1" + "}" * 5_000 + "\n"),
        "cfg_severity_types": ("trtadvisor.toml", "[severity]\nTRT204 = 3\nTRT101 = [\"warning\"]\n"),
        "cfg_per_node": ("trtadvisor.toml", "[per-node-ignores]\n\"*\" = [1, {a = 2}]\n"),
        "cfg_bad_utf8": ("trtadvisor.toml", "trt = \"\udcff\"\n"),
        "cfg_huge_int": ("trtadvisor.toml", "sm = " + "9" * 5000 + "\n"),
        "cfg_sm_float": ("trtadvisor.toml", "sm = 8.9e999\n"),
        "cfg_shapes_huge": ("trtadvisor.toml", "shapes = \"x:" + "9" * 5000 + "x3\"\n"),
    }


def hostile_baselines() -> dict[str, str]:
    schema = "trtadvisor.baseline/v1"
    return {
        "bl_huge_count": '{"schema": "' + schema + '", "findings": [{"fingerprint": "a", "count": '
                         + "9" * 5000 + "}]}",
        "bl_count_str": json.dumps({"schema": schema, "findings": [{"fingerprint": "a", "count": "x"}]}),
        "bl_count_huge_int": json.dumps({"schema": schema, "findings": [{"fingerprint": "a", "count": 10**300}]}),
        "bl_deep": '{"schema": "' + schema + '", "findings": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "bl_nan": '{"schema": "' + schema + '", "findings": [{"fingerprint": "a", "count": NaN}]}',
        "bl_findings_str": json.dumps({"schema": schema, "findings": "x"}),
        "bl_bytes": "\udcff",
    }


def write_text(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


# ---------------------------------------------------------------------------------------------------
# The catalogue: every class of the issue as cases

def _special(kind: str, path: Path) -> Path | None:
    """A FIFO, a directory, a symlink loop or a device at ``path`` (None where not possible)."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "loop":
        os.symlink(path.name, path)
    elif kind == "zero":
        return Path("/dev/zero")
    elif kind == "null":
        return Path("/dev/null")
    return path


def catalogue(tmp: Path) -> list[Case]:
    """Every class the issue lists, as cases under ``tmp`` (files are created there)."""
    tmp.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    model = _save(base_model(), tmp / "model.onnx")
    other = _save(base_model(), tmp / "other.onnx")
    nc = "--no-config"

    def audit(name: str, path: Path, *extra: str, codes: tuple[int, ...] = (0, 1, 2),
              words: tuple[str, ...] = ()) -> None:
        cases.append(Case(name, ["audit", str(path), "--format", "json", nc, *extra], [path], codes,
                          expect_in_error=words))

    # models
    for name, make in (("non_utf8_names", non_utf8_names), ("softmax_axis_string", softmax_axis_string),
                       ("duplicated_attribute", duplicated_attribute), ("recursive_function", recursive_function),
                       ("huge_name_scopes", huge_name_scopes), ("constant_of_shape_mask", constant_of_shape_mask),
                       ("huge_range", huge_range), ("nested_if", nested_if)):
        audit(name, make(tmp / f"{name}.onnx"))
    for depth in (20, 33, 40, 200):
        ops = ["If", "Loop"] * depth
        audit(f"nested_mixed_{depth}", nested_control_flow(tmp / f"nested_{depth}.onnx", ops[:depth]),
              codes=(0, 1) if depth < 32 else (2,), words=() if depth < 32 else ("nested",))
    audit("external_long_location", external_location(tmp / "ext_long.onnx", "w" * 5000 + ".data"))
    audit("external_outside", external_location(tmp / "ext_out.onnx", "../../../../etc/passwd"))
    audit("external_absolute", external_location(tmp / "ext_abs.onnx", "/etc/shadow"))
    audit("external_nul", external_location(tmp / "ext_nul.onnx", "a\x00b.data"))
    # A model whose small external tensors (the attention mask the analysis reads) are in a file that is
    # not a regular file: a FIFO must not hang the audit, a device must not feed it endless bytes.
    for kind in ("fifo", "dir", "zero"):
        folder = tmp / f"ext_mask_{kind}"
        folder.mkdir()
        masked = _save(EXTERNAL_MASK_MODEL.read_bytes(), folder / EXTERNAL_MASK_MODEL.name)
        data = folder / (EXTERNAL_MASK_MODEL.name + ".ints")
        special = _special(kind, data)
        if special is not None and special != data:
            os.symlink(special, data)
        audit(f"external_mask_{kind}", masked, codes=(0, 1))
    trunc = _save(BASE_MODEL.read_bytes()[:20_000], tmp / "truncated.onnx")
    audit("truncated_model", trunc, codes=(2,))
    odd = tmp / "m\udcff.onnx"
    _save(base_model(), Path(os.fsdecode(os.fsencode(odd))))
    audit("non_utf8_path", odd)
    for kind in ("fifo", "dir", "loop", "zero", "null"):
        special = _special(kind, tmp / f"special_{kind}.onnx")
        if special is not None:
            cases.append(Case(f"model_{kind}", ["audit", str(special), "--format", "json", nc], [], (2,)))
    # artifacts: each to its own flag, with the model (audit) and alone (engine)
    groups = (("--layer-info", hostile_layer_infos()), ("--profile", hostile_profiles()),
              ("--timing", hostile_timings()), ("--log", hostile_logs()))
    for flag, texts in groups:
        for name, text in texts.items():
            path = write_text(tmp / f"{name}.txt", text)
            cases.append(Case(f"engine_{name}", ["engine", flag, str(path), "--format", "json"], [path]))
        for kind in ("fifo", "dir", "loop", "zero"):
            special = _special(kind, tmp / f"{flag[2:]}_{kind}")
            if special is not None:
                cases.append(Case(f"engine{flag}_{kind}", ["engine", flag, str(special), "--format", "json"], [], (2,)))
                audit(f"audit{flag}_{kind}", model, flag, str(special), codes=(2,))
    for name, (file_name, text) in hostile_configs().items():
        folder = tmp / name
        folder.mkdir()
        cfg = write_text(folder / file_name, text)
        m = _save(base_model(), folder / "m.onnx")
        cases.append(Case(name, ["audit", str(m), "--format", "json"], [cfg, m]))
        cases.append(Case(name + "_flag", ["audit", str(m), "--format", "json", "--config", str(cfg)], [cfg, m]))
    for kind in ("fifo", "dir", "zero"):
        special = _special(kind, tmp / f"config_{kind}.toml")
        if special is not None:
            cases.append(Case(f"config_{kind}", ["audit", str(model), "--format", "json", "--config", str(special)],
                              [model], (2,)))
    for name, text in hostile_baselines().items():
        path = write_text(tmp / f"{name}.json", text)
        audit(name, model, "--baseline", str(path))
        cases[-1].inputs.append(path)
    for kind in ("fifo", "dir", "loop", "zero"):
        special = _special(kind, tmp / f"baseline_{kind}.json")
        if special is not None:
            audit(f"baseline_{kind}", model, "--baseline", str(special), codes=(2,))
    # command lines
    long_arg = "A" * 10_000
    cases += [
        Case("no_arguments", [], [], (2,), expect_in_error=("usage",)),
        Case("shapes_huge", ["audit", str(model), nc, "--shapes", "x:99999999999999999999x3x32x32"], [model], (2,)),
        Case("shapes_digits", ["audit", str(model), nc, "--shapes", "x:" + "9" * 5000], [model], (2,)),
        Case("shapes_negative", ["audit", str(model), nc, "--shapes", "x:-5x3x32x32"], [model], (2,)),
        Case("shapes_long", ["audit", str(model), nc, "--shapes", long_arg], [model], (2,)),
        Case("select_long", ["audit", str(model), nc, "--select", long_arg], [model], (2,)),
        Case("trt_long", ["audit", str(model), nc, "--trt", long_arg], [model], (2,)),
        Case("gpu_long", ["audit", str(model), nc, "--gpu", long_arg], [model], (2,)),
        Case("explain_long", ["explain", long_arg], [], (2,)),
        Case("model_long", ["audit", "/" + long_arg, nc], [], (2,)),
        Case("max_layers_huge", ["audit", str(model), nc, "--max-layers", "9" * 5000], [model], (0, 1, 2)),
        Case("source_root_long", ["audit", str(model), nc, "--format", "sarif", "--source-root", long_arg],
             [model], (2,)),
    ]
    # fix: runs the model in onnxruntime to prove a rewrite, and writes a model
    fix_dir = tmp / "fix"
    fix_dir.mkdir()
    for name, make in (("unsorted_mask", unsorted_mask), ("data_dependent_range", data_dependent_range),
                       ("nested_if", nested_if), ("huge_range", huge_range), ("constant_of_shape_mask",
                                                                              constant_of_shape_mask)):
        source = make(fix_dir / f"{name}.onnx")
        cases.append(Case(f"fix_{name}", ["fix", str(source), "-o", str(fix_dir / f"{name}.fixed.onnx")],
                          [source], (0, 1, 2)))
    outside = external_location(fix_dir / "ext_out.onnx", "../../../../etc/passwd")
    cases.append(Case("fix_external_outside", ["fix", str(outside), "-o", str(tmp / "ext_fixed.onnx")], [outside],
                      (2,), expect_in_error=("outside",)))
    fix_model = _save(base_model(), fix_dir / "m.onnx")
    for label, extra in (("config", ["-o", str(fix_dir / "pyproject.toml")]),
                         ("report_config", ["--dry-run", "--report", str(fix_dir / "trtadvisor.toml")]),
                         ("model", ["-o", str(fix_model)]), ("report_model", ["--dry-run", "--report", str(fix_model)]),
                         ("dev_full", ["-o", "/dev/full"]), ("dev_null", ["-o", "/dev/null"])):
        # the devices count as inputs: replacing one by a regular file is a modified input
        devices = [Path(a) for a in extra if a.startswith("/dev/")]
        cases.append(Case(f"fix_overwrite_{label}", ["fix", str(fix_model), *extra], [fix_model, *devices], (2,)))
    # outputs: never an input of the same run, never a configuration file (each case its own copies,
    # so that a failure to protect one cannot spoil the others)
    layer_info = write_text(tmp / "L.json", layer_info_with())
    out_dir = tmp / "outputs"
    out_dir.mkdir()
    counter = iter(range(1000))

    def fresh() -> Path:
        return _save(base_model(), out_dir / f"m{next(counter)}.onnx")

    for fmt in ("json", "html"):
        m = fresh()
        cases.append(Case(f"overwrite_model_{fmt}", ["audit", str(m), nc, "--format", fmt, "-o", str(m)],
                          [m], (2,), expect_in_error=(str(m),)))
    cases += [
        Case("overwrite_write_baseline", ["audit", str(m := fresh()), nc, "--write-baseline", str(m)], [m], (2,)),
        Case("overwrite_diff", ["diff", str(m := fresh()), str(other), nc, "-o", str(m)], [m, other], (2,)),
        Case("overwrite_engine", ["engine", "--layer-info", str(layer_info), "-o", str(layer_info)], [layer_info],
             (2,)),
        Case("overwrite_config", ["audit", str(model), nc, "-o", str(tmp / "trtadvisor.toml")], [model], (2,),
             expect_in_error=("trtadvisor.toml",)),
        Case("overwrite_pyproject", ["audit", str(model), nc, "-o", str(tmp / "pyproject.toml")], [model], (2,)),
        Case("overwrite_link", ["audit", str(m := fresh()), nc, "-o", str(_link(tmp / "link.onnx", m))], [m], (2,)),
        Case("overwrite_baseline_same", ["audit", str(model), nc, "-o", str(tmp / "b.json"), "--write-baseline",
                                         str(tmp / "b.json")], [model], (2,)),
        Case("output_dev_full", ["audit", str(model), nc, "--format", "json", "-o", "/dev/full"], [model], (2,)),
        Case("stdout_dev_full", ["rules"], [], (2,), stdout_to="/dev/full"),
        Case("audit_stdout_dev_full", ["audit", str(model), nc, "--format", "json"], [model], (2,),
             stdout_to="/dev/full"),
        Case("output_dir", ["audit", str(model), nc, "-o", str(tmp)], [model], (2,)),
        Case("output_missing_dir", ["audit", str(model), nc, "-o", str(tmp / "no" / "r.json")], [model], (2,)),
    ]
    return cases


def _link(link: Path, target: Path) -> Path:
    os.symlink(target, link)
    return link


MAKERS: dict[str, Callable[[Path], Path]] = {
    "non_utf8_names": non_utf8_names, "softmax_axis_string": softmax_axis_string,
    "duplicated_attribute": duplicated_attribute, "recursive_function": recursive_function,
    "huge_name_scopes": huge_name_scopes, "constant_of_shape_mask": constant_of_shape_mask,
    "huge_range": huge_range, "nested_if": nested_if,
}
