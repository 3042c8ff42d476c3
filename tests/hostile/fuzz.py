"""Seeded mutations of real models and TensorRT artifacts, as CLI cases for the sandboxed worker.

Seeds are real files: exported samples from samples/ and TensorRT artifacts from
../shared/data/trt-artifacts (read, never copied into the repository). Mutations are byte-level
(truncation, bit flips, inserted/deleted/duplicated chunks, hostile tokens spliced in) and structural
(a JSON value replaced by one of another type or an extreme number; an ONNX field set to a hostile
value). Command lines are drawn from the real flags with hostile values.

``fuzz_cases(tmp, seed, count)`` is deterministic for a seed: the suite runs a small fixed set
(tests/hostile/test_fuzz.py); tests/hostile/campaign.py runs hundreds with fresh seeds.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import onnx
from onnx import helper

from hostile.hostile_inputs import ARTIFACTS, REPO, Case, write_text

MODELS = [REPO / "samples/cnn/resnet18.dynamo.opset18.onnx",
          REPO / "samples/transformers/bert_eager.torchscript.opset17.onnx",
          REPO / "samples/qdq/resnet18_qat.onnx"]
LAYER_INFOS = [ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.graph.json",
               ARTIFACTS / "trt-cookbook/trt10.16.1/model-trained-exportLayerInfo.json",
               ARTIFACTS / "trt-cookbook/trt10.16.1/EngineInspector-python-oneline.log"]
PROFILES = [ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.profile.json",
            ARTIFACTS / "trt-cookbook/trt10.16.1/IProfiler-python.log"]
TIMING = ARTIFACTS / "trex/examples/pytorch/resnet/A100/fp32/resnet.onnx.engine.timing.json"
LOGS = [ARTIFACTS / "trt-cookbook/trt10.16.1/result-05-dumpProfile.log",
        ARTIFACTS / "trt-cookbook/trt10.16.1/result-04-dumpLayerInfo.log",
        ARTIFACTS / "trt-cookbook/trt10.16.1/result-03-inference-cudagraph.log"]
CONFIG = b"""[tool.trtadvisor]
trt = "10.8"
gpu = "L4"
precision = "fp16"
fail-on = "warning"
select = ["TRT1", "TRT2"]
ignore = ["TRT109"]
[tool.trtadvisor.severity]
TRT204 = "warning"
[tool.trtadvisor.per-node-ignores]
"/layer1/*" = ["TRT101"]
"""
BASELINE = {"schema": "trtadvisor.baseline/v1", "model": "m.onnx", "findings": [
    {"fingerprint": "0123456789abcdef0123", "rule": "TRT001", "ops": ["Conv"], "scopes": ["conv1"], "count": 1,
     "example": "external weight file(s) absent"}]}

# Tokens that broke readers before (issue 15) and their relatives.
HOSTILE_TOKENS = [b"9" * 5000, b"-" + b"9" * 30, b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"1.5",
                  b"[" * 3000, b"{" * 3000, b'"' * 50, b"\\", b"\\u0000", b"\xff\xfe\xfd", b"\xc3(", b"\x00",
                  b"\x1b[31m", b"\xe2\x80\xae", b"\n" * 50, b"x" * 100_000, b" " * 100_000, b"a (" * 5000,
                  b"] a: Fusing " * 200, b"=== Profile (99999999999999999999 iterations) ===", b"\xc2\xb2.0",
                  b"banana", b"true", b"null", b"{}", b"[]", b'"x"', b"0x" + b"f" * 40]
EXTREME_VALUES: list[object] = [None, True, "", "x" * 5000, -1, 0, 2**63, -(2**63), 1e308, -1e308, 1.5, [], {},
                                [[[[[[]]]]]], {"Name": 5}, "\x1b[2J", "\udcff", "../../etc/passwd", [1, "a", None]]


def _bytes_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    kind = rng.choice(("truncate", "flip", "insert", "delete", "duplicate", "token", "token", "splice_lines"))
    if not data:
        return "token", rng.choice(HOSTILE_TOKENS)
    at = rng.randrange(len(data))
    if kind == "truncate":
        return kind, data[:at]
    if kind == "flip":
        out = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
        return kind, bytes(out)
    if kind == "insert":
        return kind, data[:at] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))) + data[at:]
    if kind == "delete":
        return kind, data[:at] + data[at + rng.randint(1, 512):]
    if kind == "duplicate":
        end = min(len(data), at + rng.randint(1, 4096))
        return kind, data[:end] + data[at:end] * rng.randint(2, 20) + data[end:]
    if kind == "splice_lines":
        lines = data.split(b"\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i] + rng.choice(HOSTILE_TOKENS)
        return kind, b"\n".join(lines)
    return kind, data[:at] + rng.choice(HOSTILE_TOKENS) + data[at:]


def _json_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """Replace a random value of the document by an extreme one (of any type)."""
    try:
        doc = json.loads(data)
    except ValueError:
        return _bytes_mutation(rng, data)
    holders: list[tuple[object, object]] = []
    stack: list[object] = [doc]
    while stack and len(holders) < 20_000:
        item = stack.pop()
        keys = list(item.keys()) if isinstance(item, dict) else range(len(item)) if isinstance(item, list) else []
        for key in keys:
            holders.append((item, key))
            stack.append(item[key])  # type: ignore[index]
    for _ in range(rng.randint(1, 4)):
        if not holders:
            break
        holder, key = rng.choice(holders)
        holder[key] = rng.choice(EXTREME_VALUES)  # type: ignore[index]
    text = json.dumps(doc, allow_nan=True)
    return "json_value", text.encode("utf-8", "surrogatepass")


def _onnx_mutation(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """A structural change a pull request could make: names, attributes, dims, opsets, metadata."""
    model = onnx.ModelProto()
    model.ParseFromString(data)
    nodes = model.graph.node
    node = nodes[rng.randrange(len(nodes))]
    kind = rng.choice(("attr_type", "attr_dup", "name", "dims", "opset", "metadata", "drop_input", "ir",
                       "op_type", "big_attr", "external"))
    if kind == "attr_type" and node.attribute:
        attr = node.attribute[rng.randrange(len(node.attribute))]
        attr.CopyFrom(helper.make_attribute(attr.name, rng.choice(["s", 1.5, [1, 2], 10**18, [b"x"]])))
    elif kind == "attr_dup" and node.attribute:
        node.attribute.append(node.attribute[0])
    elif kind == "name":
        node.name = rng.choice(["", "\x1b]8;;http://x\x07n", "<script>x</script>", "a|b`c*_[d](e)", "%0A::error::x",
                                "x" * 20_000, "\u202e" + node.name, node.output[0] if node.output else "y"])
    elif kind == "dims":
        vi = rng.choice([*model.graph.input, *model.graph.output])
        for d in vi.type.tensor_type.shape.dim:
            d.dim_value = rng.choice([0, 1, 2**40, 2**62, 7])
    elif kind == "opset":
        model.opset_import[0].version = rng.choice([0, 1, 7, 99, 2**40])
    elif kind == "metadata":
        node.metadata_props.add(key=rng.choice(["pkg.torch.onnx.name_scopes", "pkg.torch.onnx.stack_trace"]),
                                value=rng.choice(["[" * 20_000, "['a', " * 5000, 'File "/etc/passwd", line 9' * 50,
                                                  "['', 'x\x1b[31m', 'y']"]))
    elif kind == "drop_input" and node.input:
        node.input[rng.randrange(len(node.input))] = rng.choice(["", "ghost", node.output[0] if node.output else ""])
    elif kind == "ir":
        model.ir_version = rng.choice([0, 1, 3, 99])
    elif kind == "op_type":
        node.op_type = rng.choice(["Foo", "If", "Loop", "Softmax", "", "Attention"])
    elif kind == "big_attr":
        node.attribute.append(helper.make_attribute(rng.choice(["axis", "perm", "axes"]),
                                                    rng.choice([2**62, -(2**62), list(range(500))])))
    elif kind == "external" and model.graph.initializer:
        init = model.graph.initializer[rng.randrange(len(model.graph.initializer))]
        init.data_location = onnx.TensorProto.EXTERNAL
        del init.external_data[:]
        init.external_data.add(key="location", value=rng.choice(["/etc/passwd", "../x.data", "a" * 3000, "ok.data"]))
    else:
        kind = "unchanged"
    return f"onnx_{kind}", model.SerializeToString()


def _mutate(rng: random.Random, data: bytes, structured: Callable[[random.Random, bytes], tuple[str, bytes]] | None
            ) -> tuple[str, bytes]:
    if structured is not None and rng.random() < 0.5:
        try:
            return structured(rng, data)
        except Exception:  # the seed itself did not parse: fall back to bytes
            pass
    return _bytes_mutation(rng, data)


def _timing_seed() -> bytes:
    """The first 40 records of a real --exportTimes file (the whole one is 430 KB)."""
    return json.dumps(json.loads(TIMING.read_bytes())[:40]).encode()


def fuzz_cases(tmp: Path, seed: int, count: int) -> list[Case]:
    """``count`` cases from ``seed``: each writes its mutated input under ``tmp`` and names the command."""
    rng = random.Random(seed)
    tmp.mkdir(parents=True, exist_ok=True)
    models = [p.read_bytes() for p in MODELS if p.exists()]
    clean_model = tmp / "clean.onnx"
    clean_model.write_bytes(models[0])
    seeds: dict[str, list[tuple[bytes, Callable[[random.Random, bytes], tuple[str, bytes]] | None]]] = {
        "model": [(m, _onnx_mutation) for m in models],
        "layer_info": [(p.read_bytes(), _json_mutation) for p in LAYER_INFOS if p.exists()],
        "profile": [(p.read_bytes(), _json_mutation) for p in PROFILES if p.exists()],
        "timing": [(_timing_seed(), _json_mutation)] if TIMING.exists() else [],
        "log": [(p.read_bytes(), None) for p in LOGS if p.exists()],
        "config": [(CONFIG, None)],
        "baseline": [(json.dumps(BASELINE).encode(), _json_mutation)],
    }
    kinds = [k for k, v in seeds.items() if v] + ["cmdline", "model"]
    cases: list[Case] = []
    for i in range(count):
        kind = rng.choice(kinds)
        if kind == "cmdline":
            cases.append(_cmdline_case(rng, i, clean_model, tmp))
            continue
        data, structured = rng.choice(seeds[kind])
        how, mutated = _mutate(rng, data, structured)
        if rng.random() < 0.2:  # a second mutation on top
            how2, mutated = _bytes_mutation(rng, mutated)
            how = f"{how}+{how2}"
        name = f"fuzz{seed}_{i:04d}_{kind}_{how}"
        cases.append(_case_for(rng, kind, name, mutated, clean_model, tmp / f"{i:04d}"))
    return cases


def _case_for(rng: random.Random, kind: str, name: str, data: bytes, model: Path, folder: Path) -> Case:
    folder.mkdir()
    fmt = rng.choice(("json", "sarif", "markdown", "github", "html", "rich"))
    if kind == "model":
        path = folder / "m.onnx"
        path.write_bytes(data)
        argv = ["audit", str(path), "--format", fmt, "--no-config"]
        if rng.random() < 0.2:
            argv += ["--shapes", rng.choice(["input:1x3x224x224", "input_ids:2x16", "x:0", "input:-1x3"])]
        return Case(name, argv, [path])
    if kind == "config":
        path = folder / rng.choice(("pyproject.toml", "trtadvisor.toml"))
        path.write_bytes(data)
        m = folder / "m.onnx"
        m.write_bytes(model.read_bytes())
        argv = ["audit", str(m), "--format", "json"] + (["--config", str(path)] if rng.random() < 0.5 else [])
        return Case(name, argv, [path, m])
    suffix = ".json" if kind in ("layer_info", "profile", "timing", "baseline") else ".log"
    path = folder / f"{kind}{suffix}"
    write_text(path, data.decode("utf-8", "surrogateescape"))
    if kind == "baseline":
        return Case(name, ["audit", str(model), "--format", fmt, "--no-config", "--baseline", str(path)],
                    [path, model])
    flag = "--" + kind.replace("_", "-")
    if rng.random() < 0.5:
        return Case(name, ["engine", flag, str(path), "--format", rng.choice(("json", "rich"))], [path])
    return Case(name, ["audit", str(model), "--format", fmt, "--no-config", flag, str(path)], [path, model])


_FLAG_VALUES = {
    "--shapes": ["input:" + "9" * 30, "input:1x3x224x224", "input:" + "x" * 500, ":", ",,,", "input:1x3x0x0",
                 "input:1e3", "input:\u00b2"],
    "--trt": ["10.8", "99.99", "", "abc", "9" * 400, "8.6.1.6.3"],
    "--sm": ["89", "auto", "-1", "8.9", "999999999999", "\u00b2"],
    "--gpu": ["L4", "A100", "\x1b[31m", "x" * 5000],
    "--precision": ["fp16", "int8", "fp4", ""],
    "--select": ["TRT1", "TRT", "XYZ", "TRT" + "1" * 400, ","],
    "--ignore": ["TRT001", "TRT9", "trt1"],
    "--fail-on": ["error", "warning", "info", "never"],
    "--max-layers": ["0", "-1", "9" * 30, "x"],
    "--format": ["json", "rich", "sarif", "nope"],
    "--source-root": [".", "/nonexistent", "x" * 5000],
}


def _cmdline_case(rng: random.Random, i: int, model: Path, tmp: Path) -> Case:
    argv = [rng.choice(["audit", "audit", "diff", "engine", "rules", "explain", "nope", "--debug"])]
    if argv[0] == "audit":
        argv.append(str(model))
    elif argv[0] == "diff":
        argv += [str(model), str(model)]
    elif argv[0] == "explain":
        argv.append(rng.choice(["TRT101", "trt101", "TRT", "X" * 2000, ""]))
    if argv[0] in ("audit", "diff"):
        argv.append("--no-config")
        for flag in rng.sample(list(_FLAG_VALUES), rng.randint(1, 4)):
            argv += [flag, rng.choice(_FLAG_VALUES[flag])]
        if "--format" not in argv:
            argv += ["--format", "json"]
    if argv[0] == "--debug":
        argv = []
    return Case(f"fuzz_cmd_{i:04d}", argv, [model])
