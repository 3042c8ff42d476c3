"""`trtadvisor audit DIR`: bad input for the whole run is one line with a Hint (exit 2); a bad file among good
ones is that model's failed row, and the others are audited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, sample_path, samples_where

GOOD = [sample_path(samples_where(name="resnet18", exporter="torchscript")[0]),
        sample_path(samples_where(name="mobilenet_v2", exporter="dynamo", opset=18)[0])]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True,
                          timeout=300, cwd=REPO, env=env)


def _zoo(tmp_path: Path) -> Path:
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    for path in GOOD:
        shutil.copy(path, zoo / path.name)
    (zoo / "junk.onnx").write_bytes(b"not a model")
    return zoo


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Hint: " in lines[0], proc.stderr[-500:]
    return lines[0]


@pytest.mark.parametrize(("option", "says"), [
    (("--baseline", "no-such-baseline.json"), "no-such-baseline.json"),
    (("--config", "no-such-config.toml"), "no-such-config.toml"),
    (("--shapes", "input:axb"), "input:axb"),
    (("--trt", "99"), "TensorRT 99"),
    (("--sm", "12"), "SM 12"),
    (("--gpu", "no-such-gpu"), "no-such-gpu"),
    (("--select", "TRT9X"), "TRT9X"),
    (("--write-baseline", "zoo-baseline.json"), "--write-baseline"),
])
def test_a_bad_option_for_the_whole_run_is_one_line_not_a_failed_row_per_model(
        option: tuple[str, str], says: str, tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    line = _one_error_line(_cli("audit", str(zoo), *option, "--format", "json"))
    assert says in line
    assert not (REPO / "zoo-baseline.json").exists()


@pytest.mark.parametrize("content", [(), ("README.md",), ("sub/notes.txt",)])
def test_a_folder_without_models_is_one_line(content: tuple[str, ...], tmp_path: Path) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    for name in content:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("no model here\n")
    assert "no .onnx file" in _one_error_line(_cli("audit", str(folder)))


def test_bad_files_among_good_ones_are_their_own_failed_rows(tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    (zoo / "empty.onnx").write_bytes(b"")
    (zoo / "dangling.onnx").symlink_to(tmp_path / "moved-away.onnx")  # a link whose model was moved
    proc = _cli("audit", str(zoo), "--format", "json")
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    rows = {Path(m["model"]).name: m for m in report["models"]}
    assert set(rows) == {*(p.name for p in GOOD), "junk.onnx", "empty.onnx", "dangling.onnx"}
    for bad in ("junk.onnx", "empty.onnx", "dangling.onnx"):
        assert rows[bad]["exit_code"] == 2 and "Hint: " in rows[bad]["error"], rows[bad]
    for good in GOOD:
        assert rows[good.name]["error"] is None and rows[good.name]["report"]["schema"] == "trtadvisor.report/v1"
    assert proc.returncode == report["exit_code"] == 2
