"""The terminal report as a person sees it: the confirm flow, the terminal's width, NO_COLOR, hostile names.

Runs the real command line; a pseudo-terminal stands in for the user's terminal where it matters.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from conftest import REPO, sample_path, samples_where
from conftest import artifact as art

RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
A100_FP16 = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "LINES")}
    env.update(extra)
    return env


def _cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env=_env(**env))


def _on_terminal(*args: str, columns: int = 100, **env: str) -> tuple[int, str]:
    """Run the CLI with its standard output on a pseudo-terminal of ``columns`` columns."""
    import fcntl
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "trtadvisor", *args], stdout=child, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, cwd=REPO, env=_env(**env))
    os.close(child)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError("the report did not finish")
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    code = proc.wait(timeout=60)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def _confirm_args() -> list[str]:
    return ["audit", str(RESNET), "--layer-info", str(art(A100_FP16 + "graph.json")),
            "--profile", str(art(A100_FP16 + "profile.json")), "--format", "rich"]


@pytest.mark.parametrize("columns", [80, 100, 200])
def test_confirm_flow_in_rich_fits_the_width(columns: int) -> None:
    proc = _cli(*_confirm_args(), COLUMNS=str(columns))
    assert proc.returncode in (0, 1), proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    text = proc.stdout
    # The confirm results are all there: agreement, hot layers with the first convolution on top, diagnosis.
    assert "agreement 96%" in text and "Hot layers" in text and "Diagnosis" in text
    hot = text[text.index("Hot layers"):]
    assert hot.index("Conv_0 + Relu_1") < hot.index("Reformatting CopyNode")
    assert "layers that took no time hidden" in text


def test_the_terminal_size_sets_the_width_and_columns_wins() -> None:
    code, text = _on_terminal("audit", str(RESNET), "--format", "rich", columns=90, NO_COLOR="1")
    assert code in (0, 1)
    assert max(len(line) for line in text.splitlines()) == 90  # boxes span the whole terminal
    code, text = _on_terminal("audit", str(RESNET), "--format", "rich", columns=90, NO_COLOR="1", COLUMNS="70")
    assert max(len(line) for line in text.splitlines()) == 70


def test_no_color_on_a_terminal() -> None:
    code, coloured = _on_terminal("audit", str(RESNET), columns=100)
    assert code in (0, 1) and ANSI.search(coloured), "a terminal gets colours by default"
    code, plain = _on_terminal("audit", str(RESNET), columns=100, NO_COLOR="1")
    assert code in (0, 1) and "\x1b" not in plain and "Predicted engine" in plain


def test_long_names_fold_at_separators() -> None:
    text = _cli("audit", str(RESNET), "--format", "rich", COLUMNS="80").stdout
    # '/layer1/layer1.0/relu_1/Relu' may be folded after a '/', never inside 'layer1' or 'Relu'.
    assert not re.search(r"laye\s*│\s*│?\s*r1|Rel\s*│", text)
    assert "/layer1/layer1.0/" in text


def test_escape_sequences_in_node_names_are_shown_escaped(tmp_path: Path) -> None:
    model = onnx.load(str(RESNET), load_external_data=False)
    conv = next(node for node in model.graph.node if node.op_type == "Conv")
    conv.name = "evil\x1b]0;pwned\x07\x1b[2J\u202ename"
    hostile = tmp_path / "hostile.onnx"
    onnx.save(model, str(hostile))
    code, text = _on_terminal("audit", str(hostile), "--format", "rich", columns=200, NO_COLOR="1")
    assert code in (0, 1)
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    # Shown escaped (the name may fold after its ';' onto the next line of its cell).
    assert "evil\\x1b]0;" in text and "pwned\\x07\\x1b[2J\\u202ename" in text
