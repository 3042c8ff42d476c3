"""A tiny network exported with the dynamo exporter *with* its stack traces (tinynet.dynamo.onnx).

The samples in samples/ have their stack traces stripped; this one keeps them so the tests can check
that findings point at the Python file and line. Re-create it with (torch needed, tests do not need it):

    python tests/ci/data/tinynet.py
"""

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, padding=1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        # The pre-activation is also returned: a second reader blocks the Conv+ReLU fusion.
        return self.act(y), y


class TinyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.block = Block()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.relu(self.stem(x))
        return self.block(x)


def export(path: str) -> None:
    import onnx

    torch.manual_seed(0)
    program = torch.onnx.export(TinyNet().eval(), (torch.randn(1, 3, 16, 16),), dynamo=True, opset_version=18,
                                optimize=True, input_names=["x"], output_names=["out", "pre_activation"])
    proto = program.model_proto
    for node in proto.graph.node:  # the FX dumps are debug text; the stack traces are what we test
        keep = [p for p in node.metadata_props if p.key != "pkg.torch.onnx.fx_node"]
        del node.metadata_props[:]
        node.metadata_props.extend(keep)
    onnx.save(proto, path)


if __name__ == "__main__":
    from pathlib import Path

    export(str(Path(__file__).with_name("tinynet.dynamo.onnx")))
