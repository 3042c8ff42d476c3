"""Where a node came from: the Python file and line, and the module scope, from exporter metadata.

PyTorch's dynamo exporter writes per-node ``metadata_props``: ``pkg.torch.onnx.stack_trace`` (frames
outermost first, ``File "/abs/path.py", line 12, in forward``), ``pkg.torch.onnx.name_scopes`` (the
module path, ``['', 'block', 'block.conv', 'conv2d_1']``) and ``namespace``. The TorchScript exporter
puts the module path in the node name instead (``/layer1/layer1.0/conv1/Conv``). Everything here is
best effort: odd or missing metadata gives ``None``, never an error.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trtadvisor.ir.graph import Graph, Node

STACK_TRACE_KEY = "pkg.torch.onnx.stack_trace"
NAME_SCOPES_KEY = "pkg.torch.onnx.name_scopes"
NAMESPACE_KEY = "namespace"

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_LIBRARY_DIRS = ("/site-packages/", "/dist-packages/", "\\site-packages\\", "\\dist-packages\\")
_NUMERIC_SUFFIX = re.compile(r"[_.:]?\d+$")


@dataclass(frozen=True)
class SourceLine:
    """A frame of the stack that created a node: the file as the exporter wrote it, and the line."""

    file: str
    line: int


def metadata(node: Node) -> dict[str, str]:
    proto = getattr(node, "proto", None)
    props = getattr(proto, "metadata_props", None)
    if not props:
        return {}
    # protobuf hands back bytes for a value that is not UTF-8: such an entry is no metadata we read
    return {p.key: p.value for p in props if isinstance(p.key, str) and isinstance(p.value, str)}


def source_line(node: Node) -> SourceLine | None:
    """The innermost frame of user code that created ``node``, or None without a stack trace.

    User code is preferred over installed libraries, and any library over torch's own modules (a
    Hugging Face model's code lives in site-packages but is still where the op was written).
    """
    trace = metadata(node).get(STACK_TRACE_KEY)
    if not trace:
        return None
    frames = [SourceLine(m["file"], int(m["line"])) for m in _FRAME.finditer(trace)]
    frames = [f for f in frames if not f.file.startswith("<")]
    for keep in (_is_user_code, _is_not_torch):
        chosen = [f for f in frames if keep(f.file)]
        if chosen:
            return chosen[-1]
    return None


def _is_user_code(file: str) -> bool:
    return not any(d in file for d in _LIBRARY_DIRS)


def _is_not_torch(file: str) -> bool:
    parts = PurePosixPath(file.replace("\\", "/")).parts
    return "torch" not in parts


def module_scope(node: Node) -> str:
    """The dotted module path of ``node`` (``block.conv``), or its name's path (``/layer1/layer1.0/conv1``).

    Empty when neither the metadata nor the name carries one. Never contains the op's own numbered name.
    """
    scopes = metadata(node).get(NAME_SCOPES_KEY)
    if scopes:
        parsed = _string_list(scopes)
        if parsed:
            modules = [s for s in parsed[:-1] if s]  # the last entry is the op (conv2d_1), renumbered freely
            return modules[-1] if modules else ""
    if "/" in node.name:
        return node.name.rsplit("/", 1)[0]
    return ""


# name_scopes is the repr of a list of str: ['', 'block', 'block.conv', 'conv2d_1']. Read with a
# pattern rather than ast.literal_eval, which a 100 KB entry of brackets drove into MemoryError.
_MAX_SCOPES_TEXT = 16 * 1024
_QUOTED = re.compile(r"""\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(?:,|$)""")


def _string_list(text: str) -> list[str] | None:
    """The strings of a Python list literal of strings, or None when ``text`` is not one (or too long)."""
    text = text.strip()
    if len(text) > _MAX_SCOPES_TEXT or len(text) < 2 or text[0] not in "[(" or text[-1] not in "])":
        return None
    body, items, pos = text[1:-1], [], 0
    while pos < len(body):
        match = _QUOTED.match(body, pos)
        if match is None or match.end() == pos:
            return None
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        items.append(raw.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\"))
        pos = match.end()
    return items


def name_stem(name: str) -> str:
    """A node name without the counter an exporter appends (``node_relu_12`` -> ``node_relu``)."""
    base = name.rsplit("/", 1)[-1]
    stem = _NUMERIC_SUFFIX.sub("", base)
    return stem or base


class SourceResolver:
    """Turns the file paths an exporter wrote into paths relative to the repository being checked.

    A model is often exported on another machine: ``/build/ws/repo/models/net.py`` is found as
    ``models/net.py`` when that exists under ``root``. Results are cached per path (few distinct files).

    The paths come from the model, so they are untrusted: only candidates that lie lexically under
    ``root`` (no ``..``, no absolute part) are looked up, one component at a time without following a
    symbolic link, so a model in a pull request cannot learn whether a path elsewhere on the machine
    exists (the rule external-data locations follow). Anything else is unknown (None).
    """

    _MAX_PATH = 4096  # longer "paths" are no file name any system accepts: unknown, never looked up

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[str, str | None] = {}

    def relative(self, file: str) -> str | None:
        """``file`` as a POSIX path relative to ``root``, or None when it is not in this checkout."""
        if file not in self._cache:
            self._cache[file] = self._resolve(file)
        return self._cache[file]

    def _resolve(self, file: str) -> str | None:
        if not file or len(file) > self._MAX_PATH or "\x00" in file:
            return None
        written = PurePosixPath(posixpath.normpath(file.replace("\\", "/")))
        if written.is_absolute():
            try:
                inside = written.relative_to(self.root.as_posix())
            except ValueError:
                inside = None
            if inside is not None and self._is_file(inside):
                return inside.as_posix()
        return self._by_suffix(written)

    def _by_suffix(self, written: PurePosixPath) -> str | None:
        parts = [p for p in written.parts if p not in ("/", ".")]
        for start in range(len(parts)):
            candidate = PurePosixPath(*parts[start:])
            if self._is_file(candidate):
                return candidate.as_posix()
        return None

    def _is_file(self, candidate: PurePosixPath) -> bool:
        """Whether ``root/candidate`` is a regular file reached without leaving ``root``: a ``..`` or a
        symbolic link on the way makes it unknown, and nothing past that point is looked up."""
        if not candidate.parts or any(p in ("..", "") or "/" in p for p in candidate.parts):
            return False
        path = self.root
        try:
            for part in candidate.parts:
                path = path / part
                mode = os.lstat(path).st_mode
                if stat.S_ISLNK(mode):
                    return False
        except (OSError, ValueError):
            return False
        return stat.S_ISREG(mode)


@dataclass(frozen=True)
class FindingLocation:
    """Where a finding points: the Python line when the exporter recorded one, else the model file and node."""

    model: str  # the model file, relative to the root when inside it
    source: SourceLine | None  # file relative to the root; None when unknown or outside the checkout
    node: str | None
    scope: str
    written: SourceLine | None = None  # the frame as the exporter wrote it (absolute, another machine's path)


class Locator:
    """Locates findings of one model; node lookups and path resolution are cached."""

    def __init__(self, model_path: str, graph: Graph, root: Path) -> None:
        self._graph = graph
        self._index: dict[str, Node] | None = None
        self.resolver = SourceResolver(root)
        self.model = self._model_uri(model_path)

    @property
    def index(self) -> dict[str, Node]:
        """Nodes by name, built on the first lookup: an audit without findings to locate never pays for it."""
        if self._index is None:
            self._index = self._graph.nodes_by_name_deep()
        return self._index

    def _model_uri(self, model_path: str) -> str:
        path = Path(model_path)
        try:
            return path.resolve().relative_to(self.resolver.root).as_posix()
        except (ValueError, OSError):
            return path.as_posix()

    def locate(self, nodes: tuple[str, ...]) -> FindingLocation:
        first_written: SourceLine | None = None
        for name in nodes:
            node = self.index.get(name)
            if node is None:
                continue
            line = source_line(node)
            if line is None:
                continue
            first_written = first_written or line
            relative = self.resolver.relative(line.file)
            if relative is not None:
                return FindingLocation(self.model, SourceLine(relative, line.line), name, module_scope(node), line)
        name = nodes[0] if nodes else None
        node = self.index.get(name) if name else None
        return FindingLocation(self.model, None, name, module_scope(node) if node is not None else "", first_written)

    def scope_of(self, name: str) -> str:
        node = self.index.get(name)
        return module_scope(node) if node is not None else ""
