"""A forked child that computes bytes, writes them to a pipe and leaves at once.

Shared by the shape inference the loader overlaps with its own work (ir/shape_child.py) and by the
bounded onnxruntime comparison of ``fix`` (fix/verify.py). The child leaves with ``os._exit``: no atexit
handlers run and none of the parent's buffered output is flushed twice.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable

try:
    from fcntl import F_SETPIPE_SZ, fcntl
except ImportError:  # not Linux: pipes keep their default size
    F_SETPIPE_SZ = None

# A pipe holds 64 KiB by default: a child sending megabytes (the shape child's types, then the weights' dims and
# the nodes' facts) would stop after each 64 KiB until the parent reads, and the parent would take them in as
# many round trips. Linux lets a pipe hold up to /proc/sys/fs/pipe-max-size (1 MiB by default) unprivileged.
PIPE_BYTES = 1 << 20


def fork_writer(compute: Callable[[], bytes | Iterable[bytes]]) -> tuple[int, int]:
    """Fork a child that writes ``compute()`` to a pipe and exits 0 (1 when it raises, having written
    nothing, or the parts before). ``compute`` may give its bytes in parts: each is written as soon as
    it is made, so the parent can read the first while the child computes the next. Returns the child's
    pid and the pipe's read end; OSError when no pipe or process can be made."""
    read_end, write_end = os.pipe()
    if F_SETPIPE_SZ is not None:
        with contextlib.suppress(OSError):  # a lower limit set on this machine: the default size
            fcntl(write_end, F_SETPIPE_SZ, PIPE_BYTES)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            payload = compute()
            with os.fdopen(write_end, "wb") as pipe:
                for part in (payload,) if isinstance(payload, bytes) else payload:
                    pipe.write(part)
                    pipe.flush()
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end
