"""Benchmark: what the cost model adds to an audit (target: < 10% at 99,000 nodes).

    python benchmarks/bench_cost.py                  # 99k nodes, best of 3
    python benchmarks/bench_cost.py --nodes 10000 --repeat 5

Times ``trtadvisor audit FILE --format json`` as a fresh process, once as it is and once with the
cost model switched off (``estimate_costs`` replaced by an estimate with no GPU, so every layer's
cost is null), on the graph of benchmarks/make_large_graph.py: with its symbolic batch (most CNN
layers unknown, the transformer's Myelin region costed) and with ``--shapes`` fixing the batch
(every layer costed). Prints the best wall times and the share the cost model adds (the two variants
alternate run by run), and, measured inside one process after a warm-up, the cost stage's median share of
the audit and its JSON report: the share with process start-up and machine noise taken out.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_large_graph import make_model  # noqa: E402

# The CLI with the cost stage replaced by a no-op estimate (same output shape, costs null).
WITHOUT_COST = (
    "import sys, trtadvisor.api as api\n"
    "from trtadvisor.plan.cost import CostEstimate\n"
    "api.estimate_costs = lambda graph, prediction, target, book: "
    "CostEstimate([None] * len(prediction.layers), None, target.precision)\n"
    "from trtadvisor.cli import run\n"
    "sys.argv = ['trtadvisor', *sys.argv[1:]]\n"
    "run()\n"
)
WITH_COST = "import sys\nfrom trtadvisor.cli import run\nsys.argv = ['trtadvisor', *sys.argv[1:]]\nrun()\n"


def _once(code: str, args: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"audit failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return elapsed


def _best_pair(args: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time without and with the cost model, the runs alternating so that a change in the
    machine's load hits both alike."""
    without, with_cost = [], []
    for _ in range(repeat):
        without.append(_once(WITHOUT_COST, args))
        with_cost.append(_once(WITH_COST, args))
    return min(without), min(with_cost)


# In one process, after a warm-up: the audit (api.audit + the JSON report) timed as a whole and the cost
# stage timed on its own, each run; prints the median share. Free of start-up and of other processes'
# noise, it is the cost model's own share of the audit's work.
IN_PROCESS = (
    "import statistics, sys, time\n"
    "import trtadvisor.api as api\n"
    "from trtadvisor.ir.load import parse_shape_overrides\n"
    "from trtadvisor.report.json_report import render_json\n"
    "spent = []\n"
    "real = api.estimate_costs\n"
    "def timed(*a):\n"
    "    start = time.perf_counter(); out = real(*a); spent.append(time.perf_counter() - start); return out\n"
    "api.estimate_costs = timed\n"
    "shapes = parse_shape_overrides(sys.argv[3]) if len(sys.argv) > 3 else None\n"
    "shares, totals = [], []\n"
    "for i in range(int(sys.argv[2]) + 1):\n"
    "    start = time.perf_counter(); render_json(api.audit(sys.argv[1], shapes=shapes))\n"
    "    total = time.perf_counter() - start\n"
    "    if i: shares.append(spent[-1] / total); totals.append(total)\n"
    "print(f'{statistics.median(spent[1:]):.3f} {statistics.median(totals):.3f} {statistics.median(shares):.4f}')\n"
)


def _in_process(path: str, repeat: int, shapes: str | None) -> tuple[float, float, float]:
    command = [sys.executable, "-c", IN_PROCESS, path, str(repeat), *([shapes] if shapes else [])]
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"in-process audit failed: {proc.stderr[-2000:]}")
    cost_s, total_s, share = (float(x) for x in proc.stdout.split())
    return cost_s, total_s, share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=99_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "large.onnx"
        model = make_model(args.nodes)
        path.write_bytes(model.SerializeToString())
        out = str(Path(tmp) / "report.json")
        base = ["audit", str(path), "--format", "json", "-o", out, "--exit-zero"]
        print(f"{len(model.graph.node)} nodes")
        for label, shapes in (("symbolic batch", None), ("--shapes image:1x64x56x56", "image:1x64x56x56")):
            extra = ["--shapes", shapes] if shapes else []
            without, with_cost = _best_pair(base + extra, args.repeat)
            print(f"{label:>28}: audit {with_cost:.2f} s, without the cost model {without:.2f} s, "
                  f"cost model adds {100 * (with_cost - without) / without:+.1f}% (target < 10%)")
            cost_s, total_s, share = _in_process(str(path), args.repeat, shapes)
            print(f"{'':>28}  in one process (median of {args.repeat}): cost stage {cost_s:.3f} s of "
                  f"{total_s:.3f} s for audit + JSON, {100 * share:.1f}%")


if __name__ == "__main__":
    main()
