"""Models for ``trtadvisor fix``, made by the real exporters with random weights (torch venv).

Run from the repository root: ``python samples/fix/make_fix_samples.py`` writes the structure-only
samples of samples/fix/ (see samples/README.md). ``export_bert`` / ``export_llama`` are also used by
samples/fix/done_when.py, which keeps the weights (external ``<name>.onnx.data``) in a temporary
folder so the rewrites that read values and the onnxruntime comparison have them.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch


class _Adapter(torch.nn.Module):
    """An HF model with positional tensors in and one tensor out, as exporters want it."""

    def __init__(self, inner: torch.nn.Module, names: list[str]) -> None:
        super().__init__()
        self.inner = inner
        self.names = names

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        out = self.inner(**dict(zip(self.names, args, strict=True)), use_cache=False, return_dict=True)
        return out["last_hidden_state"]


def _save(proto, path: Path) -> Path:
    import onnx

    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=path.name + ".data", size_threshold=1024)
    return path


def export_bert(path: Path, *, layers: int | None = None, hidden: int | None = None, heads: int | None = None,
                seq: int = 16, opset: int = 17) -> Path:
    """BertModel (BertConfig defaults unless given) exported with TorchScript: LayerNorm decomposed at opset 17."""
    import onnx
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    kwargs: dict[str, int] = {}
    if layers is not None:
        kwargs["num_hidden_layers"] = layers
    if hidden is not None:
        kwargs.update(hidden_size=hidden, intermediate_size=4 * hidden)
    if heads is not None:
        kwargs["num_attention_heads"] = heads
    cfg = BertConfig(**kwargs)
    hf = BertModel(cfg, add_pooling_layer=False).eval()
    model = _Adapter(hf, ["input_ids", "attention_mask"]).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, seq))
    mask = torch.ones(1, seq, dtype=torch.int64)
    tmp = path.with_suffix(".raw.onnx")
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), str(tmp), dynamo=False, opset_version=opset,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          do_constant_folding=True)
    proto = onnx.load(str(tmp))
    tmp.unlink()
    return _save(proto, path)


def export_llama(path: Path, *, layers: int = 2, hidden: int = 64, heads: int = 8, kv_heads: int = 2,
                 seq: int = 16, opset: int = 23, optimize: bool = True) -> Path:
    """LlamaModel with GQA, sdpa attention, exported by dynamo: native Attention fed repeated K/V at opset 23.

    ``optimize=False`` leaves the exporter's graph unoptimised: RMSNorm stays decomposed.
    """
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=256, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=128,
                      use_cache=False, tie_word_embeddings=False)
    cfg._attn_implementation = "sdpa"
    hf = LlamaModel(cfg).eval()
    model = _Adapter(hf, ["input_ids", "attention_mask"]).eval()
    ids = torch.randint(0, cfg.vocab_size, (1, seq))
    mask = torch.ones(1, seq, dtype=torch.int64)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (ids, mask), dynamo=True, opset_version=opset,
                                    input_names=["input_ids", "attention_mask"],
                                    output_names=["last_hidden_state"], verbose=False, optimize=optimize)
    proto = program.model_proto
    for node in proto.graph.node:  # stack traces and FX dumps name this machine's paths
        del node.metadata_props[:]
        node.doc_string = ""
    return _save(proto, path)


def save_structure_only(path: Path) -> Path:
    """Drop the external data of an exported model (the sample keeps structure and small constants)."""
    path.with_name(path.name + ".data").unlink(missing_ok=True)
    return path


SAMPLES = {
    # TorchScript writes LayerNormalization only from opset 17: at 16 every LayerNorm is decomposed.
    "bert_tiny.torchscript.opset16.onnx": lambda p: export_bert(p, layers=2, hidden=64, heads=4, opset=16),
    # dynamo without its optimiser keeps HF's RMSNorm decomposed (Pow, ReduceMean, Add, Sqrt, Reciprocal, Mul).
    "llama_gqa_sdpa.dynamo.opset23.noopt.onnx": lambda p: export_llama(p, optimize=False),
}


def main() -> int:
    here = Path(__file__).resolve().parent
    for name, make in SAMPLES.items():
        path = save_structure_only(make(here / name))
        print(f"{path.relative_to(here.parent.parent)}  {path.stat().st_size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
