"""A forked child that computes bytes, writes them to a pipe and leaves at once.

Shared by the shape inference the loader overlaps with its own work (ir/shape_child.py) and by the
bounded onnxruntime comparison of ``fix`` (fix/verify.py). The child leaves with ``os._exit``: no atexit
handlers run and none of the parent's buffered output is flushed twice.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def fork_writer(compute: Callable[[], bytes]) -> tuple[int, int]:
    """Fork a child that writes ``compute()`` to a pipe and exits 0 (1, having written nothing, when it
    raises). Returns the child's pid and the pipe's read end; OSError when no pipe or process can be made."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.close(read_end)
            payload = compute()
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(payload)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end
