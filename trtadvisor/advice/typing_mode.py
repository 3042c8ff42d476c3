"""Findings about typing mode and platform: a Q/DQ model built strongly typed on 9.0-10.x (TRT205), what a
strongly typed build really makes of --precision (TRT221), INT8/FP8 without Q/DQ (TRT222), Jetson/DLA per
version (TRT223), GPUs whose support on the version is unconfirmed (TRT224). Facts: rules/trt.toml [typing],
[platforms]; rules/gpus.toml."""

from __future__ import annotations

from collections import Counter
from operator import attrgetter
from pathlib import Path

from trtadvisor.advice.notes import AdviceNotes
from trtadvisor.advice.trtexec import has_qdq
from trtadvisor.ir.graph import Node
from trtadvisor.ir.load import LoadedModel
from trtadvisor.knowledge.findings import Finding, finding_for
from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target, parse_version
from trtadvisor.plan.context import Prediction

_op_of = attrgetter("op")
_precision_of = attrgetter("precision")
_FLOAT_INTENTS = {"fp16": "fp16", "bf16": "bf16", "best": "fp16"}


def typing_findings(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction,
                    notes: AdviceNotes) -> list[Finding]:
    found = [*_qdq_strongly_typed(model, target, book), *_model_decides(model, target, book, prediction),
             *_without_qdq(model, target, book), *_platform(target, book)]
    return found


def _qdq_strongly_typed(model: LoadedModel, target: Target, book: RuleBook) -> list[Finding]:
    """A Q/DQ model on a version where weak typing is still the default (9.0-10.x) and --strongly-typed was not
    asked for: the audit builds it strongly typed (settle_typing) and the command carries --stronglyTyped, as the
    reference's quantized-ONNX benchmark does; this says so and why."""
    if not target.strong or target.strongly_typed_flag or target.trt_at_least(book.trt["typing"]["strong_only_since"]):
        return []
    quantized = [n for g in model.graph.walk() for n in g.nodes_of("QuantizeLinear", "DequantizeLinear")]
    if not quantized:
        return []
    message = (f"the model holds {len(quantized)} Q/DQ node(s) ({target.precision.upper()}): TensorRT {target.trt} "
               f"builds it with --stronglyTyped instead of --int8/--fp16 (the recommended command carries it), so it "
               f"strictly follows the model's data types, every Q/DQ included; layers outside the Q/DQ run in the "
               f"model's own float type")
    return [finding_for(book, "TRT205", message)]


def _mode_words(target: Target, book: RuleBook) -> str:
    if target.trt_at_least(book.trt["typing"]["strong_only_since"]):
        return f"TensorRT {target.trt} builds every network strongly typed"
    return f"with --stronglyTyped, TensorRT {target.trt} builds the network strongly typed"


def _model_decides(model: LoadedModel, target: Target, book: RuleBook, prediction: Prediction) -> list[Finding]:
    """Strongly typed and the intent is FP16/BF16, but the model computes in another float type."""
    if not target.strong:
        return []
    wanted = _FLOAT_INTENTS.get(target.intent)
    if wanted is None or target.precision in (wanted, "int8", "fp8"):
        return []
    rules = book.trt["typing"]
    built = {"tf32": "FP32 (TF32 math in convolutions and matrix multiplies)", "fp32": "FP32"}.get(
        target.precision, target.precision.upper())
    tf32_layers = list(map(_precision_of, prediction.layers)).count("tf32")
    islands = _overflow_prone(model, rules["overflow_prone_ops"])
    stem = Path(model.path).with_suffix("").name
    command = rules["autocast"].format(model=model.path, stem=stem, precision=wanted)
    kept = ", ".join(f"{op} x{n}" for op, n in Counter(map(_op_of, islands)).most_common())
    carried = "FP32" if target.precision in ("tf32", "fp32") else target.precision.upper()
    message = (f"{_mode_words(target, book)}: this model's tensors are {carried}, so the engine is "
               f"{built}, not {wanted.upper()} ({tf32_layers} layers predicted tf32); the model's types decide, "
               "no build flag can")
    hint = (f"convert the model with ModelOpt AutoCast: {command} (it keeps overflow-prone reductions in FP32 "
            f"islands{': here ' + kept if kept else ''}), then audit the converted model")
    return [finding_for(book, "TRT221", message, tuple(n.name for n in islands[:20]), hint)]


def _overflow_prone(model: LoadedModel, ops: list[str]) -> list[Node]:
    """The nodes of these ops, in graph order (nodes_of: only those nodes are walked, and their list is shared)."""
    graphs = list(model.graph.walk())
    if len(graphs) == 1:
        return graphs[0].nodes_of(*ops)
    return [n for g in graphs for n in g.nodes_of(*ops)]


def _without_qdq(model: LoadedModel, target: Target, book: RuleBook) -> list[Finding]:
    intent = target.intent
    if intent not in ("int8", "fp8") or has_qdq(model.graph):
        return []
    typing = book.trt["typing"]
    stem = Path(model.path).with_suffix("").name
    quantize = typing["quantize"].format(model=model.path, stem=stem, precision=intent)
    name = intent.upper()
    removed_in = typing["calibration_removed_in"]  # "11.0": the release named "TensorRT 11" below
    major = removed_in.split(".")[0]
    if target.strong:
        removed = target.trt_at_least(removed_in)
        why = (f"TensorRT {major} has no calibration (the calibrator API and trtexec's INT8 and calibration flags "
               f"were removed in {removed_in})" if removed else "a strongly typed build follows the model's types")
        message = (f"{name} was asked for but the model has no Q/DQ nodes: {why}, so explicit Q/DQ is the only way "
                   f"to {name}; this model builds in {target.precision.upper()}")
        return [finding_for(book, "TRT222", message, (), f"insert Q/DQ with ModelOpt: {quantize}")]
    if intent == "fp8":
        message = ("FP8 was asked for but the model has no Q/DQ nodes: FP8 exists only through explicit Q/DQ (no FP8 "
                   "calibration), so the command builds FP16; the prediction judges FP8 kernels as if the model "
                   "were quantized")
        return [finding_for(book, "TRT222", message, (), f"insert FP8 Q/DQ with ModelOpt: {quantize}")]
    calib = book.trt["precision_flags"]["calib"].format(stem=stem)
    message = (f"implicit INT8 on TensorRT {target.trt} needs calibration: without a calibration cache trtexec "
               f"uses placeholder dynamic ranges, right for speed, meaningless for accuracy; TensorRT {major} removes "
               "calibration altogether")
    hint = (f"give trtexec a calibration cache written by your calibrator (--int8 {calib}), or insert Q/DQ "
            f"with ModelOpt, which also works on TensorRT {major}: {quantize}")
    return [finding_for(book, "TRT222", message, (), hint)]


def _platform(target: Target, book: RuleBook) -> list[Finding]:
    if target.sm is None:
        return []
    caps = book.tables["gpus.toml"]["compute_capabilities"]
    found: list[Finding] = []
    platforms = book.trt["platforms"]
    minor = ".".join(map(str, target.trt_version[:2]))
    if target.sm in caps["jetson"]:
        where = f"TensorRT {target.trt} on a Jetson target (SM {target.sm}{', ' + target.gpu if target.gpu else ''})"
        entry = platforms["by_version"].get(minor)
        if entry is not None:
            found.append(finding_for(book, "TRT223", f"{where}: {entry['note']}"))
        elif minor in platforms["unconfirmed"]:
            found.append(finding_for(book, "TRT223", f"{where}: {platforms['unconfirmed_note']}"))
    old = caps["unconfirmed"]
    if target.trt_version >= parse_version(old["trt"]) and target.sm < int(old["below"]):
        found.append(finding_for(book, "TRT224", f"SM {target.sm} on TensorRT {target.trt}: {old['note']}"))
    return found
