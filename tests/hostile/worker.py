"""Run many CLI invocations in one sandboxed process: ``python worker.py < cases.json``.

Each case (``{"name", "argv", "inputs", "stdout_to", "timeout"}``) runs through ``trtadvisor.cli.main``
in this process with its standard output and error captured (strict UTF-8, as a CI log expects), its
inputs hashed before and after, and a wall-clock alarm. The parent sets RLIMIT_AS and an overall
time limit (see hostile_inputs.run_worker). One JSON line per case goes to the original standard output.
Starting Python and importing onnx once, not per case, is what lets hundreds of inputs run in a minute.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import json
import os
import resource
import signal
import stat
import sys
import time
from pathlib import Path


class _Alarm(BaseException):
    """Raised by the timer: a BaseException, so no ``except Exception`` in the code under test eats it."""


def _alarm(signum: int, frame: object) -> None:
    raise _Alarm


def _digest(path: str) -> str | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return f"mode {st.st_mode:o}"
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_case(case: dict[str, object]) -> dict[str, object]:
    from trtadvisor.cli import main

    inputs = [os.fsdecode(p) for p in case.get("inputs", [])]  # type: ignore[union-attr]
    before = {p: _digest(p) for p in inputs}
    out_buffer, err_buffer = io.BytesIO(), io.BytesIO()
    stdout_to = case.get("stdout_to")
    real_out = open(str(stdout_to), "wb", buffering=0) if stdout_to else out_buffer  # noqa: SIM115
    sys.stdout = io.TextIOWrapper(real_out, encoding="utf-8", errors="strict", write_through=True)  # type: ignore[arg-type]
    sys.stderr = io.TextIOWrapper(err_buffer, encoding="utf-8", errors="strict", write_through=True)
    start = time.monotonic()
    code: int | None
    signal.setitimer(signal.ITIMER_REAL, float(case.get("timeout", 60.0)))  # type: ignore[arg-type]
    try:
        code = main([os.fsdecode(os.fsencode(a)) for a in case["argv"]])  # type: ignore[union-attr]
    except _Alarm:
        code = None
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException as exc:
        code = -1
        err_buffer.write(f"Traceback: escaped main(): {type(exc).__name__}: {exc}".encode("utf-8", "replace"))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        seconds = time.monotonic() - start
        with contextlib.suppress(OSError):
            sys.stdout.flush()
        for wrapper in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                wrapper.detach()  # keep the buffers open: closing the wrapper would close them
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        if stdout_to:
            real_out.close()
    gc.enable()
    gc.collect()
    changed = [p for p, digest in before.items() if _digest(p) != digest]
    stdout = out_buffer.getvalue()
    try:
        stdout.decode("utf-8")
        utf8 = True
    except UnicodeDecodeError:
        utf8 = False
    # High-water marks (kB) of this worker and of the children it waited for (forked shape inference):
    # a case that raised either is the one that reached it.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"name": case["name"], "code": code, "stderr": err_buffer.getvalue().decode("utf-8", "replace"),
            "peak_kb": peak, "children_peak_kb": children,
            "stdout_sha": hashlib.sha256(stdout).hexdigest(), "stdout_utf8": utf8, "stdout_len": len(stdout),
            "stdout_head": stdout[:2000].decode("utf-8", "replace"), "seconds": seconds, "changed": changed}


def main() -> None:
    signal.signal(signal.SIGALRM, _alarm)
    results = os.fdopen(os.dup(1), "w", encoding="utf-8")
    cases = json.load(sys.stdin)
    for case in cases:
        results.write(json.dumps(run_case(case), ensure_ascii=True) + "\n")
        results.flush()


if __name__ == "__main__":
    main()
