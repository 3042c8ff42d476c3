"""Text from the model or its artifacts, made safe and readable for a medium. Pure string functions.

Node names, tensor names, paths and engine layer names are written by whoever made the file. They may
hold control characters (an ESC starts a terminal escape sequence), bidirectional overrides (which make
text read differently from what it is) or line breaks (which break one-line formats). Every formatter
passes such text through here before writing it.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the Unicode format characters that reorder or hide text (bidi embeddings,
# overrides and isolates; zero-width marks; the line and paragraph separators).
_FORMAT_CHARS = r"\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_UNSAFE = re.compile(rf"[\x00-\x1f{_FORMAT_CHARS}]")
_UNSAFE_KEEP_LINES = re.compile(rf"[\x00-\x09\x0b-\x1f{_FORMAT_CHARS}]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str, keep_newlines: bool = False) -> str:
    """``text`` with every control and reordering character written as a visible escape (``\\x1b``).

    Printable text, including non-ASCII letters, is left alone. ``keep_newlines`` keeps ``\\n`` for
    multi-line fields (a finding's message and hint); names never keep it.
    """
    pattern = _UNSAFE_KEEP_LINES if keep_newlines else _UNSAFE
    return pattern.sub(_visible, text) if pattern.search(text) else text


# Where a long name may be folded onto the next line: after a space first, else after a path, scope or
# list separator.
_BREAK_AFTER_SPACE = re.compile(r"(?<= )")
_BREAK_AFTER = re.compile(r"(?<=[/.,:;_\-+\]\)}>|=])")


def _pieces(text: str, width: int) -> list[str]:
    pieces: list[str] = []
    for word in _BREAK_AFTER_SPACE.split(text):
        pieces.extend(_BREAK_AFTER.split(word) if len(word) > width else (word,))
    return [piece for piece in pieces if piece]


def fold(text: str, width: int) -> str:
    """``text`` folded into lines of at most ``width`` cells, breaking after spaces, else after
    separators (``/``, ``.``, ``_``, ``+``, ...) rather than inside a word; a piece longer than
    ``width`` without any separator is cut where it must be. Lines are joined with ``\\n``."""
    if width <= 0 or len(text) <= width:
        return text
    lines: list[str] = []
    line = ""
    for piece in _pieces(text, width):
        if len(line) + len(piece.rstrip(" ")) > width and line:
            lines.append(line.rstrip(" "))
            line = ""
        while len(piece) > width:  # no separator to break at: cut (only where it cannot be avoided)
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    if line.strip(" "):
        lines.append(line.rstrip(" "))
    return "\n".join(lines)


def shorten(text: str, width: int, ellipsis: str = "…") -> str:
    """``text`` cut to ``width`` characters with an ellipsis at the end when it is longer."""
    if len(text) <= width:
        return text
    return text[: max(0, width - len(ellipsis))] + ellipsis
