"""Shape inference in a forked child process, so it overlaps the parent's own work.

ONNX's shape inference holds the GIL, so a thread cannot overlap it; a forked child can, on
platforms where fork is safe (Linux). The command line starts the child right after reading its
arguments, before it imports onnx or the rule engine: the child loads only ONNX's C++ extension and
protobuf (see trtadvisor.ir.inferred_types) while the parent imports the rest. With --shapes it starts
once onnx is imported (the shapes are read with the loader's parser). What the child computes is the
loader's business (:func:`trtadvisor.ir.load.inferred_types_payload`); this module only runs it and
carries bytes: the answer (the types) first, then what the child sends after it (the weights' dims and the
nodes' facts).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from trtadvisor.errors import UserError
from trtadvisor.forked import fork_writer
from trtadvisor.safe_io import MODEL_MAX_BYTES, read_regular

# Below this size, inference takes milliseconds and a fork would cost more than it saves.
PARALLEL_MIN_BYTES = 1 << 20


class ChildInference:
    """A child process inferring shapes: :meth:`result` waits for its answer, :meth:`rest` for what it sends
    after it, :meth:`end` reaps it after that, :meth:`cancel` ends it at any time."""

    def __init__(self, pid: int, read_end: int) -> None:
        self._pid = pid
        self._read_end = read_end
        self._pipe: BinaryIO | None = None
        self._closed = False
        self._reaped = False

    def ready(self) -> bool:
        """Whether the answer has started to arrive (the child is done inferring): never blocks."""
        return bool(select.select([self._read_end], [], [], 0)[0])

    def result(self) -> tuple[bool, bytes] | None:
        """(True, payload) on success, (False, "kind\\x1fmessage") on an inference error, or None
        when the child died without answering. After a payload the child goes on (see :meth:`rest`)."""
        self._pipe = pipe = os.fdopen(self._read_end, "rb")
        tag = pipe.read(1)
        if tag == _ANSWER:
            size = int.from_bytes(pipe.read(_SIZE_BYTES), "little")
            payload = pipe.read(size)
            if len(payload) == size:
                return True, payload
        elif tag == _ERROR:
            message = pipe.read()
            self._end()
            return False, message
        self._end()
        return None

    def rest(self) -> bytes | None:
        """What the child sent after its payload, once it has closed the pipe; None after an error, a cancel
        or an earlier call. The child is reaped here only if it has already left: tearing down its memory
        takes it milliseconds after the pipe closes, which the caller need not wait for (:meth:`end`)."""
        if self._closed or self._pipe is None:
            return None
        try:
            return self._pipe.read()
        except OSError:
            return None
        finally:
            self._end(wait=False)

    def end(self) -> None:
        """Reap the child once it has left (after :meth:`rest`; waits for it otherwise)."""
        self._end()

    def cancel(self) -> None:
        if self._reaped:
            return
        with contextlib.suppress(OSError):
            os.kill(self._pid, signal.SIGKILL)  # harmless to a child that has sent everything and is leaving
        self._end()

    def _end(self, wait: bool = True) -> None:
        """Close the pipe (once: its descriptor may be reused after) and reap the child (``wait=False``: only
        if it has left)."""
        if not self._closed:
            self._closed = True
            with contextlib.suppress(OSError):
                if self._pipe is not None:
                    self._pipe.close()
                else:
                    os.close(self._read_end)
        if not self._reaped:
            try:
                self._reaped = os.waitpid(self._pid, 0 if wait else os.WNOHANG)[0] != 0
            except ChildProcessError:  # reaped already
                self._reaped = True


# The child's message: _ANSWER, the payload's size (_SIZE_BYTES, little-endian), the payload, then whatever
# it sends after; or _ERROR and "kind\x1fmessage" of the error that stopped it.
_ANSWER, _ERROR = b"\x00", b"\x01"
_SIZE_BYTES = 8


Compute = Callable[[Path, bytes], Iterable[bytes]]


def start(file: Path, data: bytes, compute: Compute) -> ChildInference | None:
    """Fork a child that sends back ``compute(file, data)`` (the loader's shape inference): its first part
    as the answer (:meth:`ChildInference.result`), the others after it (:meth:`ChildInference.rest`); None
    where fork is unavailable."""
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return None

    def answer() -> Iterator[bytes]:  # in the child: the answer, or the error, which the parent reports
        try:
            parts = iter(compute(file, data))
            first = next(parts)
        except Exception as exc:
            yield _ERROR + f"{type(exc).__name__}\x1f{exc}".encode("utf-8", "replace")
            return
        yield _ANSWER + len(first).to_bytes(_SIZE_BYTES, "little")
        yield first
        yield from parts  # an error here leaves the rest short: the parent does without it

    try:
        pid, read_end = fork_writer(answer)
    except OSError:
        return None
    return ChildInference(pid, read_end)


# Children started ahead of the load, by resolved path, with the bytes they were given, the file's size
# and modification time then (a changed file is read and inferred again) and the input shapes they
# were asked to infer with (--shapes; {} for the model's own).
_started: dict[str, tuple[tuple[int, int], bytes, ChildInference, dict[str, Any]]] = {}


def start_early(path: str, compute: Compute, shapes: dict[str, Any] | None = None) -> None:
    """Read a large model and start its inference now (``compute``: with the input shapes ``shapes``);
    :func:`take` hands the bytes, the child and those shapes to the loader.

    Anything unusual (a missing or small file, no fork) does nothing: the loader then does the
    work itself and reports any problem in its own words.
    """
    with contextlib.suppress(OSError, RuntimeError, UserError):
        file = Path(path)
        stat = file.stat()
        if not file.is_file() or stat.st_size < PARALLEL_MIN_BYTES:
            return
        data = read_regular(file, what="an .onnx file", hint="", limit=MODEL_MAX_BYTES)
        child = start(file, data, compute)
        if child is not None:
            _started[str(file.resolve())] = ((stat.st_size, stat.st_mtime_ns), data, child, dict(shapes or {}))


def take(file: Path) -> tuple[bytes, ChildInference, dict[str, Any]] | None:
    """The bytes, the running child and its input shapes started early for ``file``, if it has not changed
    since."""
    with contextlib.suppress(OSError, RuntimeError):  # RuntimeError: a symlink loop (resolve)
        entry = _started.pop(str(file.resolve()), None)
        if entry is None:
            return None
        stamp, data, child, shapes = entry
        stat = file.stat()
        if (stat.st_size, stat.st_mtime_ns) == stamp:
            return data, child, shapes
        child.cancel()
    return None


def cancel_unused() -> None:
    """End children started early whose model was never loaded (the command failed before)."""
    while _started:
        _, (_, _, child, _) = _started.popitem()
        child.cancel()
