"""Benchmark: what the cost model adds to an audit (target: < 10% at 99,000 nodes).

    python benchmarks/bench_cost.py                  # 99k nodes, best of 3
    python benchmarks/bench_cost.py --nodes 10000 --repeat 5

Times ``trtadvisor audit FILE --format json`` as a fresh process, once as it is and once with the
cost model switched off (``estimate_costs`` replaced by an estimate with no GPU, so every layer's
cost is null), on the graph of benchmarks/make_large_graph.py: with its symbolic batch (most CNN
layers unknown, the transformer's Myelin region costed) and with ``--shapes`` fixing the batch
(every layer costed). Prints the best wall times and the share the cost model adds.
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


def _best(code: str, args: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, check=False)
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"audit failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    return min(times)


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
        for label, extra in (("symbolic batch", []), ("--shapes image:1x64x56x56", ["--shapes", "image:1x64x56x56"])):
            # Interleave the two variants so a change in machine load hits both alike.
            without = _best(WITHOUT_COST, base + extra, args.repeat)
            with_cost = _best(WITH_COST, base + extra, args.repeat)
            print(f"{label:>28}: audit {with_cost:.2f} s, without the cost model {without:.2f} s, "
                  f"cost model adds {100 * (with_cost - without) / without:+.1f}% (target < 10%)")


if __name__ == "__main__":
    main()
