"""`.pre-commit-hooks.yaml`: every hook names its id, entry, language and files, and its entry runs on
several models at once, as pre-commit passes them."""

from __future__ import annotations

import re
import shlex

import pytest

from trtadvisor.cli import main

from conftest import REPO, samples_where

HOOK_KEYS = {"id", "name", "description", "entry", "language", "files", "types"}


def _hooks() -> list[dict[str, str]]:
    """The hooks file is a flat list of mappings; read it without a YAML library."""
    hooks: list[dict[str, str]] = []
    for line in (REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.match(r"^(- |  )(\w[\w-]*): (.*)$", line)
        assert match, f"unexpected line: {line!r}"
        if match.group(1) == "- ":
            hooks.append({})
        hooks[-1][match.group(2)] = match.group(3)
    return hooks


def test_hooks_are_complete() -> None:
    hooks = _hooks()
    assert [h["id"] for h in hooks] == ["trtadvisor", "trtadvisor-github"]
    for hook in hooks:
        assert set(hook) == HOOK_KEYS
        assert hook["language"] == "python"
        assert re.search(hook["files"], "models/net.onnx") and not re.search(hook["files"], "net.py")


@pytest.mark.parametrize("hook", _hooks(), ids=lambda h: h["id"])
def test_hook_entry_runs_on_several_models(hook: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)
    program, *args = shlex.split(hook["entry"])
    assert program == "trtadvisor"
    models = [s["path"] for s in samples_where(name="resnet18")]
    assert len(models) == 3
    assert main([*args, *models]) == 0
    out = capsys.readouterr().out
    assert all(m in out for m in models)
