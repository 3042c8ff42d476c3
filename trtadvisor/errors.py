"""Errors a user can cause: each carries a one-line message and a hint, and maps to exit code 2."""

from __future__ import annotations


class UserError(Exception):
    """An input or usage problem the user can fix; printed as one line plus a ``Hint:``."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        return f"error: {self.message}. Hint: {self.hint}"


class ModelLoadError(UserError):
    """The ONNX file is missing, not ONNX, truncated or inconsistent."""


class ArtifactError(UserError):
    """A TensorRT artifact (layer info, profile, timing, log) could not be read."""


class RuleDataError(UserError):
    """The rule data under ``rules/`` is malformed (a bug in the package or a user override)."""


class TargetError(UserError):
    """The requested target (TensorRT version, SM, GPU, precision) is not valid."""
