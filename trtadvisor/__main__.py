from __future__ import annotations

from trtadvisor.cli import run

run()
