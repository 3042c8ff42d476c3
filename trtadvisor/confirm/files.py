"""Reading artifact files robustly: every failure becomes an ArtifactError naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from trtadvisor.errors import ArtifactError

# Bytes that never occur in the text TensorRT writes, but do in images, engines and archives.
_BINARY_MARKERS = (b"\x00", b"\x89PNG", b"\xff\xd8\xff", b"PK\x03\x04", b"\x1f\x8b")


def read_text(path: Path, expected: str) -> str:
    """The file's text; ``expected`` says what kind of artifact it should be (used in the error)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file not found", f"pass the path of {expected}") from None
    except IsADirectoryError:
        raise ArtifactError(f"{path}: is a directory, not a file", f"pass the path of {expected}") from None
    except OSError as exc:
        raise ArtifactError(
            f"{path}: cannot be read ({exc.strerror})", "check the path and permissions"
        ) from None
    if not data.strip():
        raise ArtifactError(
            f"{path}: file is empty, expected {expected}", "re-run trtexec and check it finished"
        )
    if any(data.startswith(marker) for marker in _BINARY_MARKERS[1:]) or b"\x00" in data[:4096]:
        raise ArtifactError(
            f"{path}: binary file, expected {expected}",
            "pass the text/JSON file trtexec wrote, not an engine or image",
        )
    return data.decode("utf-8", errors="replace")


# A backslash not starting a valid JSON escape (TensorRT writes layer names unescaped).
_BAD_ESCAPE = re.compile(r'\\(?!["\\/bfnrtu])')


def parse_json(text: str, path: Path, expected: str) -> Any:
    """JSON as TensorRT writes it: raw control characters and stray backslashes are tolerated."""
    try:
        return json.loads(text, strict=False)
    except json.JSONDecodeError:
        pass
    try:
        return json.loads(_BAD_ESCAPE.sub(r"\\\\", text), strict=False)
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}), expected {expected}",
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
    TensorRT writes inside ``Metadata``."""
    return text.replace("\r\n", "\n").split("\n")
