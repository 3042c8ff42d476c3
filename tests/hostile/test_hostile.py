"""Every class of hostile or broken input from issue 15, reproduced: the CLI answers each with exit 0,
1 or 2 (2: one line with a ``Hint:``), never the catch-all "internal error", never a traceback, within
60 s and 2 GB, and leaves every input byte for byte as it was.

The cases run in one sandboxed worker process (tests/hostile/worker.py) with RLIMIT_AS = 2 GB; see
tests/hostile/hostile_inputs.py for how each input is made and why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hostile.hostile_inputs import Case, Outcome, catalogue, problems, run_worker


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Case], dict[str, Outcome]]:
    tmp = tmp_path_factory.mktemp("hostile")
    cases = catalogue(tmp / "in")
    return {c.name: c for c in cases}, run_worker(cases, tmp, per_case=60.0, total=900.0)


def _names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [c.name for c in catalogue(Path(tmp) / "in")]


@pytest.mark.parametrize("name", _names())
def test_hostile_input_is_answered_cleanly(name: str, ran: tuple[dict[str, Case], dict[str, Outcome]]) -> None:
    cases, outcomes = ran
    assert problems(cases[name], outcomes[name]) == []
