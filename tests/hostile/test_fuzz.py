"""Seeded fuzzing of every input kind (issue 15), bounded for CI: about a minute on 2 cores.

250 mutations of real models, layer-info/profile/timing exports, trtexec logs, configurations,
baselines and command lines (seed 15, so a failure reproduces) run in one sandboxed worker with
RLIMIT_AS = 2 GB and 20 s per case. Each must exit 0, 1 or 2 (2: one line with a Hint), never reach
the catch-all "internal error", leave its inputs unchanged and write valid UTF-8. A sample of them is
then run in every output format twice, in two workers with different hash seeds, and must give the
same bytes. The larger campaign with fresh seeds is tests/hostile/campaign.py (outside the suite).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from hostile.fuzz import FORMATS, every_format, fuzz_cases
from hostile.hostile_inputs import Case, Outcome, problems, run_worker

SEED, COUNT, FORMAT_SAMPLE = 15, 250, 4


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Case], dict[str, Outcome]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    cases = fuzz_cases(tmp / "in", SEED, COUNT)
    return tmp, cases, run_worker(cases, tmp, per_case=20.0, total=300.0)


def test_fuzzed_inputs_are_answered_cleanly(fuzzed: tuple[Path, list[Case], dict[str, Outcome]]) -> None:
    _, cases, outcomes = fuzzed
    bad = {c.name: problems(c, outcomes[c.name]) for c in cases}
    bad = {name: found for name, found in bad.items() if found}
    assert bad == {}
    # The fuzz reaches every verdict: clean runs, findings and rejected inputs all occur.
    codes = {outcomes[c.name].code for c in cases}
    assert {0, 2} <= codes


def test_every_format_is_byte_identical_across_runs(fuzzed: tuple[Path, list[Case], dict[str, Outcome]]) -> None:
    tmp, cases, outcomes = fuzzed
    # audits the fuzz answered with a report (exit 0 or 1), so that there is output to compare
    answered = [c for c in cases if outcomes[c.name].code in (0, 1)]
    variants = every_format(answered, random.Random(SEED), FORMAT_SAMPLE)
    assert {c.argv[c.argv.index("--format") + 1] for c in variants} == set(FORMATS)
    first = run_worker(variants, tmp, per_case=20.0, total=200.0, hash_seed=1)
    second = run_worker(variants, tmp, per_case=20.0, total=200.0, hash_seed=2)
    differ = [c.name for c in variants
              if (first[c.name].code, first[c.name].stdout_sha) != (second[c.name].code, second[c.name].stdout_sha)]
    assert differ == []
    assert all(first[c.name].code in (0, 1) for c in variants)
