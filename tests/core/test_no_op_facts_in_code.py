"""TensorRT facts about ONNX ops live in rules/*.toml with their source, not in Python.

Every set, frozenset or tuple literal in trtadvisor/ made only of ONNX op types (the ops of rules/ops.toml
[class.*]) is a list of ops some code decides by; outside the knowledge/ loaders, such a list fails this test
unless it is one of the known ones below. A new pass cannot hide a fact in code: read it from the rules
(``RuleBook.op_set``, ``RuleBook.op_group``, ``RuleBook.ops.class_of``) or, when it is what an ONNX operator
computes rather than what TensorRT does with it, add it to ONNX_SEMANTICS saying why. A known entry that is gone
fails too, so the lists only shrink.
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

_MATCH = "ONNX semantics: the op shapes a pattern is matched through (what each op computes, not TensorRT)"
_EVAL = "ONNX semantics: what the op computes, for numeric evaluation of constants and candidate patterns"
# ONNX semantics, not TensorRT facts: what an ONNX operator computes, which input is what by the ONNX spec,
# which ops have subgraphs or typed outputs. They stay in code, each with why.
ONNX_SEMANTICS: dict[tuple[str, str], str] = {
    ('advice/qdq.py', 'Add Sub Where'): "the ops that apply an additive or select mask to attention scores",
    ('advice/qdq.py', 'Add Sum'): "the ONNX ops that compute a sum (the residual of a fused Conv + Add)",
    ('advice/reformats.py', 'Cast CastLike'): "the ONNX ops that convert a tensor's element type",
    ('analysis/activations.py', 'Gemm MatMul'): "the ONNX ops that compute a matrix product (a projection)",
    ('analysis/activations.py', 'Reshape Slice Split'): _MATCH + " (a projection's output reshaped or cut in halves)",
    ('analysis/activations.py', 'HardSigmoid Sigmoid'): _MATCH + " (the gate of SiLU / HardSwish)",
    ('analysis/activations.py', 'Slice Split'): _MATCH + " (the halves of a SwiGLU)",
    ('analysis/attention_sites.py', 'Add Cast Clip DequantizeLinear Div Dropout Identity Mul QuantizeLinear '
                                    'Reshape Squeeze Sub Tanh Unsqueeze Where'):
        _MATCH + " (score scaling, masking, soft-capping, quantized scores)",
    ('analysis/attention_sites.py', 'Add Gemm MatMul'): _MATCH + " (the Q/K/V projections)",
    ('analysis/attention_sites.py', 'Cast Clip DequantizeLinear Dropout Identity QuantizeLinear Reshape Squeeze '
                                    'Tanh Unsqueeze'): _MATCH,
    ('analysis/attention_sites.py', 'Cast DequantizeLinear Dropout Flatten Identity QuantizeLinear '
                                    'Reshape Squeeze Transpose Unsqueeze'): _MATCH + " (layout between products)",
    ('analysis/attention_sites.py', 'Cast DequantizeLinear Dropout Identity QuantizeLinear Reshape '
                                    'Squeeze Unsqueeze Where'): _MATCH + " (between Softmax and the second product)",
    ('analysis/attention_sites.py', 'Concat Expand Tile'): _MATCH + " (K/V heads repeated for GQA)",
    ('analysis/attention_sites.py', 'DequantizeLinear QuantizeLinear'): "the ONNX ops that (de)quantize",
    ('analysis/attention_sites.py', 'Div Mul'): "the ONNX ops that scale by a constant",
    ('analysis/attention_sites.py', 'Einsum MatMul'): "the ONNX ops that compute a batched matrix product",
    ('analysis/attention_sites.py', 'Gemm MatMul'): "the ONNX ops that compute a matrix product (a learned map)",
    ('analysis/attention_sites.py', 'Gather GatherElements GatherND'): "the ONNX ops that read a table by index "
                                                                        "(a learned relative-position bias)",
    ('analysis/attention_sites.py', 'Gather Slice Split'): _MATCH + " (Q, K, V cut from one fused projection)",
    ('analysis/attention_sites.py', 'Greater GreaterOrEqual Less LessOrEqual'): "the ONNX comparisons (a mask)",
    ('analysis/attention_sites.py', 'Shape Size'): "the ONNX ops that read a shape, not data",
    ('analysis/score_layout.py', 'Concat Expand Gather GatherElements Pad ScatterElements ScatterND Slice Split '
                                 'Tile'): _MATCH + " (ops that move score entries: a chunked or banded attention)",
    ('analysis/score_layout.py', 'Flatten Reshape Squeeze Transpose Unsqueeze'):
        _MATCH + " (ops that only relabel the axes of the scores)",
    ('analysis/score_layout.py', 'ScatterElements ScatterND'): "the ONNX scatters (data and updates both carry data)",
    ('analysis/score_layout.py', 'Einsum MatMul'): "the ONNX ops that compute a batched matrix product",
    ('analysis/score_layout.py', 'Add Div Mul Sub'): "the ONNX binary arithmetic ops (probabilities combined "
                                                     "with a gate, a second map or their own sum)",
    ('analysis/score_layout.py', 'Add Mul'): "the ONNX binary ops whose operands commute",
    ('analysis/score_layout.py', 'Div Mul'): "the ONNX ops that scale by a factor",
    ('analysis/score_layout.py', 'Cast Expand Identity Reshape Unsqueeze'):
        _MATCH + " (a sum over the keys kept as an axis on its way to the Div that renormalizes)",
    ('analysis/score_layout.py', 'BatchNormalization LayerNormalization'):
        "the ONNX normalizations (one across the heads of the scores mixes them)",
    ('analysis/score_layout.py', 'Conv MatMul'): "the ONNX products by a weight that keep the other axes in place",
    ('analysis/attention_sites.py', 'Add BatchNormalization'): _MATCH + " (the bias or norm after a head mix)",
    ('analysis/attention_sites.py', 'LayerNormalization Transpose'):
        _MATCH + " (a relayout and a norm across the heads after the Softmax)",
    ('analysis/branches.py', 'BatchNormalization Conv'): _MATCH + " (the linear branches a re-parameterizable "
                                                                  "sum adds)",
    ('analysis/branches.py', 'Add Sum'): "the ONNX ops that compute a sum (the branches' total)",
    ('analysis/branches.py', 'Add BatchNormalization Div Mul Sub Sum'):
        "the ONNX ops linear in their one non-constant operand (the expression a re-parameterization merges)",
    ('analysis/branches.py', 'Div Mul'): "the ONNX ops that scale by a constant",
    ('analysis/dtypes.py', 'And Equal Greater GreaterOrEqual IsInf IsNaN Less LessOrEqual Not Or Xor'):
        "the ONNX ops whose output is bool (operator specs)",
    ('analysis/dtypes.py', 'ArgMax ArgMin NonMaxSuppression NonZero Shape Size'):
        "the ONNX ops whose output is int64 (operator specs)",
    ('analysis/dtypes.py', 'Attention Conv ConvTranspose Gemm MatMul'):
        "the ONNX convolutions and matrix products: the model's compute type is their output type",
    ('analysis/evaluate.py', 'Clip Gelu HardSigmoid HardSwish'): _EVAL,
    ('ir/contrib_shapes.py', 'Cast Concat Gather Identity Shape Slice Squeeze Unsqueeze'):
        _EVAL + " (shape values carried past an ONNX Runtime contrib op)",
    ('plan/passes/conv.py', 'Add Sum'): "the ONNX ops that compute a sum (the join of a residual block)",
    ('ir/contrib_shapes.py', 'Squeeze Unsqueeze'): _EVAL + " (the ops that add or drop axes of a shape value)",
    ('analysis/normalization.py', 'Add Mul'): "the commutative ONNX ops (operands in either order)",
    ('analysis/normalization.py', 'Cast Identity'): "the ONNX ops that pass a value through unchanged",
    ('analysis/normalization.py', 'Div Reciprocal'): "the ONNX ops that divide (x / s, 1 / s)",
    ('analysis/normalization.py', 'Mul Pow'): "the ONNX ops that square (x * x, x ^ 2)",
    ('analysis/values.py', 'Abs Cast CastLike Ceil Clip Cos DequantizeLinear Dropout Erf Exp Floor '
                           'Gelu HardSigmoid HardSwish Identity IsInf IsNaN LayerNormalization '
                           'LeakyRelu Log LogSoftmax Neg Not QuantizeLinear RMSNormalization '
                           'Reciprocal Relu Sigmoid Sign Sin Softmax Sqrt Tanh Trilu'): _EVAL + " (unary)",
    ('analysis/values.py', 'Add And Div Equal Greater GreaterOrEqual Less LessOrEqual Max Min Mod Mul '
                           'Or Pow Sub Sum Where Xor'): _EVAL + " (broadcasting element-wise)",
    ('analysis/values.py', 'ConstantOfShape Expand Range Reshape Tile'): "output sizes from shape inputs (specs)",
    ('analysis/values.py', 'Concat Flatten Gather GatherND Identity Reshape Slice Squeeze Tile '
                           'Transpose Unsqueeze Where'): _EVAL + " (data movement)",
    ('analysis/values.py', 'Gather GatherND Reshape Slice Tile'): _EVAL + " (index and shape inputs)",
    ('analysis/values.py', 'Shape Size'): "the ONNX ops that read a shape, not data",
    ('analysis/values.py', 'Squeeze Unsqueeze'): "the ONNX ops whose axes are an input from opset 13",
    ('fix/fold.py', 'Shape Size'): "the ONNX ops that read a shape, not data",
    ('fix/verify.py', 'Gather GatherElements'): "the ONNX ops with an index input",
    ('ir/graph.py', 'If Loop Scan'): "the ONNX ops with subgraphs",
    ('plan/cost.py', 'Conv ConvTranspose'):
        "the ONNX convolutions: their work follows from the weight's shape (W is input 1, [M, C/group, k...] for "
        "Conv and [C, M/group, k...] for ConvTranspose by the operator specs)",
    ('plan/cost.py', 'DequantizeLinear QuantizeLinear'): "the ONNX ops that (de)quantize",
    ('plan/passes/qdq.py', 'Add Sum'): "the ONNX ops that compute a sum (the residual of a fused Conv + Add)",
    ('plan/passes/qdq.py', 'Conv ConvTranspose Gemm'): "input 1 is the weight (W, B) by the ONNX operator specs",
    ('plan/passes/qdq.py', 'DequantizeLinear QuantizeLinear'): "the ONNX ops that (de)quantize",
    ('plan/passes/reduction.py', 'Cast Dropout Identity'): "the ONNX ops that pass a value through (inference)",
    ('plan/passes/reduction.py', 'Erf Tanh'): "the cores of GELU's two closed forms (erf and tanh)",
    ('plan/passes/scale.py', 'Add Mul'): "the commutative ONNX ops (constant on either side)",
    ('plan/passes/scale.py', 'Div Pow Sub'): "c - x, c / x, c ^ x are no affine function of x",
    ('plan/precision.py', 'Cast CastLike'): "the ONNX ops that convert a tensor's element type",
    ('plan/precision.py', 'DequantizeLinear QuantizeLinear'): "the ONNX ops that (de)quantize",
    ('report/common.py', 'Attention Softmax'): "the ONNX ops an attention site is anchored on",
}
KNOWN: frozenset[tuple[str, str]] = frozenset(ONNX_SEMANTICS)


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

