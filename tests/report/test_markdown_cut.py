"""Markdown cut to fit a GitHub comment: at row and section boundaries, never inside a table row, a code span
or a code fence, with a closing note that says what was cut and where the full report is.

The reports are real: the 99,000-node graph of benchmarks/make_large_graph.py and BERT-base, each cut at a
sweep of limits (the 99k report is small once its identical sites are grouped, so the limits are set below
it to make the cutting happen on that real report).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from trtadvisor.api import AuditResult, audit
from trtadvisor.knowledge.findings import Finding
from trtadvisor.report import markdown as markdown_module
from trtadvisor.report.fit import Block, fit
from trtadvisor.report.formats import FormatOptions, get_formatter

from conftest import REPO, SAMPLES

_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")


def _pipes(line: str) -> int:
    """Cell separators of a table line: pipes neither escaped nor inside a code span."""
    return len(re.findall(r"(?<!\\)\|", _SPAN.sub("", line)))


def assert_well_formed(text: str, limit: int, uncut: str) -> None:
    assert len(text) <= limit
    lines = text.split("\n")
    header: int | None = None
    fenced = False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced:
            continue
        if line.startswith("|"):
            if header is None:
                header = _pipes(line)
            assert _pipes(line) == header, f"a table row with other cells than its header: {line[:200]}"
        else:
            header = None
        assert "`" not in _SPAN.sub("", line), f"a code span left open: {line[:200]}"
    assert not fenced, "a code fence left open"
    assert text.count("<details>") == text.count("</details>")
    if len(uncut) > limit:
        note = lines[-2] if lines[-1] == "" else lines[-1]
        assert note.startswith(f"**Cut to fit {limit:,} characters: ") and "The full report: `trtadvisor " in note
        said = re.findall(r"(\d+) more ([a-z ]+) cut to fit the size limit", text)
        for count, what in said:  # each block's own line agrees with the closing note
            assert f"{count} {what}" in note
    else:
        assert text == uncut


def _render(result: AuditResult, limit: int, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    formatter = get_formatter("markdown", FormatOptions(root=REPO))
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 10**9)
    uncut = formatter.format(result)
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", limit)
    return formatter.format(result), uncut


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    model = tmp_path_factory.mktemp("large") / "large.onnx"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "make_large_graph.py"), "--nodes", "99000", "-o",
                    str(model)], check=True, capture_output=True, timeout=600)
    return audit(model)


@pytest.mark.parametrize("limit", [900, 1400, 2000, 2600, 3200, 10**6])
def test_99000_node_report_cut_at_boundaries(large: AuditResult, limit: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert large.prediction.node_count >= 99_000
    text, uncut = _render(large, limit, monkeypatch)
    assert_well_formed(text, limit, uncut)
    assert text.startswith("## trtadvisor: ")  # the title survives every cut


@pytest.fixture(scope="module")
def bert() -> AuditResult:
    result = audit(SAMPLES / "transformers" / "bert_base.torchscript.opset17.onnx")
    # Many distinct findings with names that need escaping (pipes, backticks, asterisks): a long table to cut.
    extra = [Finding("TRT101", "warning", f"conv|relu *{i}* blocked at `n{i}`", (f"n|{i}`x",), f"fix {i} " * (i % 9))
             for i in range(600)]
    result.findings = [*result.findings, *extra]
    return result


@pytest.mark.parametrize("limit", list(range(1000, 60_001, 2_900)))
def test_bert_report_cut_at_boundaries_across_limits(bert: AuditResult, limit: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    text, uncut = _render(bert, limit, monkeypatch)
    assert len(uncut) > 60_000
    assert_well_formed(text, limit, uncut)
    assert "more findings cut to fit the size limit" in text or "the section 'Findings'" in text


def test_sections_go_whole_when_cutting_rows_is_not_enough() -> None:
    blocks = [Block(head=["## title", ""]), Block(head=["### Attention", "", "x" * 3000]),
              Block(head=["### Run", "", "```bash", "trtexec --onnx=m.onnx " + "--flag " * 600, "```", ""])]
    text = fit(blocks, 2000, "m.onnx")
    assert len(text) <= 2000 and text.startswith("## title")
    assert "the section 'Run'" in text and "the section 'Attention'" in text and "```" not in text


def test_a_line_longer_than_the_limit_is_shortened_closing_its_span_and_fence() -> None:
    name = "`" + "n" * 5000 + "`"
    head = ["## " + name, "", "```bash", "trtexec " + "--x " * 3000, "```"]
    text = fit([Block(head=head)], 3000, "m.onnx")
    assert len(text) <= 3000
    assert_well_formed(text, 3000, "x" * 4000)
    assert "over-long lines" in text


def test_a_diff_note_names_the_diff_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from trtadvisor.ci.diff import diff_results
    from trtadvisor.knowledge.rulebook import default_rulebook

    resnet = SAMPLES / "cnn" / "resnet18.torchscript.opset17.onnx"
    new = audit(resnet)
    new.findings = [Finding("TRT101", "warning", f"finding {i} " + "z" * 80, (f"n{i}",), "fix") for i in range(400)]
    diff = diff_results(audit(resnet), new, default_rulebook())
    monkeypatch.setattr(markdown_module, "GITHUB_COMMENT_LIMIT", 8000)
    text = get_formatter("markdown", FormatOptions(root=REPO)).format_diff(diff)
    assert len(text) <= 8000
    assert ("The full report: `trtadvisor diff samples/cnn/resnet18.torchscript.opset17.onnx "
            "samples/cnn/resnet18.torchscript.opset17.onnx --format html -o report.html`") in text


def test_the_note_is_the_last_thing(tmp_path: Path) -> None:
    text = fit([Block(head=["# t"]), Block(head=["| a |", "|---|"], rows=[f"| {i} |" for i in range(900)],
                                                 what="findings")], 1000, "m.onnx")
    assert text.rstrip("\n").split("\n")[-1].startswith("**Cut to fit 1,000 characters: ")
