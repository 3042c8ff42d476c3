"""Real exports whose tensor types decide a strongly typed (TensorRT 11) build.

Run from the repository root: ``python samples/typing/make_typing_samples.py``. Structure only: the
weights go to ``*.data`` files (gitignored), so each committed .onnx stays a few tens of KB.

- ``resnet18.half.torchscript.opset17.onnx``: ``torchvision.models.resnet18().half()`` exported with
  FP16 input and output (every tensor FP16: what converting the whole model gives).
- ``resnet18.autocast_fp16.torchscript.opset17.onnx``: the FP32 ResNet-18 traced under
  ``torch.autocast("cpu", torch.float16)``: the exporter writes Cast nodes around each convolution
  and linear layer, which run in FP16, while pooling, additions and the FP32 I/O stay FP32 (a
  mixed-precision graph with dtype boundaries, as autocasting tools make them).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch
import torchvision

HERE = Path(__file__).resolve().parent


def _save_structure_only(path: Path) -> None:
    model = onnx.load(str(path))
    onnx.save(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
              location=path.name + ".data", size_threshold=1024)


class _Autocast(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.float16):
            y = self.inner(x)
        return y.float()


def main() -> None:
    torch.manual_seed(0)
    warnings.filterwarnings("ignore")
    x = torch.randn(1, 3, 224, 224)
    half = torchvision.models.resnet18(weights=None).eval().half()
    out = HERE / "resnet18.half.torchscript.opset17.onnx"
    torch.onnx.export(half, x.half(), str(out), opset_version=17, dynamo=False, input_names=["input"],
                      output_names=["logits"])
    _save_structure_only(out)
    mixed = _Autocast(torchvision.models.resnet18(weights=None).eval()).eval()
    out = HERE / "resnet18.autocast_fp16.torchscript.opset17.onnx"
    torch.onnx.export(mixed, x, str(out), opset_version=17, dynamo=False, input_names=["input"],
                      output_names=["logits"])
    _save_structure_only(out)


if __name__ == "__main__":
    main()
