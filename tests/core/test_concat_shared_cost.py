"""The copy layer of a Concat whose inputs a later Concat takes (tests/cases/concat_shared.toml) is priced as
the copy it is: each copied input read once and written once into the output, nothing computed."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnx.parser
import pytest

from trtadvisor.api import audit

DENSE_BLOCK = '''
<ir_version: 8, opset_import: ["" : 17]>
g (float[1,8,16,16] x, float[8,8,1,1] w, float[8,16,1,1] v) => (float[1,24,16,16] y) {
  a = Conv(x, w)
  f1 = Conv(a, w)
  k1 = Concat<axis=1>(a, f1)
  f2 = Conv(k1, v)
  k2 = Concat<axis=1>(a, f1, f2)
  y = Relu(k2)
}'''


def test_the_copy_reads_and_writes_each_copied_input_once(tmp_path: Path) -> None:
    path = tmp_path / "dense.onnx"
    onnx.save(onnx.parser.parse_model(DENSE_BLOCK), path)
    result = audit(path, trt="8.6", sm="86", precision="fp16")
    assert result.cost is not None
    copies = [(layer, cost) for layer, cost in zip(result.prediction.layers, result.cost.layers, strict=True)
              if layer.kind == "reformat"]
    assert [layer.name for layer, _ in copies] == ["Concat_k1_a_clone_0 copy"]
    cost = copies[0][1]
    assert cost is not None
    # a and f1, 1x8x16x16 each, in FP16: read once and written once.
    assert cost.bytes == pytest.approx(2 * (1 * 8 * 16 * 16) * 2 * 2)
    assert cost.flops == 0
