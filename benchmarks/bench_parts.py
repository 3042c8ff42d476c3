"""Benchmark: time budgets of single parts, kept out of the tests (wall-clock asserts there are flaky).

    python benchmarks/bench_parts.py

- swin: a Swin-style graph of ~6,000 nodes (tests/attention/models.py, 180 window-attention blocks) audited
  in-process after a warm-up; budget 1.5 s (the 99k-node audit must stay near 20 us a node).
- log: read_log of a 3.7 MB trtexec --verbose log (../shared/data/trt-artifacts); budget 1.0 s.

Prints each time against its budget and exits 1 when one is over.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import onnx  # noqa: E402

from tests.attention.models import swin_model  # noqa: E402
from trtadvisor.api import audit  # noqa: E402
from trtadvisor.confirm.logs import read_log  # noqa: E402

LOG = REPO.parent / "shared/data/trt-artifacts/levit-dla-xavier/1_only_DLA/Levit_fp16_DLA.trtexec-verbose.log"


def _best(run: object, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    over = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "swin.onnx"
        onnx.save(swin_model(180, windows=64, tokens=49, heads=3), path)
        nodes = len(onnx.load(path).graph.node)
        audit(path)  # warm imports and caches
        elapsed = _best(lambda: audit(path))
        over += elapsed > 1.5
        print(f"swin   {nodes} nodes: {elapsed:.3f} s (budget 1.5 s, {elapsed / nodes * 1e6:.1f} us/node)")
    if LOG.exists():
        elapsed = _best(lambda: read_log(LOG))
        over += elapsed > 1.0
        print(f"log    {LOG.stat().st_size / 1e6:.1f} MB: {elapsed:.3f} s (budget 1.0 s)")
    else:
        print(f"log    skipped: {LOG} is absent")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
