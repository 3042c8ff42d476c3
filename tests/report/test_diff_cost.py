"""The predicted latency change of ``diff`` in every format (issue 16: use the cost where a user decides).

ResNet-18 at batch 32 against the same architecture with a dynamic batch given batch 8: fewer images,
less predicted time; the terminal, JSON and Markdown already state it, HTML, GitHub and SARIF must too.
"""

from __future__ import annotations

import html
import json
import re

import jsonschema
import pytest

from trtadvisor.api import audit
from trtadvisor.ci.diff import ModelDiff, diff_dict, diff_results
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.report.formats import FormatOptions, get_formatter

from conftest import REPO, SARIF_SCHEMA

RESNET = REPO / "samples" / "cnn" / "resnet18.torchscript.opset17.onnx"
DYNBATCH = REPO / "samples" / "cnn" / "resnet18_dynbatch.torchscript.opset17.onnx"


def _diff(shapes: dict[str, tuple[int, ...]] | None) -> ModelDiff:
    book = default_rulebook()
    return diff_results(audit(RESNET, gpu="A100", precision="fp16"),
                        audit(DYNBATCH, gpu="A100", precision="fp16", shapes=shapes), book)


@pytest.fixture(scope="module")
def smaller() -> ModelDiff:
    return _diff({"input": (8, 3, 224, 224)})


def _figures(diff: ModelDiff) -> tuple[float, float, float]:
    data = diff_dict(diff)
    old, new = data["old"]["predicted_ms"], data["new"]["predicted_ms"]
    assert old and new and new < old  # a quarter of the images: less time
    return old, new, data["predicted_change"]


@pytest.mark.parametrize("fmt", ["rich", "markdown", "html", "github"])
def test_every_human_format_states_the_predicted_change(fmt: str, smaller: ModelDiff) -> None:
    old, new, change = _figures(smaller)
    text = get_formatter(fmt, FormatOptions(root=REPO, width=160)).format_diff(smaller)
    if fmt == "html":
        text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    if fmt == "github":
        text = text.replace("%25", "%")
    assert f"{old:.3f}" in text and f"{new:.3f}" in text
    assert f"{100 * change:+.1f}%" in text


def test_github_annotates_the_new_model_with_the_predicted_change(smaller: ModelDiff) -> None:
    text = get_formatter("github", FormatOptions(root=REPO)).format_diff(smaller)
    notes = [line for line in text.splitlines() if "title=trtadvisor predicted time" in line]
    assert len(notes) == 1 and "file=samples/cnn/resnet18_dynbatch.torchscript.opset17.onnx" in notes[0]


def test_sarif_diff_carries_the_predicted_change(smaller: ModelDiff) -> None:
    old, new, change = _figures(smaller)
    log = json.loads(get_formatter("sarif", FormatOptions(root=REPO)).format_diff(smaller))
    jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))
    predicted = log["runs"][0]["properties"]["predicted_ms"]
    assert predicted == {"old": old, "new": new, "change": change, "gpu": "A100"}


def test_unknown_shapes_claim_no_change() -> None:
    """A symbolic batch leaves the new total unknown: every format says so instead of a figure."""
    diff = _diff(None)
    assert diff.predicted_change is None
    page = get_formatter("html", FormatOptions(root=REPO)).format_diff(diff)
    assert "unknown (shapes not all known: give --shapes)" in html.unescape(page)
    assert "predicted time unknown" in get_formatter("github", FormatOptions(root=REPO)).format_diff(diff)
    for fmt in ("rich", "markdown"):
        assert "unknown (shapes not all known: give --shapes)" in get_formatter(
            fmt, FormatOptions(root=REPO, width=160)).format_diff(diff)
    log = json.loads(get_formatter("sarif", FormatOptions(root=REPO)).format_diff(diff))
    assert log["runs"][0]["properties"]["predicted_ms"]["change"] is None
