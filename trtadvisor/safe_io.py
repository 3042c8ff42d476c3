"""Reading inputs and writing outputs when the files may be hostile (they arrive in pull requests).

- Only regular files are read: a FIFO would block forever, ``/dev/zero`` never ends, a directory or a
  symlink loop cannot be read. Files are opened with ``O_NONBLOCK`` and checked with ``fstat`` on the
  open descriptor (no race between a check and the open), and read up to a size bound.
- Outputs are written through a temporary file in the same folder and renamed over the target, so a
  reader never sees half a report and a failed write leaves the old file; an output never replaces an
  input of the same run or a configuration file (:func:`check_outputs`).
- Text that goes back to the user (paths, arguments) is shown with odd bytes escaped and clipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from trtadvisor.errors import UserError, shown

KB, MB, GB = 1 << 10, 1 << 20, 1 << 30
# The largest ONNX file protobuf can parse; the artifacts TensorRT writes are far smaller.
MODEL_MAX_BYTES = 2 * GB
ARTIFACT_MAX_BYTES = 256 * MB
LOG_MAX_BYTES = 512 * MB
CONFIG_MAX_BYTES = 4 * MB
CONFIG_NAMES = ("trtadvisor.toml", "pyproject.toml")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno == errno.ELOOP:
        return "a symbolic link loop"
    if exc.errno == errno.ENAMETOOLONG:
        return "the name is too long"
    return f"cannot be read ({exc.strerror or type(exc).__name__})"


def read_regular(path: str | os.PathLike[str], *, what: str, hint: str, limit: int,
                 error: type[UserError] = UserError) -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them; anything else raises ``error``
    with one line naming the file (``what`` says what it should be) and ``hint``."""
    name = shown(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise error(f"{name}: is a directory, expected {what}", hint) from None
        if exc.errno == errno.ENXIO:
            raise error(f"{name}: {_kind(stat.S_IFSOCK)}, expected {what}", hint) from None
        raise error(f"{name}: {_os_problem(exc)}", hint) from None
    except ValueError:  # a NUL byte in the path
        raise error(f"{name}: not a valid file name", hint) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name}: {_kind(info.st_mode)}, expected {what}", hint)
        if info.st_size > limit:
            raise error(f"{name}: {info.st_size / MB:.0f} MB, more than the {limit // MB} MB such a file can be",
                        hint)
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(16 * MB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # grew while being read
                raise error(f"{name}: more than the {limit // MB} MB such a file can be", hint)
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{name}: {_os_problem(exc)}", hint) from None
    except MemoryError:
        raise error(f"{name}: too large to read into memory", hint) from None
    finally:
        os.close(fd)


def read_regular_at(path: str | os.PathLike[str], offset: int, length: int) -> bytes | None:
    """At most ``length`` bytes at ``offset`` of the regular file at ``path``, opened as :func:`read_regular`
    opens files (a FIFO or a device never blocks the caller or feeds it endless bytes); None for anything
    that is not a regular file. For reads an analysis can do without: OSError and ValueError (a NUL byte
    in the path) reach the caller."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        os.lseek(fd, offset, os.SEEK_SET)
        return os.read(fd, length)
    finally:
        os.close(fd)


def is_regular(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a regular file (following links); False for anything odd, never raises."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def is_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory (following links); False for a name too long, a loop, a NUL byte."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def exists(path: str | os.PathLike[str]) -> bool:
    """Whether anything is at ``path``; False where the name itself cannot be looked up."""
    try:
        os.stat(path)
    except (OSError, ValueError):
        return False
    return True


# ---------------------------------------------------------------------------------------------------
# Outputs

class OutputError(UserError):
    """An output path is unusable: it would replace an input or a configuration file, or cannot be written."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        pass
    try:
        return a.resolve() == b.resolve()
    except (OSError, RuntimeError, ValueError):
        return os.path.abspath(a) == os.path.abspath(b)


def check_outputs(outputs: Mapping[str, str | None], inputs: Iterable[tuple[str, str | os.PathLike[str] | None]]
                  ) -> None:
    """Refuse an output (``flag -> path``) that is an input of the run (``(label, path)`` pairs), a
    configuration file, or another output of the same run; each refusal names both."""
    given = [(flag, Path(path)) for flag, path in outputs.items() if path]
    known = [(label, Path(p)) for label, p in inputs if p]
    for i, (flag, out) in enumerate(given):
        if out.name in CONFIG_NAMES:
            raise OutputError(f"{flag} {shown(out)} would write over a configuration file",
                              f"write the report elsewhere: {out.name} configures trtadvisor and other tools")
        for label, source in known:
            if _same_file(out, source):
                raise OutputError(f"{flag} {shown(out)} is the {label} {shown(source)} of this run",
                                  "write the output to another file; inputs are never replaced")
        for other_flag, other in given[i + 1:]:
            if _same_file(out, other):
                raise OutputError(f"{flag} {shown(out)} and {other_flag} {shown(other)} are the same file",
                                  "give each output its own file")


_WRITE_CHARS = 1 << 20  # characters encoded and written at a time


def write_output(path: str | os.PathLike[str], text: str, *, flag: str = "-o") -> None:
    """Write ``text`` to ``path`` atomically (temporary file + rename); a device or FIFO that already
    exists there (``/dev/null``, ``/dev/stdout``) is written in place instead of being replaced."""
    target = Path(path)
    hint = f"choose a writable file for {flag}"
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise OutputError(f"cannot write {shown(target)} ({_os_problem(exc)})", hint) from None
    except ValueError:
        raise OutputError(f"cannot write {shown(target)} (not a valid file name)", hint) from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise OutputError(f"cannot write {shown(target)}: it is a directory", f"give a file name to {flag}")
    if info is not None and not stat.S_ISREG(info.st_mode):
        _write_in_place(target, text.encode("utf-8", "backslashreplace"), hint)
        return
    folder = target.parent
    try:
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name[:64]}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write {shown(target)} ({exc.strerror or exc})", hint) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            # A part at a time: a 10 MB report is not copied whole into a second buffer (fresh memory costs
            # a page fault per 4 KB). UTF-8 encodes each character on its own, so the bytes are the same.
            for start in range(0, len(text), _WRITE_CHARS):
                handle.write(text[start:start + _WRITE_CHARS].encode("utf-8", "backslashreplace"))
            handle.flush()
        os.chmod(temp, info.st_mode & 0o7777 if info is not None else 0o666 & ~_umask())
        os.replace(temp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise OutputError(f"cannot write {shown(target)} ({exc.strerror or exc})", hint) from None


def _write_in_place(target: Path, data: bytes, hint: str) -> None:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        reason = "a FIFO nobody reads" if exc.errno == errno.ENXIO else exc.strerror
        raise OutputError(f"cannot write {shown(target)} ({reason})", hint) from None
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise OutputError(f"cannot write {shown(target)} ({exc.strerror})", hint) from None
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---------------------------------------------------------------------------------------------------
# JSON from files we did not write

MAX_JSON_DEPTH = 64      # TensorRT's exports nest 4 deep; a baseline 3
_MAX_INT_DIGITS = 40     # a 64-bit tactic id has 20


class JsonProblem(ValueError):
    """What is wrong with a JSON document, in words for a one-line error."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise JsonProblem(f"an integer of {len(text)} digits")
    return int(text)


def _no_constant(name: str) -> None:
    """NaN and Infinity are not JSON; TensorRT never writes them. They read as "unknown"."""
    return None


def load_json(text: str, *, strict: bool = False) -> object:
    """``json.loads`` bounded: integers of at most 40 digits, NaN/Infinity as None, nesting at most
    :data:`MAX_JSON_DEPTH` deep. Raises :class:`JsonProblem` or ``json.JSONDecodeError``."""
    import json

    try:
        data = json.loads(text, strict=strict, parse_int=_parse_int, parse_constant=_no_constant)
    except RecursionError:
        raise JsonProblem("nested too deeply") from None
    except MemoryError:
        raise JsonProblem("too large to hold in memory") from None
    _check_depth(data)
    return data


def _check_depth(data: object) -> None:
    """Iteratively: the document itself may be nested just below the parser's recursion limit."""
    stack = [(data, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise JsonProblem(f"nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
