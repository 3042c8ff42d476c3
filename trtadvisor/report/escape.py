"""Text from the model (node, tensor and file names, metadata) escaped for the medium it goes into.

A model arriving in a pull request chooses its own names: a node called ``\\x1b]8;;http://x\\x07`` or
``<img src=x>`` or ``a | b`` must reach a CI log, a PR comment or a browser as text, not as markup,
a terminal command or a broken table. One module, used by every formatter:

- :func:`visible` makes any text valid UTF-8 with no control characters: bytes that were not UTF-8
  (a non-UTF-8 path arrives as lone surrogates) read ``\\xff``, control and bidirectional-override
  characters read ``\\x1b`` / ``\\u202e``. Newlines and tabs stay unless ``one_line``.
- :func:`markdown_inline`, :func:`markdown_cell`, :func:`markdown_code`: GitHub-flavoured Markdown.
- :func:`html_text`: HTML text and attribute values.
- :func:`github_data`, :func:`github_property`: workflow-command parts (GitHub's toolkit escaping).
- :func:`json_document`: a JSON document (JSON, SARIF) made valid UTF-8 after ``json.dumps``.

The terminal (rich) report escapes with :func:`visible` plus rich's own markup escaping.
"""

from __future__ import annotations

import html
import re

# C0 and C1 controls, DEL, lone surrogates (undecodable bytes), and the bidirectional controls that
# reorder what a reviewer sees (CVE-2021-42574, "Trojan Source").
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object, one_line: bool = False) -> str:
    """``text`` as valid UTF-8 without control characters (escaped as ``\\xNN``)."""
    value = str(text)
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape_char, value)


def _has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate, asked in C: an ASCII string cannot (a flag CPython keeps),
    and strict UTF-8 encoding fails on one. A regex search costs 0.1 s on a 10 MB report."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def json_document(text: str) -> str:
    """A JSON text from ``json.dumps(..., ensure_ascii=False)`` made valid UTF-8: a lone surrogate (a
    byte of a non-UTF-8 path) becomes the six characters ``\\\\xff`` inside its string. json.dumps has
    already escaped every control character."""
    if not _has_surrogate(text):
        return text
    return _SURROGATE.sub(lambda m: "\\" + _escape_char(m), text)


def no_surrogates(text: str) -> str:
    """``text`` with only its undecodable bytes (lone surrogates) escaped as ``\\xNN``: the last guard
    before bytes leave, for output whose control characters are intended (a coloured terminal)."""
    return _SURROGATE.sub(_escape_char, text) if _has_surrogate(text) else text


# Characters with a meaning in GitHub-flavoured Markdown inline text, and HTML's.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~>])")


def markdown_inline(text: object) -> str:
    """Plain text inside Markdown: no emphasis, links, HTML or table breaks can come from it."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", visible(text, one_line=True))
    return escaped.replace("&", "&amp;").replace("<", "&lt;")


def markdown_cell(text: object) -> str:
    """Text in a Markdown table cell: inline-escaped, pipes escaped, on one line."""
    return markdown_inline(text)


def markdown_code(text: object) -> str:
    """A Markdown code span holding ``text`` verbatim (fenced by more backticks than it contains)."""
    value = visible(text, one_line=True).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", value)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if value.startswith("`") or value.endswith("`") else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def html_text(text: object) -> str:
    """Text or an attribute value in HTML."""
    return html.escape(visible(text), quote=True)


def github_data(text: object) -> str:
    """The message part of a workflow command (GitHub's toolkit ``escapeData``), with no control
    characters that a log viewer would interpret."""
    value = visible(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return value.replace("\t", " ")


def github_property(text: object) -> str:
    """A ``key=value`` property of a workflow command (GitHub's toolkit ``escapeProperty``)."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")
