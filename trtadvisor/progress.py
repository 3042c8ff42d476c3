"""A progress indicator on standard error, for work that takes over a second, on a terminal only.

Nothing is written when standard error is not a terminal (CI logs, pipes, files) or for work that ends
within the first second: a quick audit prints exactly what it printed before. The line is erased when
the work ends, so the report that follows starts on a clean line.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TextIO

DELAY_S = 1.0  # show nothing for work shorter than this
TICK_S = 0.2
FRAMES = "|/-\\"


def _enabled(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Line:
    """One status line on ``stream``, redrawn in place; erased on close."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.shown = False
        self.lock = threading.Lock()

    def draw(self, text: str) -> None:
        import shutil

        width = max(10, shutil.get_terminal_size((80, 24)).columns - 1)
        with self.lock:
            try:
                self.stream.write("\r\x1b[2K" + text[:width])
                self.stream.flush()
                self.shown = True
            except (OSError, ValueError):
                pass

    def erase(self) -> None:
        with self.lock:
            if self.shown:
                try:
                    self.stream.write("\r\x1b[2K")
                    self.stream.flush()
                except (OSError, ValueError):
                    pass
                self.shown = False


@contextmanager
def progress(label: str, stream: TextIO | None = None) -> Iterator[None]:
    """Show ``label`` with a spinner and the seconds elapsed, after the first second, until the block ends."""
    stream = stream if stream is not None else sys.stderr
    if not _enabled(stream):
        yield
        return
    from trtadvisor.report.text import escape_control

    label = escape_control(label)
    line = _Line(stream)
    stop = threading.Event()
    start = time.monotonic()

    def spin() -> None:
        if stop.wait(DELAY_S):
            return
        frame = 0
        while not stop.is_set():
            line.draw(f"{FRAMES[frame % len(FRAMES)]} {label} ({time.monotonic() - start:.0f} s)")
            frame += 1
            stop.wait(TICK_S)

    thread = threading.Thread(target=spin, name="trtadvisor-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=1.0)
        line.erase()


class Counter:
    """``audited 3/60: zoo/a.onnx``, for many models; the same rules as :func:`progress`."""

    def __init__(self, verb: str, total: int, stream: TextIO | None = None) -> None:
        self.verb = verb
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _enabled(self.stream)
        self.start = time.monotonic()
        self.line = _Line(self.stream)

    def step(self, done: int, total: int, name: str) -> None:
        if self.enabled and time.monotonic() - self.start >= DELAY_S:
            from trtadvisor.report.text import escape_control

            self.line.draw(f"{self.verb} {done}/{total}: {escape_control(name)}")

    def __enter__(self) -> Counter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.line.erase()
