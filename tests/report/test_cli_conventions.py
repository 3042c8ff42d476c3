"""Conventions users know from ruff and Polygraphy: concise output, --statistics, did-you-mean, --debug anywhere,
rules as JSON and fitted to the terminal, a progress line only on a terminal, and a model zoo in one command."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trtadvisor import progress as progress_module
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import REPO, SAMPLES, sample_path, samples_where

RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
UINT8 = SAMPLES / "qdq" / "resnet18_ort_uint8_asymmetric.onnx"  # ONNX Runtime's quantizer: UINT8, asymmetric


def _cli(*args: str, timeout: int = 300, **env: str) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    environment.update(env)
    return subprocess.run([sys.executable, "-m", "trtadvisor", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=environment)


def test_concise_is_one_line_per_finding_naming_its_code() -> None:
    full = json.loads(_cli("audit", str(UINT8), "--format", "json").stdout)
    proc = _cli("audit", str(UINT8), "--format", "concise")
    assert proc.returncode == 1  # the UINT8 zero points are errors
    *lines, summary = proc.stdout.splitlines()
    assert len(lines) == len(full["findings"]) > 3
    target = full["target"]
    assert summary.startswith(f"Found {len(lines)} findings; target: TensorRT {target['trt']}, SM {target['sm']}")
    assert ("strongly typed" if target["typing"] == "strong" else "weakly typed") in summary
    model = "samples/qdq/resnet18_ort_uint8_asymmetric.onnx"
    for line, finding in zip(lines, full["findings"], strict=True):
        where = f"{model}:{finding['nodes'][0]}" if finding["nodes"] else model
        assert line.startswith(f"{where}: {finding['rule']} {finding['severity']} ")
    assert any(re.match(rf"{re.escape(model)}:\S+: TRT401 error ", line) for line in lines)


def test_statistics_counts_findings_per_rule() -> None:
    full = json.loads(_cli("audit", str(UINT8), "--format", "json").stdout)
    stats = json.loads(_cli("audit", str(UINT8), "--statistics", "--format", "json").stdout)
    expected: dict[str, int] = {}
    for f in full["findings"]:
        expected[f["rule"]] = expected.get(f["rule"], 0) + 1
    assert {s["code"]: s["count"] for s in stats} == expected
    text = _cli("audit", str(UINT8), "--statistics", "--format", "rich")
    assert text.returncode == 1 and "TRT401" in text.stdout and "qdq." in text.stdout


@pytest.mark.parametrize(("args", "suggestion"), [
    (["audit", "MODEL", "--formt", "json"], "'--format'"),
    (["audit", "MODEL", "--format", "jsn"], "'json'"),
    (["audti", "MODEL"], "'audit'"),
    (["audit", "MODEL", "--precision", "fp61"], "'fp16'"),
    (["explain", "TRT4O1"], "TRT401"),
])
def test_did_you_mean(args: list[str], suggestion: str) -> None:
    proc = _cli(*[str(RESNET) if a == "MODEL" else a for a in args])
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and f"did you mean {suggestion}" in proc.stderr


def test_debug_is_accepted_after_the_subcommand() -> None:
    proc = _cli("audit", str(RESNET), "--shapes", "input:1xbananax3", "--debug")
    assert proc.returncode != 0 and "Traceback" in proc.stderr  # --debug shows the traceback
    plain = _cli("audit", str(RESNET), "--shapes", "input:1xbananax3")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr


def test_rules_json_and_width() -> None:
    data = json.loads(_cli("rules", "--format", "json").stdout)
    book = default_rulebook()
    assert [r["code"] for r in data["rules"]] == list(book.rules)
    assert all(set(r) >= {"code", "name", "severity", "summary", "fix", "source"} for r in data["rules"])
    for columns in (80, 100, 200):
        text = _cli("rules", COLUMNS=str(columns)).stdout
        assert max(len(line) for line in text.splitlines()) <= columns
        assert all(code in text for code in book.rules)
    one = json.loads(_cli("explain", "TRT401", "--format", "json").stdout)
    assert one["code"] == "TRT401" and one["severity"] == book.rules["TRT401"].severity


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_only_after_a_second_and_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "DELAY_S", 0.05)
    tty = _Terminal()
    with progress_module.progress("auditing x.onnx", stream=tty):
        time.sleep(0.3)
    assert "auditing x.onnx" in tty.getvalue() and tty.getvalue().endswith("\r\x1b[2K")  # drawn, then erased
    quick = _Terminal()
    with progress_module.progress("auditing x.onnx", stream=quick):
        pass
    assert quick.getvalue() == ""
    pipe = io.StringIO()
    with progress_module.progress("auditing x.onnx", stream=pipe):
        time.sleep(0.3)
    assert pipe.getvalue() == ""


def test_zoo_one_bad_file_fails_its_row_not_the_run(tmp_path: Path) -> None:
    zoo = tmp_path / "zoo"
    (zoo / "sub").mkdir(parents=True)
    (zoo / "resnet18.onnx").write_bytes(RESNET.read_bytes())
    (zoo / "sub" / "uint8.onnx").write_bytes(UINT8.read_bytes())
    (zoo / "broken.onnx").write_bytes(RESNET.read_bytes()[:2000])
    proc = _cli("audit", str(zoo), "--jobs", "2", "--format", "json")
    assert proc.returncode == 2, proc.stderr  # the broken file's row: exit 2, the worst
    data = json.loads(proc.stdout)
    rows = {Path(m["model"]).name: m for m in data["models"]}
    assert set(rows) == {"resnet18.onnx", "uint8.onnx", "broken.onnx"}
    assert rows["broken.onnx"]["exit_code"] == 2 and rows["broken.onnx"]["error"]
    assert rows["uint8.onnx"]["exit_code"] == 1 and rows["uint8.onnx"]["findings"]["error"] >= 2
    assert rows["resnet18.onnx"]["exit_code"] == 0 and rows["resnet18.onnx"]["layers"] == 23
    assert rows["resnet18.onnx"]["report"]["schema"] == "trtadvisor.report/v1"
    assert "3 models, 1 failed" in proc.stderr  # the summary table, on standard error beside JSON
    # A glob, and the per-model reports written to a folder.
    out = tmp_path / "reports"
    proc = _cli("audit", str(zoo / "*.onnx"), "--jobs", "2", "--format", "markdown", "--reports-dir", str(out))
    assert proc.returncode == 2
    assert "| model |" in proc.stdout and "resnet18.onnx" in proc.stdout and "uint8" not in proc.stdout
    assert sorted(p.suffix for p in out.iterdir()) == [".md"]  # the broken model has no report


def test_zoo_of_every_sample_exits_with_the_worst_row() -> None:
    proc = _cli("audit", "samples/", "--jobs", "2", "--format", "json", timeout=900)
    data = json.loads(proc.stdout)
    expected = sorted(str(p.relative_to(REPO)) for p in SAMPLES.rglob("*.onnx"))
    assert sorted(m["model"] for m in data["models"]) == expected
    assert all(m["error"] is None for m in data["models"]), [m["error"] for m in data["models"] if m["error"]]
    for m in data["models"]:  # each row's exit code follows its own findings (fail-on error)
        assert m["exit_code"] == (1 if m["findings"]["error"] else 0)
    assert proc.returncode == max(m["exit_code"] for m in data["models"]) == 1
