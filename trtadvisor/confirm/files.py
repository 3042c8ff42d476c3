"""Reading artifact files robustly: every failure becomes an ArtifactError naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from trtadvisor.errors import ArtifactError, shown
from trtadvisor.safe_io import ARTIFACT_MAX_BYTES, JsonProblem, load_json, read_regular

# Bytes that never occur in the text TensorRT writes, but do in images, engines and archives.
_BINARY_MARKERS = (b"\x00", b"\x89PNG", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")


# Lines longer than this are cut before any pattern sees them: TensorRT's longest lines (a Myelin
# layer's name with its tensors) are a few KB, and no reader needs more of a line than its head.
MAX_LINE = 64 * 1024


def read_text(path: Path, expected: str, limit: int = ARTIFACT_MAX_BYTES) -> str:
    """The file's text; ``expected`` says what kind of artifact it should be (used in the error).

    Only a regular file of at most ``limit`` bytes is read (a FIFO, a device or a directory is an
    ArtifactError, never a hang).
    """
    data = read_regular(path, what=expected, hint=f"pass the path of {expected}", limit=limit,
                        error=ArtifactError)
    if not data.strip():
        raise ArtifactError(
            f"{shown(path)}: file is empty, expected {expected}", "re-run trtexec and check it finished"
        )
    if any(data.startswith(marker) for marker in _BINARY_MARKERS[1:]) or b"\x00" in data[:4096]:
        raise ArtifactError(
            f"{shown(path)}: binary file, expected {expected}",
            "pass the text/JSON file trtexec wrote, not an engine or image",
        )
    return data.decode("utf-8", errors="replace")


# A backslash not starting a valid JSON escape (TensorRT writes layer names unescaped).
_BAD_ESCAPE = re.compile(r'\\(?!["\\/bfnrtu])')


def parse_json(text: str, path: Path, expected: str) -> Any:
    """JSON as TensorRT writes it: raw control characters and stray backslashes are tolerated; sizes
    are bounded (see :func:`trtadvisor.safe_io.load_json`)."""
    try:
        try:
            return load_json(text)
        except json.JSONDecodeError:
            pass
        return load_json(_BAD_ESCAPE.sub(r"\\\\", text))
    except JsonProblem as exc:
        raise ArtifactError(f"{shown(path)}: {exc}, expected {expected}",
                            "pass the file trtexec wrote; this one was not written by TensorRT") from None
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{shown(path)}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}), expected {expected}",
            "the file may be truncated or not a trtexec export; re-run trtexec",
        ) from None


def read_json(path: Path, expected: str) -> Any:
    return parse_json(read_text(path, expected), path, expected)


def looks_like_json(text: str) -> bool:
    """A JSON document, not a log whose first line starts with a ``[tag]``."""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        return True
    return bool(re.match(r"\[\s*[\[{\"\]]", stripped))


def split_lines(text: str) -> list[str]:
    """Lines split on newlines only: ``str.splitlines`` would also split on the U+001E/U+001F separators
    TensorRT writes inside ``Metadata``. Lines over :data:`MAX_LINE` characters are cut there, so
    every pattern run on them has bounded work."""
    lines = text.replace("\r\n", "\n").split("\n")
    if len(text) > MAX_LINE:
        lines = [line if len(line) <= MAX_LINE else line[:MAX_LINE] for line in lines]
    return lines
