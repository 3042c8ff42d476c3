"""Benchmark: the whole audit against the tools people already run on the same file.

    python benchmarks/bench_audit.py                 # 10k and 99k nodes
    python benchmarks/bench_audit.py --nodes 99000   # one size

For each size it generates the graph (benchmarks/make_large_graph.py: weights declared external and
absent), then times, each as a fresh process so imports and start-up count the same for everyone:
  - audit:      `python -m trtadvisor audit FILE --format json -o OUT`
  - load+infer: `onnx.load(load_external_data=False)` + `onnx.shape_inference.infer_shapes`
  - gs import:  `onnx_graphsurgeon.import_onnx` (after onnx.load)
  - polygraphy: `polygraphy inspect model FILE --ignore-external-data --show layers` (when installed)
and prints wall times (best of --repeat), the audit's peak RSS, and the ratios the targets are
stated in: audit / polygraphy (target <= 0.5), audit / (load+infer) (target <= 2), and the time per
node at each size (linear growth keeps it flat).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_large_graph import make_model  # noqa: E402

LOAD_INFER = ("import onnx, onnx.shape_inference, sys; "
              "m = onnx.load(sys.argv[1], load_external_data=False); onnx.shape_inference.infer_shapes(m)")
GS_IMPORT = ("import onnx, onnx_graphsurgeon as gs, sys; "
             "gs.import_onnx(onnx.load(sys.argv[1], load_external_data=False))")


def _timed(command: list[str]) -> float:
    """Wall seconds of one run."""
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr.decode()[-2000:]}")
    return elapsed


def _best(command: list[str], repeat: int) -> float:
    return min(_timed(command) for _ in range(repeat))


def _peak_rss_mb(command: list[str]) -> float:
    """Peak RSS of one run, read from the kernel's accounting of the waited child."""
    pid = os.fork()
    if pid == 0:  # child: exec the command with output discarded
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    if status != 0:
        raise SystemExit(f"command failed: {' '.join(command)}")
    return usage.ru_maxrss / 1024.0


def bench(nodes: int, repeat: int, workdir: Path) -> dict[str, float]:
    model = make_model(nodes)
    path = workdir / f"large_{nodes}.onnx"
    path.write_bytes(model.SerializeToString())
    count = len(model.graph.node)
    out = workdir / f"report_{nodes}.json"
    audit = [sys.executable, "-m", "trtadvisor", "audit", str(path), "--format", "json", "-o", str(out), "--exit-zero"]
    results = {"nodes": float(count)}
    results["audit_s"] = _best(audit, repeat)
    results["audit_rss_mb"] = _peak_rss_mb(audit)
    results["load_infer_s"] = _best([sys.executable, "-c", LOAD_INFER, str(path)], repeat)
    results["gs_import_s"] = _best([sys.executable, "-c", GS_IMPORT, str(path)], repeat)
    polygraphy = shutil.which("polygraphy")
    if polygraphy:
        results["polygraphy_s"] = _best([polygraphy, "inspect", "model", str(path), "--ignore-external-data",
                                         "--show", "layers"], repeat)
    return results


def _byte_compile_package() -> None:
    """Compile trtadvisor's modules once, as `pip install` does for an installed package.

    onnx, onnx-graphsurgeon and Polygraphy run from compiled site-packages; an editable checkout
    (and PYTHONDONTWRITEBYTECODE) would otherwise make every timed audit compile ~80 modules
    from source first, which is start-up cost no installed copy pays.
    """
    import compileall

    import trtadvisor

    compileall.compile_dir(str(Path(trtadvisor.__file__).parent), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[10_000, 99_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    _byte_compile_package()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.nodes:
            rows.append(bench(n, args.repeat, Path(tmp)))
    print(f"{'nodes':>8} {'audit s':>8} {'RSS MB':>7} {'load+inf':>9} {'gs.import':>9} {'polygr.':>8} "
          f"{'us/node':>8} {'vs poly':>8} {'vs l+i':>7}")
    for r in rows:
        poly = r.get("polygraphy_s")
        print(f"{int(r['nodes']):>8} {r['audit_s']:>8.2f} {r['audit_rss_mb']:>7.0f} {r['load_infer_s']:>9.2f} "
              f"{r['gs_import_s']:>9.2f} {poly if poly else float('nan'):>8.2f} "
              f"{1e6 * r['audit_s'] / r['nodes']:>8.1f} "
              f"{(r['audit_s'] / poly) if poly else float('nan'):>8.2f} {r['audit_s'] / r['load_infer_s']:>7.2f}")
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        growth = (large["audit_s"] / small["audit_s"]) / (large["nodes"] / small["nodes"])
        print(f"time growth vs node growth ({int(small['nodes'])} -> {int(large['nodes'])}): {growth:.2f} "
              "(1.0 = linear; below 1 because start-up is a fixed cost)")
    print("targets: audit <= 0.5 x polygraphy, audit <= 2 x load+infer, peak RSS < 300 MB, linear growth")


if __name__ == "__main__":
    main()
