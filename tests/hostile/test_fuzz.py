"""Seeded fuzzing of every input kind (issue 15), bounded for CI: about a minute on 2 cores.

250 mutations of real models, layer-info/profile/timing exports, trtexec logs, configurations,
baselines and command lines (seed 15, so a failure reproduces) run in one sandboxed worker with
RLIMIT_AS = 2 GB and 20 s per case. Each must exit 0, 1 or 2 (2: one line with a Hint), never reach
the catch-all "internal error", leave its inputs unchanged and write valid UTF-8. The larger
campaign with fresh seeds is tests/hostile/campaign.py (outside the suite).
"""

from __future__ import annotations

from pathlib import Path

from hostile.fuzz import fuzz_cases
from hostile.hostile_inputs import problems, run_worker

SEED, COUNT = 15, 250


def test_fuzzed_inputs_are_answered_cleanly(tmp_path: Path) -> None:
    cases = fuzz_cases(tmp_path / "in", SEED, COUNT)
    outcomes = run_worker(cases, tmp_path, per_case=20.0, total=300.0)
    bad = {c.name: problems(c, outcomes[c.name]) for c in cases}
    bad = {name: found for name, found in bad.items() if found}
    assert bad == {}
    # The fuzz reaches every verdict: clean runs, findings and rejected inputs all occur.
    codes = {outcomes[c.name].code for c in cases}
    assert {0, 2} <= codes
