#!/usr/bin/env python3
"""Export BERT-base (transformers' default BertConfig: 12 layers, hidden 768, 12 heads, GELU) with random
weights through the TorchScript exporter at opset 17, structure-only.

    python samples/make_bert_base.py     # writes samples/transformers/bert_base.torchscript.opset17.onnx

Nothing is downloaded: the architecture comes from the config, the weights from ``torch.manual_seed(0)``.
Floating-point tensors of 1 KiB or more go to an external ``.onnx.data`` file, which is deleted (and
git-ignored): the graph is kept, the 110M weights are not. The architecture gives the facts the tests
check: 12 GELUs (one per feed-forward block) and 25 LayerNorms (the embeddings' and two per layer).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import onnx
import torch
from onnx.external_data_helper import convert_model_to_external_data

OUT = Path(__file__).resolve().parent / "transformers" / "bert_base.torchscript.opset17.onnx"
BATCH, SEQ = 1, 128


class _LastHidden(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def main() -> None:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(attn_implementation="eager")  # bert-base-uncased's architecture
    model = _LastHidden(BertModel(config, add_pooling_layer=False).eval()).eval()
    ids = torch.randint(0, config.vocab_size, (BATCH, SEQ))
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = Path(tmp) / "m.onnx"
        torch.onnx.export(model, (ids, mask), str(path), dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          do_constant_folding=True)
        proto = onnx.load(str(path))
    data = OUT.with_name(OUT.name + ".data")
    convert_model_to_external_data(proto, all_tensors_to_one_file=True, location=data.name, size_threshold=1024)
    for tensor in proto.graph.initializer:  # integer tables stay inline: they are not weights
        if tensor.data_location == onnx.TensorProto.EXTERNAL and tensor.data_type not in (1, 10, 11, 16):
            del tensor.external_data[:]
            tensor.data_location = onnx.TensorProto.DEFAULT
    OUT.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(OUT))
    data.unlink(missing_ok=True)
    print(f"{OUT}: {len(proto.graph.node)} nodes, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main()
