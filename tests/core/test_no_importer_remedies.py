"""TRT011's hint names what to do about the ops a model holds that TensorRT's parser cannot import, op by op
(rules/ops.toml [no_importer.remedy]), and the remedy it gives for Col2Im computes what Col2Im computes."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.helper as oh
import onnx.parser
import pytest

from trtadvisor.api import audit
from trtadvisor.knowledge.rulebook import default_rulebook


def test_every_op_without_importer_has_exactly_one_remedy() -> None:
    table = default_rulebook().tables["ops.toml"]["no_importer"]
    listed = [op for remedy in table["remedy"].values() for op in remedy["ops"]]
    assert sorted(listed) == sorted(table["ops"])  # each op once, none that the parser imports


FOLD = '''<ir_version: 8, opset_import: ["" : 18]>
g (float[1,36,16] cols) => (float[1,4,8,8] y) {
  image_shape = Constant <value = int64[2] {8, 8}> ()
  block_shape = Constant <value = int64[2] {3, 3}> ()
  y = Col2Im <pads = [1, 1, 1, 1], strides = [2, 2]> (cols, image_shape, block_shape)
}'''


def test_col2im_gets_the_fold_remedy_not_the_quantizer_one(tmp_path) -> None:
    path = tmp_path / "fold.onnx"
    onnx.save(onnx.parser.parse_model(FOLD), path)
    found = [f for f in audit(path, trt="10.8", sm="90").findings if f.rule == "TRT011"]
    assert len(found) == 1 and "Col2Im (1)" in found[0].message
    assert "grouped ConvTranspose" in found[0].hint
    assert "QuantizeLinear" not in found[0].hint


def test_the_fold_remedy_computes_what_col2im_computes() -> None:
    """Col2Im of [1, C*k*k, h*w] columns (k=3, stride 2, pads 1, 8x8 image: 4x4 blocks) against the remedy the
    hint gives: the columns reshaped to [1, C*k*k, h, w], then ConvTranspose with C groups and one-hot k x k
    kernels (the fold's kernel, stride and pads; output_padding 1, as (4-1)*2 - 2 + 3 = 7 rows fall one short of
    the image), in onnxruntime."""
    ort = pytest.importorskip("onnxruntime")
    channels, k = 4, 3
    weight = np.zeros((channels * k * k, 1, k, k), np.float32)
    for c in range(channels):
        for i in range(k * k):
            weight[c * k * k + i, 0, i // k, i % k] = 1.0
    remedy = oh.make_model(oh.make_graph(
        [oh.make_node("Reshape", ["cols", "grid"], ["blocks"]),
         oh.make_node("ConvTranspose", ["blocks", "w"], ["y"], group=channels, kernel_shape=[k, k],
                      strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])],
        "remedy", [oh.make_tensor_value_info("cols", onnx.TensorProto.FLOAT, [1, 36, 16])],
        [oh.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
        [oh.make_tensor("grid", onnx.TensorProto.INT64, [4], [1, 36, 4, 4]),
         onnx.numpy_helper.from_array(weight, "w")]), opset_imports=[oh.make_opsetid("", 18)])
    remedy.ir_version = 8
    cols = np.random.default_rng(0).standard_normal((1, 36, 16)).astype(np.float32)

    def run(model: onnx.ModelProto) -> np.ndarray:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {"cols": cols})[0]

    folded, merged = run(onnx.parser.parse_model(FOLD)), run(remedy)
    assert folded.shape == merged.shape == (1, 4, 8, 8)
    np.testing.assert_allclose(merged, folded, atol=1e-6)
