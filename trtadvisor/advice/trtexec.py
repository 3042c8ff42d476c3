"""The trtexec commands that fit the model and the TensorRT version.

Flags and their history come from rules/trt.toml: precision flags exist through 10.x and are gone in
11.x (strongly typed only); CUDA graphs, spin-wait and no data transfers are asked for before 11.x
and are defaults from 11.x (their inverses --noCudaGraph, --noSpinWait, --includeDataTransfers);
the profiling recipe adds detailed verbosity, the three exports and, before 11.x,
--separateProfileRun. Every printed flag is one the target version's trtexec has.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from trtadvisor.ir.graph import Graph
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import DEFAULT_OPT_LEVEL, Target
from trtadvisor.knowledge.trtexec_flags import grammar


def _dims_text(dims: tuple[object, ...]) -> str:
    return "x".join(str(d) if isinstance(d, int) else "1" for d in dims)


def input_shapes(model: LoadedModel) -> dict[str, tuple[object, ...]]:
    graph = model.graph
    shapes: dict[str, tuple[object, ...]] = {}
    for name in graph.inputs:
        shape = graph.shape(name)
        if shape is not None:
            shapes[name] = shape
    return shapes


def dynamic_inputs(model: LoadedModel) -> list[str]:
    return [name for name, shape in input_shapes(model).items() if not all(isinstance(d, int) for d in shape)]


def has_qdq(graph: Graph) -> bool:
    return any(g.nodes_of("QuantizeLinear", "DequantizeLinear") for g in graph.walk())


def has_cuda_graph_blockers(graph: Graph, book: RuleBook) -> bool:
    blockers = book.trt["cuda_graph"]["blockers"]
    return any(g.nodes_of(*blockers) for g in graph.walk())


def precision_flags(model: LoadedModel, target: Target, book: RuleBook) -> list[str]:
    """Weakly typed: the flag of --precision. Strongly typed: the model's types decide, so no precision
    flag at all from 11.0 (they are removed) and --stronglyTyped on 9.0-10.x; --noTF32 for fp32 in both."""
    flags_table = book.trt["precision_flags"]
    if target.strong:
        flags = [] if target.trt_at_least(flags_table["removed_in"]) else [flags_table["strongly_typed"]]
        return flags + ([flags_table["tf32_off"]] if target.intent == "fp32" else [])
    if target.precision == "fp32":
        return [flags_table["tf32_off"]]
    if target.precision == "tf32":
        return []
    if target.precision == "best":
        return [flags_table["best"]]
    if target.precision == "fp8" and not has_qdq(model.graph):
        return [flags_table["fp16"]]  # FP8 exists only through Q/DQ: TRT222 says so; FP16 is what builds
    flag = flags_table.get(target.precision)
    return [flag] if flag else []  # implicit INT8: TRT222 names the calibration cache flag


def _shapes_flag(model: LoadedModel) -> list[str]:
    dynamic = set(dynamic_inputs(model))
    chosen: dict[str, tuple[object, ...]] = {}
    for name, shape in input_shapes(model).items():
        if name in model.shape_overrides:
            chosen[name] = model.shape_overrides[name]
        elif name in dynamic:
            chosen[name] = shape
    if not chosen:
        return []
    return ["--shapes=" + ",".join(f"{_quote_name(n)}:{_dims_text(s)}" for n, s in chosen.items())]


def _quote_name(name: str) -> str:
    """trtexec reads a name holding ',' or ':' inside single quotes; the shell quoting of the whole
    argument (see _join) keeps those quotes for trtexec."""
    return f"'{name}'" if any(c in name for c in ",:") else name


def build_flags(model: LoadedModel, target: Target, book: RuleBook) -> list[str]:
    """The flags that decide what engine is built: input shapes (the optimization profile the target was
    given), precision and a builder optimization level other than the default."""
    shapes = list(target.profile_flags) or _shapes_flag(model)
    level = [f"--builderOptimizationLevel={target.opt_level}"] if target.opt_level != DEFAULT_OPT_LEVEL else []
    return [*shapes, *precision_flags(model, target, book), *level]


def measurement_flags(model: LoadedModel, target: Target, book: RuleBook) -> list[str]:
    """Stable measurement: --noDataTransfers --useSpinWait (--useCudaGraph when nothing blocks capture)
    before 11.0; from 11.0 all three are defaults, and only --noCudaGraph is printed where capture is
    blocked (the same engine run as before)."""
    cuda_graph = book.trt["cuda_graph"]
    blocked = has_cuda_graph_blockers(model.graph, book)
    if target.trt_at_least(book.trt["stable_measurement"]["default_since"]):
        flags = []
    else:
        flags = list(book.trt["stable_measurement"]["flags"])
    if target.trt_at_least(cuda_graph["default_on_since"]):
        if blocked:
            flags.append(cuda_graph["off_flag"])
    elif not blocked:
        flags.append(cuda_graph["flag"])
    return flags


def _usable(flags: list[str], target: Target, book: RuleBook) -> list[str]:
    """Only flags the target's trtexec has (rules/trt.toml [trtexec_flags]); the rest would fail the run."""
    g = grammar(book)
    return [f for f in flags if g.usable(f, target.trt_version)]


# Characters a terminal or a reviewer would not see as written: C0/C1 controls, DEL, bidirectional and
# zero-width format characters, and lone surrogates (the bytes of a path that is not UTF-8).
_UNSEEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
                     "\ud800-\udfff]")


def _ansi_c_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte of a file name: bash's \xNN writes that byte back
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}"


def _shell_word(part: str) -> str:
    """One word for a POSIX shell. A word with characters that would not show as written (a model's name
    or path may hold an ESC) uses bash's ANSI-C quoting, $'...', so the command is printable in every
    report and still runs as the same argument when pasted."""
    if not _UNSEEN.search(part):
        return shlex.quote(part)
    body = part.replace("\\", "\\\\").replace("'", "\\'")
    return "$'" + _UNSEEN.sub(_ansi_c_char, body) + "'"


def _join(parts: list[str]) -> str:
    return " ".join(_shell_word(p) for p in parts)


def trtexec_command(model: LoadedModel, target: Target, book: RuleBook) -> str:
    """The benchmark command: shapes, precision and the stable-measurement flags."""
    return _join(["trtexec", *_command_flags(model, target, book)])


def _command_flags(model: LoadedModel, target: Target, book: RuleBook) -> list[str]:
    flags = [f"--onnx={model.path}", *build_flags(model, target, book), *measurement_flags(model, target, book)]
    return _usable(flags, target, book)


def profiling_command(model: LoadedModel, target: Target, book: RuleBook) -> str:
    """The per-layer profiling recipe whose outputs `trtadvisor audit --layer-info ...` reads back."""
    stem = Path(model.path).with_suffix("").name
    recipe = [flag.format(stem=stem) for flag in book.trt["profiling"]["flags"]]
    return _join(["trtexec", *_command_flags(model, target, book), *_usable(recipe, target, book)])
