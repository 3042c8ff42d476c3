"""Reports that must fit a size limit (a GitHub comment holds 65,536 characters): cut, and say what.

A report is a list of blocks; a block's rows may be cut from the end. When the whole does not fit, the
block with the most characters in its rows loses half of them, again and again, each cut block saying
how many rows it lost; if that is not enough, whole sections go from the end (the title stays). A last
line says what was cut and the command that writes the full report (and this CI run's page). Cuts fall
between rows and sections; only a line longer than the limit on its own is shortened, before any code
span it would split, with open code fences and <details> closed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

GITHUB_COMMENT_LIMIT = 65_536
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")  # a Markdown code span (CommonMark 6.1)


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


def full_report_hint(model: str, command: str | None = None) -> str:
    """Where the whole report is: the command that writes it (an audit's by default), and this CI run."""
    link = run_link()
    where = f" (this run: {link})" if link else ""
    command = command or f"trtadvisor audit {model}"
    return f"The full report: `{command} --format html -o report.html` (or `--format json`){where}."


def _text(blocks: Sequence[Block]) -> str:
    return "\n".join(line for block in blocks for line in block.lines())


def _title(block: Block) -> str:
    """What a dropped block was, for the note: its heading, else what its rows are."""
    for line in block.head:
        if line.startswith("#"):
            return line.lstrip("#").strip()
        if line.startswith("**") and "**" in line[2:]:
            return line[2:line.index("**", 2)]
    return block.what


def _safe_cut(line: str, width: int) -> str:
    """A line shortened to ``width`` characters without leaving a code span or a table row open."""
    if len(line) <= width:
        return line
    end = max(0, width - 4)
    for span in _CODE_SPAN.finditer(line):  # a cut inside a code span moves to the span's start
        if span.start() < end < span.end():
            end = span.start()
            break
    cut = line[:end].rstrip("\\") + " …"  # never end on the escape of a character that was dropped
    if line.startswith("|"):
        cut += " |"
    return cut


def fit(blocks: list[Block], limit: int, model: str, command: str | None = None) -> str:
    """The blocks as text of at most ``limit`` characters, with a closing note saying what was cut and where
    the full report is. Cuts fall on row boundaries: rows leave their blocks first (from the end, the block
    with the most characters in rows halved again and again), then whole sections from the end; only a line
    longer than the limit on its own is shortened, closing its code span and table row."""
    text = _text(blocks)
    if len(text) <= limit:
        return text
    closing = 400 + len(model) + len(command or "")  # room for the note that says what was cut
    while len(text) + closing > limit:
        candidates = [b for b in blocks if (b.shown if b.shown is not None else len(b.rows)) > 0]
        if not candidates:
            break
        block = max(candidates, key=lambda b: sum(map(len, b.rows[: b.shown if b.shown is not None else None])))
        shown = len(block.rows) if block.shown is None else block.shown
        block.shown = shown // 2
        text = _text(blocks)
    dropped: list[str] = []
    while len(text) + closing > limit and len(blocks) > 1:  # the title block stays
        gone = blocks.pop()
        if gone.lines() and any(line.strip() for line in gone.lines()):
            dropped.append(_title(gone))
        text = _text(blocks)
    cut = [f"{b.cut} {b.what}" for b in blocks if b.cut] + [f"the section {name!r}" for name in reversed(dropped)]
    note = (f"\n\n**Cut to fit {limit:,} characters: {', '.join(cut) or 'over-long lines'}.** "
            f"{full_report_hint(model, command)}\n")
    if len(text) + len(note) > limit:  # a line too long for the limit on its own
        budget = limit - len(note) - len(_CLOSERS)
        lines: list[str] = []
        used = 0
        for line in text.split("\n"):
            room = budget - used - (1 if lines else 0)
            if room <= 2:
                break
            lines.append(_safe_cut(line, room))
            used += len(lines[-1]) + (1 if len(lines) > 1 else 0)
        text = "\n".join(lines)
        text += _closers(lines)
    return text + note


_CLOSERS = "\n```\n</details>"


def _closers(lines: Sequence[str]) -> str:
    """What closes a code fence or a <details> the cut left open, so that the note renders as text."""
    out = ""
    if sum(1 for line in lines if line.startswith("```")) % 2:
        out += "\n```"
    if sum(line.count("<details>") - line.count("</details>") for line in lines) > 0:
        out += "\n</details>"
    return out
