"""TensorRT facts about ONNX ops live in rules/*.toml with their source, not in Python.

Every set, frozenset or tuple literal in trtadvisor/ made only of ONNX op types (the ops of rules/ops.toml
[class.*]) is a list of ops some code decides by; outside the knowledge/ loaders, such a list fails this test
unless it is one of the known ones below. A new pass cannot hide a fact in code: read it from the rules
(``RuleBook.op_set``, ``RuleBook.ops.class_of``) or, when it is what an ONNX operator computes rather than what
TensorRT does with it, add it here saying so. A known entry that is gone fails too, so the list only shrinks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Op lists still written in code, by module (path under trtadvisor/; the ops sorted, joined by spaces).
# Most are ONNX operator semantics the graph analyses evaluate or match (what Mul/Div compute, which ops pass a
# value through, which have shape inputs); the weighted-op and Q/DQ lists of cost, precision and advice are
# TensorRT facts still to move (rules/qdq.toml [qdq] weighted_ops holds the fact; those modules do not take the
# rule book yet).
KNOWN: frozenset[tuple[str, str]] = frozenset({
    ('advice/general.py', 'Attention Conv ConvTranspose Gemm MatMul'),
    ('advice/general.py', 'Attention Gemm MatMul'),
    ('advice/qdq.py', 'Add Sub Where'),
    ('advice/qdq.py', 'Add Sum'),
    ('advice/qdq.py', 'Conv ConvTranspose'),
    ('advice/qdq.py', 'Conv ConvTranspose Gemm'),
    ('advice/qdq.py', 'Conv ConvTranspose Gemm MatMul'),
    ('advice/qdq.py', 'Gemm MatMul'),
    ('advice/reformats.py', 'Cast CastLike'),
    ('analysis/activations.py', 'Add Gemm MatMul Reshape'),
    ('analysis/activations.py', 'HardSigmoid Sigmoid'),
    ('analysis/activations.py', 'Slice Split'),
    ('analysis/attention_sites.py', 'Add Cast Clip Div Dropout Identity Mul Reshape Squeeze Sub Tanh '
                                    'Unsqueeze Where'),
    ('analysis/attention_sites.py', 'Add Gemm MatMul'),
    ('analysis/attention_sites.py', 'Cast Clip Dropout Identity Reshape Squeeze Tanh Unsqueeze'),
    ('analysis/attention_sites.py', 'Cast DequantizeLinear Dropout Flatten Identity QuantizeLinear '
                                    'Reshape Squeeze Transpose Unsqueeze'),
    ('analysis/attention_sites.py', 'Cast DequantizeLinear Dropout Identity QuantizeLinear Reshape '
                                    'Squeeze Unsqueeze Where'),
    ('analysis/attention_sites.py', 'Concat Expand Tile'),
    ('analysis/attention_sites.py', 'DequantizeLinear QuantizeLinear'),
    ('analysis/attention_sites.py', 'Div Mul'),
    ('analysis/attention_sites.py', 'Einsum MatMul'),
    ('analysis/attention_sites.py', 'Gather Slice Split'),
    ('analysis/attention_sites.py', 'Greater GreaterOrEqual Less LessOrEqual'),
    ('analysis/attention_sites.py', 'Shape Size'),
    ('analysis/dtypes.py', 'And Equal Greater GreaterOrEqual IsInf IsNaN Less LessOrEqual Not Or Xor'),
    ('analysis/dtypes.py', 'ArgMax ArgMin NonMaxSuppression NonZero Shape Size'),
    ('analysis/dtypes.py', 'Attention Conv ConvTranspose Gemm MatMul'),
    ('analysis/evaluate.py', 'Clip Gelu HardSigmoid HardSwish'),
    ('analysis/normalization.py', 'Add Mul'),
    ('analysis/normalization.py', 'Cast Identity'),
    ('analysis/normalization.py', 'Div Reciprocal'),
    ('analysis/normalization.py', 'Mul Pow'),
    ('analysis/values.py', 'Abs Cast CastLike Ceil Clip Cos DequantizeLinear Dropout Erf Exp Floor '
                           'Gelu HardSigmoid HardSwish Identity IsInf IsNaN LayerNormalization '
                           'LeakyRelu Log LogSoftmax Neg Not QuantizeLinear RMSNormalization '
                           'Reciprocal Relu Sigmoid Sign Sin Softmax Sqrt Tanh Trilu'),
    ('analysis/values.py', 'Add And Div Equal Greater GreaterOrEqual Less LessOrEqual Max Min Mod Mul '
                           'Or Pow Sub Sum Where Xor'),
    ('analysis/values.py', 'ConstantOfShape Expand Range Reshape Tile'),  # output sizes from shape inputs
    ('analysis/values.py', 'Concat Flatten Gather GatherND Identity Reshape Slice Squeeze Tile '
                           'Transpose Unsqueeze Where'),
    ('analysis/values.py', 'Gather GatherND Reshape Slice Tile'),
    ('analysis/values.py', 'Shape Size'),
    ('analysis/values.py', 'Squeeze Unsqueeze'),
    ('confirm/cost_check.py', 'Attention Conv ConvTranspose Gemm MatMul'),
    ('confirm/cost_check.py', 'DequantizeLinear Flatten Identity QuantizeLinear Reshape Transpose'),
    ('fix/fold.py', 'Shape Size'),
    ('fix/verify.py', 'Gather GatherElements'),
    ('ir/graph.py', 'If Loop Scan'),
    ('plan/cost.py', 'Conv ConvTranspose'),
    ('plan/cost.py', 'DequantizeLinear QuantizeLinear'),
    ('plan/passes/conv.py', 'Conv ConvTranspose'),
    ('plan/passes/myelin.py', 'Flatten Reshape Squeeze'),
    ('plan/passes/qdq.py', 'Add Sum'),
    ('plan/passes/qdq.py', 'Conv ConvTranspose Gemm'),
    ('plan/passes/qdq.py', 'DequantizeLinear QuantizeLinear'),
    ('plan/passes/reduction.py', 'Cast Dropout Identity'),
    ('plan/passes/reduction.py', 'Erf Tanh'),
    ('plan/passes/scale.py', 'Add Div Mul Pow Sub'),
    ('plan/passes/scale.py', 'Add Mul'),
    ('plan/passes/scale.py', 'Conv ConvTranspose'),
    ('plan/passes/scale.py', 'Conv ConvTranspose Gemm'),
    ('plan/passes/scale.py', 'Div Pow Sub'),
    ('plan/precision.py', 'Attention Conv ConvTranspose Gemm MatMul'),
    ('plan/precision.py', 'Cast CastLike'),
    ('plan/precision.py', 'DequantizeLinear QuantizeLinear'),
    ('report/common.py', 'Attention Softmax'),
})


def _op_types() -> frozenset[str]:
    data = tomllib.loads((REPO / "rules" / "ops.toml").read_text(encoding="utf-8"))
    return frozenset(op for table in data["class"].values() for op in table["ops"])


def _op_lists(ops: frozenset[str]) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    package = REPO / "trtadvisor"
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        if module.startswith("knowledge/"):
            continue  # the loaders of the rules
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Set, ast.Tuple)) or len(node.elts) < 2:
                continue
            names = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
            if len(names) == len(node.elts) and all(name in ops for name in names):
                found.add((module, " ".join(sorted(names))))
    return found


def test_no_new_op_list_in_code() -> None:
    new = _op_lists(_op_types()) - KNOWN
    assert not new, f"op lists written in code, move them to rules/ with a source: {sorted(new)}"


def test_known_op_lists_still_exist() -> None:
    gone = KNOWN - _op_lists(_op_types())
    assert not gone, f"remove these from KNOWN, they are gone from the code: {sorted(gone)}"


def test_the_scan_sees_a_hidden_fact(tmp_path: Path) -> None:
    # The literal forms a pass would use are all found (the test itself can fail).
    source = 'A = frozenset({"Relu", "Clip"})\nB = ("TopK", "ArgMax")\nC = {"Conv", "Gemm"}\nD = ("Relu", 1)\n'
    ops = _op_types()
    found = {tuple(sorted(e.value for e in n.elts)) for n in ast.walk(ast.parse(source))
             if isinstance(n, (ast.Set, ast.Tuple)) and len(n.elts) >= 2
             and all(isinstance(e, ast.Constant) and e.value in ops for e in n.elts)}
    assert found == {("Clip", "Relu"), ("ArgMax", "TopK"), ("Conv", "Gemm")}

