"""The forked writer's pipe holds a megabyte: a child can send its parts and leave before the parent reads them."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from trtadvisor.forked import PIPE_BYTES, fork_writer

_MAX = Path("/proc/sys/fs/pipe-max-size")


@pytest.mark.skipif(sys.platform != "linux" or not _MAX.exists() or int(_MAX.read_text()) < PIPE_BYTES,
                    reason="pipes of a megabyte are a Linux feature this machine's limit allows")
def test_a_child_sends_half_a_megabyte_and_leaves_before_the_parent_reads() -> None:
    payload = bytes(range(256)) * 2048  # 512 KiB: eight times what a default pipe holds
    pid, read_end = fork_writer(lambda: iter([payload[:1000], payload[1000:]]))
    deadline = time.monotonic() + 10
    status = None
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        sent = pipe.read()
    assert status == 0  # it left, having written everything, with nobody reading
    assert sent == payload
