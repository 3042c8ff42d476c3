"""``patterns`` in the JSON contract: every recognised instance, counted against the architecture.

Expected counts come from the torch modules (the registry's facts, or BERT-base's config), never from
the tool's output.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from trtadvisor.api import audit
from trtadvisor.report.formats import FormatOptions, get_formatter
from trtadvisor.report.json_report import report_dict

from conftest import REPO, SAMPLES, sample_path, samples_where

SCHEMA = json.loads((REPO / "trtadvisor" / "schema" / "report-v1.json").read_text())
BERT_BASE = SAMPLES / "transformers" / "bert_base.torchscript.opset17.onnx"  # samples/make_bert_base.py
BERT_BASE_LAYERS = 12  # transformers.BertConfig() defaults: bert-base-uncased's architecture


def test_bert_base_lists_12_gelu_and_25_layernorm() -> None:
    result = audit(BERT_BASE)
    data = json.loads(json.dumps(report_dict(result)))
    jsonschema.validate(data, SCHEMA)
    counts = Counter(p["pattern"] for p in data["patterns"])
    assert counts["gelu"] == BERT_BASE_LAYERS  # one per feed-forward block
    assert counts["layernorm"] == 2 * BERT_BASE_LAYERS + 1  # two per layer and the embeddings'
    gelus = [p for p in data["patterns"] if p["pattern"] == "gelu"]
    assert sorted(int(p["nodes"][0].split("layer.")[1].split("/")[0]) for p in gelus) == list(range(12))
    assert all("intermediate_act_fn" in n for p in gelus for n in p["nodes"])
    layer_names = {layer["name"] for layer in data["layers"]}
    assert all(p["layer"] in layer_names for p in data["patterns"])


@pytest.mark.parametrize("entry", samples_where(family="transformers"), ids=lambda e: Path(e["path"]).name)
def test_pattern_counts_match_the_architecture(entry: dict) -> None:
    counts = Counter(p["pattern"] for p in audit(sample_path(entry)).patterns or [])
    facts = entry["facts"]
    assert {k: counts.get(k, 0) for k in ("layernorm", "rmsnorm", "gelu", "silu")} == \
        {k: facts[k] for k in ("layernorm", "rmsnorm", "gelu", "silu")}


def test_rich_and_html_count_the_patterns() -> None:
    result = audit(BERT_BASE)
    rich = get_formatter("rich", FormatOptions(root=REPO, width=160)).format(result)
    assert "gelu x12" in rich and "layernorm x25" in rich
    html = get_formatter("html", FormatOptions(root=REPO)).format(result)
    assert 'id="patterns"' in html and ">layernorm<" in html and ">25<" in html and ">12<" in html
