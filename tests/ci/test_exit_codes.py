"""Exit codes, the same in every format: 0 clean, 1 findings at or above --fail-on, 2 usage or input errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtadvisor.cli import main

from conftest import REPO, samples_where

FORMATS = ("rich", "json", "sarif", "markdown", "github", "html")
# Static ResNet-18 (dynamo): info findings only (weights absent, parallel branches).
STATIC = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]["path"]
# Dynamic batch without --shapes: a warning (TRT002) too.
DYNAMIC = samples_where(name="resnet18_dynbatch", exporter="torchscript")[0]["path"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)


def _audit(model: str, fmt: str, tmp_path: Path, *extra: str) -> int:
    out = tmp_path / f"report.{fmt}"
    rc = main(["audit", model, "--format", fmt, "-o", str(out), "--no-config", *extra])
    if rc != 2:
        assert out.stat().st_size > 0, "the report is written whatever the exit code"
    return rc


@pytest.mark.parametrize("fmt", FORMATS)
def test_clean_at_the_default_threshold_is_0(fmt: str, tmp_path: Path) -> None:
    assert _audit(STATIC, fmt, tmp_path) == 0
    assert _audit(DYNAMIC, fmt, tmp_path) == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_findings_at_or_above_fail_on_are_1(fmt: str, tmp_path: Path) -> None:
    assert _audit(DYNAMIC, fmt, tmp_path, "--fail-on", "warning") == 1
    assert _audit(STATIC, fmt, tmp_path, "--fail-on", "warning") == 0
    assert _audit(STATIC, fmt, tmp_path, "--fail-on", "info") == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_exit_zero_wins(fmt: str, tmp_path: Path) -> None:
    assert _audit(STATIC, fmt, tmp_path, "--fail-on", "info", "--exit-zero") == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_input_errors_are_2_with_one_line_and_a_hint(fmt: str, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert _audit(str(tmp_path / "missing.onnx"), fmt, tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Hint:" in err
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert _audit(str(bad), fmt, tmp_path) == 2


def test_usage_errors_are_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", STATIC, "--format", "pdf"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["audit", STATIC, "--baseline", "a.json", "--write-baseline", "b.json"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["diff", STATIC])
    assert exc.value.code == 2
    assert main([]) == 2
    assert main(["explain", "TRT999"]) == 2
    assert main(["audit", STATIC, "--select", "TRT999"]) == 2
    assert "unknown rule code 'TRT999'" in capsys.readouterr().err


def test_unwritable_output_is_2(tmp_path: Path) -> None:
    assert main(["audit", STATIC, "--format", "sarif", "-o", str(tmp_path / "no" / "such" / "dir.sarif")]) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_diff_exit_codes(fmt: str, tmp_path: Path) -> None:
    out = str(tmp_path / f"diff.{fmt}")
    assert main(["diff", STATIC, STATIC, "--format", fmt, "-o", out]) == 0
    assert main(["diff", STATIC, str(tmp_path / "missing.onnx"), "--format", fmt, "-o", out]) == 2


def test_source_root_must_be_a_folder_and_relocates_paths(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.github"
    assert main(["audit", STATIC, "--format", "github", "--source-root", str(tmp_path / "nope")]) == 2
    assert "--source-root" in capsys.readouterr().err
    # With the samples folder as the root, the model's path is relative to it.
    assert main(["audit", STATIC, "--format", "github", "-o", str(out), "--source-root", "samples"]) == 0
    assert f"file={STATIC.removeprefix('samples/')}," in out.read_text()


def test_the_command_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    assert gc.isenabled()
    assert main(["rules"]) == 0
    assert gc.isenabled()
    gc.disable()
    try:
        assert main(["rules"]) == 0
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_console_script_exits_without_a_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    """run() ends the process with os._exit: the collector must not be switched back on before it, or the
    first allocation scans every object the audit left (a measurable part of a large audit's time)."""
    import gc

    from trtadvisor import cli

    seen: list[tuple[str, bool]] = []
    monkeypatch.setattr(cli, "main", lambda: seen.append(("main", gc.isenabled())) or 0)
    monkeypatch.setattr(cli.os, "_exit", lambda code: seen.append(("exit", gc.isenabled())))
    assert gc.isenabled()
    try:
        cli.run()
    finally:
        gc.enable()
    assert seen == [("main", False), ("exit", False)]
