"""Errors a user can cause: each carries a one-line message and a hint, and maps to exit code 2."""

from __future__ import annotations

import os

_SHOWN = 160  # characters of a path or an argument a message quotes
_MESSAGE_MAX = 600


def shown(text: object, limit: int = _SHOWN) -> str:
    """``text`` fit for a one-line message: undecodable bytes and control characters escaped, clipped.

    Paths and arguments come from the user or from a model in a pull request: a 10 KB argument, a
    non-UTF-8 file name or a terminal escape sequence must not reach the terminal as it is.
    """
    raw = os.fspath(text) if isinstance(text, (str, os.PathLike)) else str(text)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "surrogateescape")
    clean = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if not clean.isprintable():
        clean = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in clean)
    if len(clean) > limit:
        clean = f"{clean[: max(limit - 24, 8)]}...[{len(clean)} characters]"
    return clean


class UserError(Exception):
    """An input or usage problem the user can fix; printed as one line plus a ``Hint:``."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and hint on one line, whatever they quote (clipped, control characters escaped)."""
        return f"error: {shown(self.message, _MESSAGE_MAX)}. Hint: {shown(self.hint, _MESSAGE_MAX)}"


class ModelLoadError(UserError):
    """The ONNX file is missing, not ONNX, truncated or inconsistent."""


class ArtifactError(UserError):
    """A TensorRT artifact (layer info, profile, timing, log) could not be read."""


class RuleDataError(UserError):
    """The rule data under ``rules/`` is malformed (a bug in the package or a user override)."""


class TargetError(UserError):
    """The requested target (TensorRT version, SM, GPU, precision) is not valid."""
