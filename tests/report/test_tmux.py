"""The terminal report as a person sees it in a real terminal emulator: tmux at 80, 100 and 200 columns.

tmux runs the command in a pane of the given width; the pane's content (with its history) is read back.
A line the terminal had to wrap shows up as a joined line in ``capture-pane -J``: there must be none, and
every box must close on the line it opened.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid

import pytest

from conftest import REPO, sample_path, samples_where
from conftest import artifact as art

TMUX = shutil.which("tmux")
RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
BERT = sample_path(samples_where(name="bert_eager", exporter="torchscript")[0])
A100_FP16 = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."
BOX_LEFT, BOX_RIGHT = "│┃╭╰┏┡└┗", "│┃╮╯┓┩┘┛"


def _in_tmux(columns: int, *args: str) -> tuple[list[str], list[str]]:
    """Run the CLI in a tmux pane ``columns`` wide; the pane's lines as shown, and with wrapped lines joined."""
    if TMUX is None:
        pytest.fail("tmux is not installed (apt-get install -y tmux)")
    name = f"trtadvisor-{uuid.uuid4().hex[:8]}"
    # A fixed prompt: an activated virtualenv exports its own PS1, which the filters below would not know.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "TMUX", "PS1")} | {"PS1": "$ "}
    command = (f"cd {shlex.quote(str(REPO))} && {shlex.quote(sys.executable)} -m trtadvisor "
               + " ".join(shlex.quote(a) for a in args) + f"; tmux wait-for -S {name}")
    base = [TMUX, "-L", name, "-f", "/dev/null"]
    subprocess.run([*base, "new-session", "-d", "-s", name, "-x", str(columns), "-y", "50", "bash", "--norc",
                    "--noprofile"], check=True, env=env, timeout=30)
    try:
        subprocess.run([*base, "set-option", "-g", "history-limit", "20000"], check=True, timeout=30)
        subprocess.run([*base, "resize-window", "-t", name, "-x", str(columns), "-y", "50"], timeout=30)
        subprocess.run([*base, "send-keys", "-t", name, f"clear; {command}", "Enter"], check=True, timeout=30)
        subprocess.run([*base, "wait-for", name], check=True, timeout=300)
        shown = subprocess.run([*base, "capture-pane", "-p", "-S", "-", "-t", name], check=True, timeout=30,
                               capture_output=True, text=True).stdout
        joined = subprocess.run([*base, "capture-pane", "-p", "-J", "-S", "-", "-t", name], check=True,
                                timeout=30, capture_output=True, text=True).stdout
    finally:
        subprocess.run([*base, "kill-server"], timeout=30, check=False)
    # The prompt comes back after the wait-for signal, so one capture may hold it and the other not.
    return _without_prompt(shown.rstrip("\n").splitlines()), _without_prompt(joined.rstrip("\n").splitlines())


def _without_prompt(lines: list[str]) -> list[str]:
    while lines and lines[-1].strip() in ("", "$"):
        lines.pop()
    return lines


def _report(lines: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(lines) if "trtadvisor audit" in line and line.startswith("╭"))
    return [line.rstrip() for line in lines[start:] if not line.startswith(("clear;", "$", "bash"))]


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_confirm_report_in_tmux(columns: int) -> None:
    shown, joined = _in_tmux(columns, "audit", str(RESNET), "--layer-info", str(art(A100_FP16 + "graph.json")),
                             "--profile", str(art(A100_FP16 + "profile.json")))
    report = _report(shown)
    assert max(len(line) for line in report) <= columns
    assert len(_report(joined)) == len(report), "tmux had to wrap a line"
    boxed = [line for line in report if line[:1] in BOX_LEFT]
    assert boxed and all(line[-1] in BOX_RIGHT for line in boxed), "a box does not close on its line"
    text = "\n".join(report)
    assert "Hot layers" in text and "agreement 96%" in text and "Diagnosis" in text
    assert "Predicted vs measured time per layer" in text and "Cost check" in text


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_diff_report_in_tmux(columns: int) -> None:
    unoptimized = REPO / "samples" / "cnn" / "resnet18_unoptimized.dynamo.opset18.onnx"
    shown, joined = _in_tmux(columns, "diff", str(RESNET), str(unoptimized), "--gpu", "A100")
    def from_panel(lines: list[str]) -> list[str]:
        start = next(i for i, line in enumerate(lines) if "trtadvisor diff" in line and line.startswith("╭"))
        return [line.rstrip() for line in lines[start:]]

    report = from_panel(shown)
    assert max(len(line) for line in report) <= columns
    assert len(from_panel(joined)) == len(report), "tmux had to wrap a line"
    boxed = [line for line in report if line[:1] in BOX_LEFT]
    assert boxed and all(line[-1] in BOX_RIGHT for line in boxed), "a box does not close on its line"
    assert not any("…" in line for line in report), "a name or path cut with an ellipsis"
    text = re.sub(r"[│┃ ]+", " ", "\n".join(report))
    assert re.search(r"Predicted time \d+\.\d{3} ms -> \d+\.\d{3} ms \([+-]\d+\.\d%\) on A100", text)


@pytest.mark.parametrize("columns", [80, 200])
def test_transformer_report_in_tmux(columns: int) -> None:
    shown, joined = _in_tmux(columns, "audit", str(BERT))
    report = _report(shown)
    assert max(len(line) for line in report) <= columns and len(_report(joined)) == len(report)
    assert any("Attention" in line for line in report)
