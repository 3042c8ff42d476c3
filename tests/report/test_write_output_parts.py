"""write_output writes a report a part at a time (safe_io._WRITE_CHARS): the file must hold the very bytes of
the whole text encoded at once, whatever falls on a part's boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from trtadvisor import safe_io
from trtadvisor.safe_io import write_output

# ASCII, a two-byte and a four-byte character, and lone surrogates (a non-UTF-8 file name's bytes).
TEXT = 'node "a" \u00e9 \U0001f600 x\udcff\ud83d\ude00 end\n' * 5


@pytest.mark.parametrize("part", [1, 2, 3, 7, len(TEXT) - 1, len(TEXT), 1 << 20])
def test_parts_make_the_whole_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part: int) -> None:
    monkeypatch.setattr(safe_io, "_WRITE_CHARS", part)
    out = tmp_path / "report.json"
    write_output(out, TEXT)
    assert out.read_bytes() == TEXT.encode("utf-8", "backslashreplace")


def test_empty_text(tmp_path: Path) -> None:
    out = tmp_path / "empty.json"
    write_output(out, "")
    assert out.read_bytes() == b""
