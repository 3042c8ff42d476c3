"""A model zoo in one command: ``trtadvisor audit DIR_OR_GLOB --jobs N``.

Each model is audited in its own process (``trtadvisor audit MODEL --batch-row``), so a file that
crashes, hangs or exhausts memory fails its own row and nothing else. The worker prints one JSON
object: the summary row and the model's report in the chosen format. This module only starts the
workers, collects their rows and renders the summary table; it never imports the CLI.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trtadvisor.errors import UserError, shown
from trtadvisor.safe_io import exists, is_dir, is_regular

MODEL_SUFFIX = ".onnx"
ROW_TIMEOUT_S = 600  # one model; past it the row fails and the others go on
GLOB_CHARS = frozenset("*?[")


@dataclass
class Row:
    """One model of the zoo: what its audit found, or why it failed."""

    model: str
    exit_code: int
    error: str | None = None  # one line, for a model that could not be audited
    nodes: int = 0
    layers: int = 0
    coverage: float = 0.0
    findings: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    attention: dict[str, int] = field(default_factory=dict)  # verdict -> sites
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def is_batch_pattern(arg: str) -> bool:
    """A folder, or a glob that is not itself the name of a file."""
    return is_dir(arg) or (not exists(arg) and bool(GLOB_CHARS & set(arg)))


def expand_models(args: Sequence[str]) -> list[str]:
    """Model paths from files, folders (every ``*.onnx`` below, recursively) and globs; sorted, each once."""
    found: list[str] = []
    for arg in args:
        path = Path(arg)
        if is_dir(path):
            # Every entry named *.onnx but a folder: a broken link or a pipe among the models is a failed
            # row that says what it is, not a model left out without a word.
            matches = sorted(str(p) for p in path.rglob(f"*{MODEL_SUFFIX}") if not is_dir(p))
            if not matches:
                raise UserError(f"{shown(arg)}: no {MODEL_SUFFIX} file in this folder",
                                "give a folder that holds models")
        elif not exists(path) and GLOB_CHARS & set(arg):
            matches = sorted(p for p in glob.glob(arg, recursive=True) if is_regular(p))
            if not matches:
                raise UserError(f"{shown(arg)}: the pattern matches no file", "check the pattern, e.g. 'zoo/**/*.onnx'")
        else:
            matches = [arg]
        found.extend(m for m in matches if m not in found)
    return found


def row_of(result: Any, exit_code: int, seconds: float) -> Row:
    """The summary row of one audited model (``result`` is an AuditResult)."""
    from trtadvisor.report.common import attention_sites, attention_verdict, severity_counts

    p = result.prediction
    verdicts: dict[str, int] = {}
    for site in attention_sites(result.contract_fields()):
        verdict = attention_verdict(site)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    return Row(model=result.model.path, exit_code=exit_code, nodes=p.node_count, layers=len(p.layers),
               coverage=round(p.coverage, 4), findings=severity_counts(result.findings), attention=verdicts,
               seconds=round(seconds, 3))


def _run_one(model: str, passthrough: Sequence[str], fmt: str) -> tuple[Row, str]:
    import subprocess  # here, not at the top: a single audit imports this module and never runs a row

    start = time.perf_counter()
    command = [sys.executable, "-m", "trtadvisor", "audit", model, "--format", fmt, "--batch-row", *passthrough]
    env = dict(os.environ)
    env.setdefault("COLUMNS", str(_columns()))  # the worker's output is a pipe: keep the user's width
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=ROW_TIMEOUT_S, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return Row(model, 2, error=f"the audit took longer than {ROW_TIMEOUT_S} s"), ""
    seconds = time.perf_counter() - start
    last = proc.stdout.rstrip("\n").rsplit("\n", 1)[-1] if proc.stdout.strip() else ""
    try:
        payload = json.loads(last)
        row = Row(**payload["row"])
        row.seconds = round(seconds, 3)
        return row, str(payload.get("report", ""))
    except (ValueError, KeyError, TypeError):
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else f"the audit ended with exit code {proc.returncode}"
        message = message.removeprefix("error: ").removeprefix(f"{model}: ")
        return Row(model, 2, error=message[:300], seconds=round(seconds, 3)), ""


def _columns() -> int:
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def run_batch(models: Sequence[str], passthrough: Sequence[str], fmt: str, jobs: int,
              progress: Callable[[int, int, str], None] | None = None) -> list[tuple[Row, str]]:
    """Audit ``models`` in ``jobs`` parallel processes; rows in the order of ``models``."""
    results: list[tuple[Row, str] | None] = [None] * len(models)
    done = 0
    from concurrent.futures import ThreadPoolExecutor, as_completed  # only a zoo run needs threads

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_run_one, model, passthrough, fmt): i for i, model in enumerate(models)}
        for future in as_completed(futures):
            i = futures[future]
            results[i] = future.result()
            done += 1
            if progress is not None:
                progress(done, len(models), models[i])
    return [r for r in results if r is not None]


def _verdicts(row: Row) -> str:
    order = ("fused", "not fused", "unknown")
    return ", ".join(f"{row.attention[v]} {v}" for v in order if row.attention.get(v)) or "-"


def summary_rows(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for row in rows:
        if row.error is not None:
            out.append([row.model, "-", "-", "-", "-", "-", f"failed: {row.error}", str(row.exit_code)])
            continue
        f = row.findings
        out.append([row.model, str(row.layers), f"{row.coverage:.1%}", str(f.get("error", 0)),
                    str(f.get("warning", 0)), str(f.get("info", 0)), _verdicts(row), str(row.exit_code)])
    return out


HEADERS = ["model", "layers", "coverage", "error", "warning", "info", "attention", "exit"]


def render_summary_rich(rows: Sequence[Row], width: int, color: bool) -> str:
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from trtadvisor.report.text import escape_control, fold

    failed = sum(1 for r in rows if r.error is not None)
    table = Table(title=f"trtadvisor: {_models(len(rows))}, {failed} failed, worst exit code "
                  f"{max((r.exit_code for r in rows), default=0)}", title_justify="left")
    for header in HEADERS:
        table.add_column(header, justify="left" if header in ("model", "attention") else "right",
                         no_wrap=header not in ("model", "attention"), overflow="fold")
    cells_of = summary_rows(rows)
    verdict_width = min(24, max((len(c[6]) for c in cells_of), default=8))
    name_width = max(16, width - 60 - verdict_width)  # 7 narrow columns and the borders take about 60
    for row, cells in zip(rows, cells_of, strict=True):
        style = "red" if row.error is not None or row.findings.get("error") else ""
        table.add_row(Text(fold(escape_control(cells[0]), name_width), style=style),
                      *cells[1:6], Text(fold(escape_control(cells[6]), max(verdict_width, name_width // 2))),
                      cells[7])
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=color, color_system="standard" if color else None,
            no_color=not color, highlight=False, markup=False, emoji=False).print(table)
    return buffer.getvalue()


def render_summary_markdown(rows: Sequence[Row]) -> str:
    from trtadvisor.report.text import escape_control

    def cell(text: str) -> str:
        return escape_control(text).replace("|", "\\|")

    lines = [f"## trtadvisor: {_models(len(rows))}", "", "| " + " | ".join(HEADERS) + " |",
             "|---|" + "---:|" * 5 + "---|---:|"]
    lines += ["| " + " | ".join(cell(c) for c in cells) + " |" for cells in summary_rows(rows)]
    return "\n".join(lines) + "\n"


def _models(count: int) -> str:
    return f"{count} model{'' if count == 1 else 's'}"


def render_summary_html(rows: Sequence[Row], links: Sequence[str | None]) -> str:
    """The zoo's index page: the summary table with each model linked to its page (``links``, relative)."""
    from trtadvisor.report.html import zoo_index

    failed = sum(1 for r in rows if r.error is not None)
    worst = max((r.exit_code for r in rows), default=0)
    return zoo_index(f"trtadvisor: {_models(len(rows))}, {failed} failed, worst exit code {worst}", HEADERS,
                     summary_rows(rows), links, [r.error is not None or bool(r.findings.get("error")) for r in rows])


DEFAULT_REPORTS_DIR = "trtadvisor-reports"


def reports_folder(fmt: str, reports_dir: str | None, output: str | None) -> Path | None:
    """Where a zoo run writes one report per model: ``--reports-dir``; for HTML (one page per model) without
    it, a folder beside ``-o`` (``zoo.html`` -> ``zoo-reports/``) or ``trtadvisor-reports/`` here."""
    if reports_dir:
        return Path(reports_dir)
    if fmt != "html":
        return None  # the reports go, one after another, to standard output or -o
    if output:
        out = Path(output)
        return out.with_name(f"{out.stem}-reports")
    return Path(DEFAULT_REPORTS_DIR)


def index_path(folder: Path, output: str | None) -> Path:
    """The HTML index of a zoo run: ``-o`` when given, else ``index.html`` in the reports folder."""
    return Path(output) if output else folder / "index.html"


def batch_json(rows_and_reports: Sequence[tuple[Row, str]]) -> str:
    models = []
    for row, report in rows_and_reports:
        entry = row.to_json()
        try:
            entry["report"] = json.loads(report) if report else None
        except ValueError:
            entry["report"] = None
        models.append(entry)
    worst = max((row.exit_code for row, _ in rows_and_reports), default=0)
    return json.dumps({"schema": "trtadvisor.batch/v1", "exit_code": worst, "models": models},
                      ensure_ascii=False) + "\n"


REPORT_SUFFIX = {"rich": ".txt", "json": ".json", "sarif": ".sarif", "markdown": ".md", "github": ".txt",
                 "html": ".html", "concise": ".txt"}


def report_name(model: str, fmt: str, taken: set[str]) -> str:
    """A file name for a model's report: the model's path with separators made safe, unique in the folder."""
    stem = model.removesuffix(MODEL_SUFFIX).strip("./").replace("/", "__").replace("\\", "__") or "model"
    name = f"{stem}{REPORT_SUFFIX.get(fmt, '.txt')}"
    n = 2
    while name in taken:
        name = f"{stem}-{n}{REPORT_SUFFIX.get(fmt, '.txt')}"
        n += 1
    taken.add(name)
    return name
