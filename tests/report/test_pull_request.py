"""Markdown and GitHub output for a pull request: confirm results in both, grouping, and the 65,536-character
limit of a GitHub comment with a note saying what was cut and where the full report is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from trtadvisor.api import audit
from trtadvisor.confirm.stage import confirm_into
from trtadvisor.report import fit as fit_module
from trtadvisor.report import github as github_module
from trtadvisor.report import markdown as markdown_module
from trtadvisor.report.formats import FormatOptions, get_formatter

from conftest import REPO, SAMPLES, sample_path, samples_where
from conftest import artifact as art

LIMIT = 65_536
RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
A100_FP16 = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."


def _confirmed():
    result = audit(RESNET)
    confirm_into(result, layer_info=str(art(A100_FP16 + "graph.json")), profile=str(art(A100_FP16 + "profile.json")))
    return result


@pytest.mark.parametrize("fmt", ["markdown", "github", "html", "json", "concise", "rich"])
def test_confirm_results_in_every_format(fmt: str) -> None:
    text = get_formatter(fmt, FormatOptions(root=REPO)).format(_confirmed())
    if fmt == "markdown":  # Markdown escapes its special characters in names ('Conv\_0'): read it unescaped
        text = re.sub(r"\\(.)", r"\1", text)
    if fmt == "concise":  # one line per finding: the engine read adds none
        *findings, summary = text.splitlines()
        assert all(" TRT" in line for line in findings) and summary.startswith("Found ")
        return
    # From the A100 FP16 profile: Conv_0 + Relu_1 is the slowest layer; the engine came from another export.
    assert "Conv_0 + Relu_1" in text
    assert "96%" in text or '"agreement": 0.9565' in text
    assert "engine-from-another-export" in text
    if fmt in ("markdown", "html"):
        assert "Flatten + Gemm" in text  # the missed layer, named by its ops (a signature comparison)


def test_html_footer_after_confirming() -> None:
    html = get_formatter("html", FormatOptions(root=REPO)).format(_confirmed())
    footer = html[html.index("<footer>"):html.index("</footer>")]
    assert "confirm with the engine" not in footer and "confirmed against the engine read" in footer
    plain = get_formatter("html", FormatOptions(root=REPO)).format(audit(RESNET))
    assert "confirm with the engine" in plain[plain.index("<footer>"):]


def test_markdown_of_a_99000_node_model_fits_a_comment(tmp_path: Path) -> None:
    model = tmp_path / "large.onnx"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "make_large_graph.py"), "--nodes", "99000", "-o",
                    str(model)], check=True, capture_output=True, timeout=600)
    proc = subprocess.run([sys.executable, "-m", "trtadvisor", "audit", str(model), "--format", "markdown"],
                          capture_output=True, text=True, timeout=600, cwd=REPO)
    assert proc.returncode in (0, 1), proc.stderr
    assert len(proc.stdout) <= LIMIT
    # The generator repeats one transformer block: every attention site is alike, so one row says so.
    assert "sites in 1 groups of identical sites" in proc.stdout and "×" in proc.stdout


def test_markdown_cut_says_what_and_where(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 1500)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/models")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    result = audit(SAMPLES / "transformers" / "bert_base.torchscript.opset17.onnx")
    whole = get_formatter("markdown", FormatOptions(root=REPO))
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 10**9)
    uncut = whole.format(result)
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 1500)
    text = whole.format(result)
    assert len(uncut) > 1500 >= len(text)
    assert "Cut to fit 1,500 characters" in text and "https://github.com/acme/models/actions/runs/42" in text
    assert "--format html -o report.html" in text


def test_fit_keeps_everything_under_the_limit() -> None:
    rows = [f"| row {i} | " + "x" * 200 + " |" for i in range(2000)]
    blocks = [fit_module.Block(head=["# title"]), fit_module.Block(head=["| a | b |"], rows=rows, what="findings")]
    text = fit_module.fit(blocks, LIMIT, "m.onnx")
    assert len(text) <= LIMIT and "more findings cut" in text and "| row 0 |" in text


def test_github_annotations_are_grouped_and_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from trtadvisor.knowledge.findings import Finding

    result = audit(RESNET)
    result.findings = [Finding("TRT101", "warning", f"conv+relu blocked at n{i}", (f"n{i}",), "fix it")
                       for i in range(3000)]
    text = get_formatter("github", FormatOptions(root=REPO)).format(result)
    lines = text.splitlines()
    assert len(lines) == 2 and "x3000 like this" in lines[0]  # one annotation, then the summary line
    result.findings = [Finding("TRT101", "warning", f"finding {i}: " + "y" * (i % 7) * 40, (f"n{i}",), "fix")
                       for i in range(3000)]
    monkeypatch.setattr(github_module, "GITHUB_COMMENT_LIMIT", 20_000)
    text = get_formatter("github", FormatOptions(root=REPO)).format(result)
    assert len(text) <= 20_000 and "more annotation(s) cut to fit 20,000 characters" in text


def test_markdown_diff_fits_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from trtadvisor.ci.diff import diff_results
    from trtadvisor.knowledge.findings import Finding
    from trtadvisor.knowledge.rulebook import default_rulebook

    old = audit(RESNET)
    new = audit(RESNET)
    new.findings = [Finding("TRT101", "warning", f"finding {i}: " + "z" * (i % 5) * 50, (f"n{i}",), "fix")
                    for i in range(400)]
    diff = diff_results(old, new, default_rulebook())
    assert len(diff.findings) == 400
    formatter = get_formatter("markdown", FormatOptions(root=REPO))
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 10**9)
    uncut = formatter.format_diff(diff)
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 20_000)
    text = formatter.format_diff(diff)
    assert len(uncut) > 20_000 >= len(text) and "more findings cut" in text and "Cut to fit 20,000" in text
