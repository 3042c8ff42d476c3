"""A zoo run in a file format: HTML writes one page per model without --reports-dir (beside -o, or in
./trtadvisor-reports/) and an index page linking them; the summary table and the worst row's exit code
stay; no report, index or -o ever replaces an input of the run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, SAMPLES, sample_path, samples_where

RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
UINT8 = SAMPLES / "qdq" / "resnet18_ort_uint8_asymmetric.onnx"  # errors: UINT8 zero points (exit 1)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env=env)


def _zoo(tmp_path: Path) -> Path:
    zoo = tmp_path / "zoo"
    zoo.mkdir()
    (zoo / "resnet18.onnx").write_bytes(RESNET.read_bytes())
    (zoo / "uint8.onnx").write_bytes(UINT8.read_bytes())
    (zoo / "broken.onnx").write_bytes(RESNET.read_bytes()[:2000])
    return zoo


def _links(index: Path) -> list[str]:
    return re.findall(r'<a href="([^"]+)">', index.read_text(encoding="utf-8"))


def test_html_zoo_without_reports_dir_writes_pages_and_an_index_here(tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    before = {p.name: p.read_bytes() for p in zoo.iterdir()}
    proc = _cli("audit", "zoo", "--jobs", "2", "--format", "html", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr  # the broken file's row is the worst
    folder = tmp_path / "trtadvisor-reports"
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "zoo__resnet18.html", "zoo__uint8.html"]
    assert _links(folder / "index.html") == ["zoo__resnet18.html", "zoo__uint8.html"]
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "3 models, 1 failed, worst exit code 2" in index and "broken.onnx" in index
    assert "3 models, 1 failed" in proc.stderr and "open trtadvisor-reports/index.html" in proc.stderr
    assert proc.stdout == ""
    assert {p.name: p.read_bytes() for p in zoo.iterdir()} == before  # inputs untouched


def test_html_zoo_with_o_writes_the_index_there_and_the_pages_beside_it(tmp_path: Path) -> None:
    _zoo(tmp_path)
    proc = _cli("audit", "zoo/*.onnx", "--jobs", "2", "--format", "html", "-o", "out/zoo.html", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "zoo-reports").iterdir()) == ["zoo__resnet18.html",
                                                                                   "zoo__uint8.html"]
    links = _links(tmp_path / "out" / "zoo.html")
    assert links == ["zoo-reports/zoo__resnet18.html", "zoo-reports/zoo__uint8.html"]
    for link in links:  # every link opens a full report of its model
        page = (tmp_path / "out" / link).read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "Findings" in page


def test_reports_dir_still_wins_for_html(tmp_path: Path) -> None:
    _zoo(tmp_path)
    proc = _cli("audit", "zoo", "--format", "html", "--reports-dir", "pages", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert (tmp_path / "pages" / "index.html").is_file() and (tmp_path / "pages" / "zoo__uint8.html").is_file()


def test_no_report_replaces_an_input(tmp_path: Path) -> None:
    zoo = _zoo(tmp_path)
    # A glob takes every file: an earlier page named like a model's report is an input of this run.
    (zoo / "zoo__uint8.html").write_text("an input, not ours", encoding="utf-8")
    proc = _cli("audit", "zoo/*", "--format", "html", "--reports-dir", "zoo", cwd=tmp_path)
    assert proc.returncode == 2 and "inputs are never replaced" in proc.stderr
    assert (zoo / "zoo__uint8.html").read_text(encoding="utf-8") == "an input, not ours"
    proc = _cli("audit", "zoo", "--format", "markdown", "-o", "zoo/uint8.onnx", cwd=tmp_path)
    assert proc.returncode == 2 and "inputs are never replaced" in proc.stderr
    assert (zoo / "uint8.onnx").read_bytes() == UINT8.read_bytes()


def test_text_formats_keep_their_reports_on_standard_output(tmp_path: Path) -> None:
    _zoo(tmp_path)
    proc = _cli("audit", "zoo", "--format", "markdown", cwd=tmp_path)
    assert proc.returncode == 2
    assert "## trtadvisor: 3 models" in proc.stdout and proc.stdout.count("## trtadvisor: `zoo/") == 2
    assert not (tmp_path / "trtadvisor-reports").exists()
