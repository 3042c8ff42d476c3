"""Reports that must fit a size limit (a GitHub comment holds 65,536 characters): cut, and say what.

A report is a list of blocks; a block's rows may be cut from the end. When the whole does not fit, the
block with the most characters in its rows loses half of them, again and again, each cut block saying
how many rows it lost; a last line says what was cut and where the full report is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

GITHUB_COMMENT_LIMIT = 65_536


@dataclass
class Block:
    head: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    what: str = "rows"  # what a row is, for the note: "findings", "attention groups", ...
    shown: int | None = None  # rows kept; None = all

    def lines(self) -> list[str]:
        shown = len(self.rows) if self.shown is None else self.shown
        out = [*self.head, *self.rows[:shown]]
        if shown < len(self.rows):
            out.append(f"\n*{len(self.rows) - shown} more {self.what} cut to fit the size limit.*")
        return [*out, *self.tail]

    @property
    def cut(self) -> int:
        return 0 if self.shown is None else len(self.rows) - self.shown


def run_link() -> str | None:
    """This CI run's page, where the full report can be kept as an artifact (GitHub Actions' variables)."""
    server, repo, run = (os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else None


def full_report_hint(model: str) -> str:
    link = run_link()
    where = f" (this run: {link})" if link else ""
    return (f"The full report: `trtadvisor audit {model} --format html -o report.html` (or `--format json`)"
            f"{where}.")


def _text(blocks: Sequence[Block]) -> str:
    return "\n".join(line for block in blocks for line in block.lines())


def fit(blocks: list[Block], limit: int, model: str) -> str:
    """The blocks as text of at most ``limit`` characters, rows cut where needed, with a closing note."""
    text = _text(blocks)
    if len(text) <= limit:
        return text
    closing = 400 + len(model)  # room for the note that says what was cut
    while len(text) + closing > limit:
        candidates = [b for b in blocks if (b.shown if b.shown is not None else len(b.rows)) > 0]
        if not candidates:
            break
        block = max(candidates, key=lambda b: sum(map(len, b.rows[: b.shown if b.shown is not None else None])))
        shown = len(block.rows) if block.shown is None else block.shown
        block.shown = shown // 2
        text = _text(blocks)
    cut = ", ".join(f"{b.cut} {b.what}" for b in blocks if b.cut)
    note = f"\n\n**Cut to fit {limit:,} characters: {cut}.** {full_report_hint(model)}\n"
    if len(text) + len(note) > limit:  # a single row too long for the limit: cut the text itself
        text = text[: limit - len(note) - 1]
    return text + note
