"""The larger fuzz campaign of issue 15, outside the suite:

    PYTHONPATH=. python tests/hostile/campaign.py --count 600 [--seed N] [--catalogue]

Fresh mutations (a new seed each run unless --seed is given) of every input kind, plus, with
--catalogue, every hand-made hostile case of hostile_inputs.catalogue. A sample of the audit cases
(--formats-sample) is repeated in every output format. Every case runs twice in sandboxed workers
(RLIMIT_AS 2 GB, 60 s per case) with different PYTHONHASHSEEDs, and the run prints the issue's numbers:
internal errors, modified inputs, hangs past 60 s or 2 GB, bad exits, outputs that differ between the
two runs (determinism), and the highest resident memory a worker or its forked children reached.
Exit status 1 when any count is non-zero.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hostile.fuzz import every_format, fuzz_cases
from hostile.hostile_inputs import Case, Outcome, catalogue, problems, run_worker


def _classify(case: Case, outcome: Outcome) -> list[str]:
    found = problems(case, outcome)
    kinds = []
    for p in found:
        if p.startswith("internal error"):
            kinds.append("internal_error")
        elif p.startswith("inputs modified"):
            kinds.append("modified_input")
        elif p.startswith("hang") or p == "memory" or outcome.code == -9:
            kinds.append("hang_or_memory")
        else:
            kinds.append("bad_exit")
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--catalogue", action="store_true", help="add the hand-made hostile cases")
    parser.add_argument("--keep", metavar="DIR", help="keep the inputs in DIR (default: a temporary folder)")
    parser.add_argument("--formats-sample", type=int, default=40, metavar="N",
                        help="repeat N audit cases in every output format (determinism of each format)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time()) % 1_000_000
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="trtadvisor-fuzz-"))
    start = time.monotonic()
    cases = fuzz_cases(tmp / "fuzz", seed, args.count)
    cases += every_format(cases, random.Random(seed), args.formats_sample)
    if args.catalogue:
        cases += catalogue(tmp / "catalogue")
    first = run_worker(cases, tmp, per_case=60.0, total=3600.0, hash_seed=1)
    second = run_worker(cases, tmp, per_case=60.0, total=3600.0, hash_seed=2)
    tally: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    codes: Counter[object] = Counter()
    slowest = max(first.values(), key=lambda o: o.seconds)
    outcomes = [*first.values(), *second.values()]
    peak = max(o.peak_kb for o in outcomes)
    children_peak = max(o.children_peak_kb for o in outcomes)
    for case in cases:
        a, b = first[case.name], second[case.name]
        codes[a.code] += 1
        kinds = set(_classify(case, a)) | set(_classify(case, b))
        if (a.code, a.stdout_sha) != (b.code, b.stdout_sha) and not case.stdout_to:
            kinds.add("nondeterministic")
        for kind in kinds:
            tally[kind] += 1
            examples.setdefault(kind, []).append(f"{case.name}: {'; '.join(problems(case, a))[:200]}")
    summary = {
        "seed": seed, "inputs": len(cases), "runs": 2 * len(cases), "exit_codes": {str(k): v for k, v in codes.items()},
        "internal_errors": tally["internal_error"], "modified_inputs": tally["modified_input"],
        "hangs_or_memory": tally["hang_or_memory"], "bad_exits": tally["bad_exit"],
        "nondeterministic": tally["nondeterministic"], "slowest_case_s": round(slowest.seconds, 2),
        "format_variants": sum(1 for c in cases if c.name.startswith("fmt_")),
        "peak_rss_mb": round(peak / 1024), "children_peak_rss_mb": round(children_peak / 1024),
        "wall_s": round(time.monotonic() - start, 1),
        "examples": {k: v[:5] for k, v in examples.items()},
    }
    print(json.dumps(summary, indent=2))
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if any(tally.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
