"""Rules as documentation: `trtadvisor rules` lists them all, `trtadvisor explain CODE` prints each part,
and a meta-test fails when any rule lacks a part (sqlfluff's and pylint's idea)."""

from __future__ import annotations

import re

import pytest

from trtadvisor.cli import main
from trtadvisor.knowledge.rulebook import RULE_KEYS, SEVERITIES, default_rulebook

BOOK = default_rulebook()
PLACEHOLDERS = re.compile(r"^\s*(n/?a|none|tbd|todo|-|\.\.\.)\b", re.IGNORECASE)


@pytest.mark.parametrize("code", list(BOOK.rules))
def test_every_rule_documents_every_part(code: str) -> None:
    doc = BOOK.rule(code)
    assert re.fullmatch(r"TRT\d{3}", doc.code)
    assert doc.severity in SEVERITIES
    assert re.fullmatch(r"[a-z0-9]+(\.[a-z0-9-]+)+", doc.name), f"{code}: name '{doc.name}' is not dotted"
    for key in RULE_KEYS:
        value = getattr(doc, key)
        assert isinstance(value, str) and len(value.strip()) >= 3, f"{code} lacks '{key}'"
        assert not PLACEHOLDERS.match(value), f"{code}: '{key}' is a placeholder ('{value}'), not content"
    assert doc.bad != doc.good, f"{code}: the bad and good examples are the same"


def test_rules_lists_every_rule(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # wide enough for one line per rule (narrower terminals wrap)
    assert main(["rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CODE", "SEVERITY", "NAME", "SUMMARY"]
    listed = {line.split()[0]: line for line in lines[1:]}
    assert set(listed) == set(BOOK.rules)
    for code, line in listed.items():
        doc = BOOK.rule(code)
        assert line.split()[1] == doc.severity and line.split()[2] == doc.name and doc.summary in line


@pytest.mark.parametrize("code", list(BOOK.rules))
def test_explain_prints_every_part(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", code.lower()]) == 0
    text = capsys.readouterr().out
    doc = BOOK.rule(code)
    for heading, value in (("What it checks", doc.summary), ("Why it matters", doc.rationale), ("Bad", doc.bad),
                           ("Good", doc.good), ("Fix", doc.fix), ("Source", doc.source)):
        assert f"{heading}:\n" in text and value in text


def test_ci_rules_are_documented() -> None:
    assert {"TRT501", "TRT502", "TRT503"} <= set(BOOK.rules)
    assert BOOK.rule("TRT501").severity == "error" and BOOK.rule("TRT502").severity == "error"
