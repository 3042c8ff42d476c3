"""How sure each predicted layer is: confidence, evidence and alternatives from real engines
(rules/observed_engines.toml).

The fusion passes predict one engine; real TensorRT 10.x engines of the same op types show where that
prediction holds and where it depends on the build. For every predicted layer this step looks up what
the engines in the rule data built from the same op types (one engine layer, or a run of consecutive
ones) and:

- marks it ``observed`` when an engine matching the target (TensorRT major.minor, SM, precision, shape
  mode, builder optimization level) built it the same way, nodes and kind;
- takes what the matching engines built instead, when all of them built those op types another way
  (the Myelin boundary differs by build: rules/observed_engines.toml says which engine showed what);
- otherwise marks it ``documented`` when all its sources are TensorRT's documentation, else ``inferred``;
- lists what other engines built from these nodes as ``alternatives``, each with the build it was seen in.

Everything is one dictionary lookup per layer, so the audit's hot path stays linear.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial

from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Target, parse_version
from trtadvisor.plan.context import PredictedLayer

Ops = tuple[str, ...]


@dataclass(frozen=True)
class ObservedLayer:
    kind: str
    type: str
    ops: Ops
    fusions: tuple[str, ...]


@dataclass(frozen=True)
class ObservedEngine:
    id: str
    artifact: str
    trt: str
    sm: int
    gpu: str
    precision: str
    shapes: str
    opt_level: int
    layers: tuple[ObservedLayer, ...]

    def matches(self, target: Target) -> bool:
        return (parse_version(self.trt)[:2] == target.trt_version[:2] and self.sm == target.sm
                and self.precision == target.precision and self.shapes == target.shapes
                and self.opt_level == target.opt_level)

    @property
    def when(self) -> str:
        return (f"TensorRT {self.trt}, SM {self.sm} ({self.gpu}), {self.precision}, {self.shapes} shapes, "
                f"builder optimization level {self.opt_level}")


# One way an engine built a sequence of op types: the engine and its consecutive layers.
Observation = tuple[ObservedEngine, tuple[ObservedLayer, ...]]


@dataclass(frozen=True)
class EngineData:
    engines: tuple[ObservedEngine, ...]
    runs: dict[Ops, list[Observation]]  # concatenated op types of 1..max_run consecutive layers -> builds
    wider: dict[Ops, list[tuple[ObservedEngine, ObservedLayer]]]  # one engine layer's ops -> those layers
    wider_prefixes: frozenset[Ops]  # proper prefixes of the keys of ``wider``
    documented_markers: tuple[str, ...]


def _kind_class(kind: str) -> str:
    return "myelin" if kind == "myelin" else "classic"


_LOADED: dict[int, tuple[RuleBook, EngineData]] = {}  # by the rule book's identity (it holds dicts)


def _engine_data(book: RuleBook) -> EngineData:
    held = _LOADED.get(id(book))
    if held is not None and held[0] is book:
        return held[1]
    made = _build_engine_data(book)
    _LOADED[id(book)] = (book, made)
    return made


def _build_engine_data(book: RuleBook) -> EngineData:
    data = book.tables.get("observed_engines.toml", {})
    settings = data.get("calibration", {})
    max_run = int(settings.get("max_run", 8))
    engines: list[ObservedEngine] = []
    for engine_id, table in data.get("engine", {}).items():
        layers = tuple(ObservedLayer(str(item["kind"]), str(item["type"]), tuple(item["ops"]),
                                     tuple(item.get("fusions", ()))) for item in table["layers"])
        engines.append(ObservedEngine(engine_id, str(table["artifact"]), str(table["trt"]), int(table["sm"]),
                                      str(table["gpu"]), str(table["precision"]), str(table["shapes"]),
                                      int(table["opt_level"]), layers))
    runs: dict[Ops, list[Observation]] = {}
    wider: dict[Ops, list[tuple[ObservedEngine, ObservedLayer]]] = {}
    prefixes: set[Ops] = set()
    for engine in engines:
        seen: set[tuple[Ops, tuple[tuple[str, Ops], ...]]] = set()
        for start in range(len(engine.layers)):
            ops: Ops = ()
            for end in range(start, min(start + max_run, len(engine.layers))):
                ops = ops + engine.layers[end].ops
                run = engine.layers[start:end + 1]
                shape = (ops, tuple((layer.kind, layer.ops) for layer in run))
                if shape not in seen:  # the same build of the same ops twice in one engine counts once
                    seen.add(shape)
                    runs.setdefault(ops, []).append((engine, run))
        for layer in engine.layers:
            if len(layer.ops) > 1:
                wider.setdefault(layer.ops, []).append((engine, layer))
                prefixes.update(layer.ops[:i] for i in range(1, len(layer.ops)))
    return EngineData(tuple(engines), runs, wider, frozenset(prefixes),
                      tuple(settings.get("documented_markers", ())))


def _same_build(layer: PredictedLayer, run: tuple[ObservedLayer, ...]) -> bool:
    return len(run) == 1 and _kind_class(run[0].kind) == _kind_class(layer.kind)


def _layer_name(kind: str, nodes: Sequence[str]) -> str:
    if kind == "myelin":
        return f"{{ForeignNode[{nodes[0]}...{nodes[-1]}]}}" if len(nodes) > 1 else f"{{ForeignNode[{nodes[0]}]}}"
    return " + ".join(nodes)


def _split(layer: PredictedLayer, run: tuple[ObservedLayer, ...]) -> list[tuple[ObservedLayer, tuple[str, ...],
                                                                            tuple[str, ...]]]:
    """The run's layers laid over ``layer``'s nodes in order: (observed layer, its nodes, its ops)."""
    out = []
    at = 0
    for observed in run:
        width = len(observed.ops)
        out.append((observed, layer.nodes[at:at + width], layer.ops[at:at + width]))
        at += width
    return out


class _Sources:
    """The sources behind a layer's kind and fusions, and whether all of them are documentation."""

    def __init__(self, book: RuleBook, markers: tuple[str, ...]) -> None:
        self.book = book
        self.markers = markers
        self.cache: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], bool]] = {}

    def of(self, kind: str, fusions: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
        key = (kind, fusions)
        found = self.cache.get(key)
        if found is None:
            sources: list[str] = []
            implied = False  # a fusion the documentation only implies (FusionSpec.evidence)
            if kind == "myelin":
                platform = self.book.platform
                sources.extend(str(platform[k]) for k in ("myelin_gemm_source", "myelin_attention_source")
                               if k in platform)
            for fusion_id in fusions:
                spec = self.book.fusions.get(fusion_id)
                if spec is not None and spec.source not in sources:
                    sources.append(spec.source)
                implied = implied or (spec is not None and spec.evidence == "inferred")
            documented = not implied and bool(sources) and all(any(m in s for m in self.markers) for s in sources)
            found = self.cache[key] = (tuple(sources), documented)
        return found


def _alternative(kind: str, nodes: Iterable[str], engines: Iterable[ObservedEngine]) -> dict[str, object]:
    return {"kind": kind, "nodes": list(nodes), "when": "; ".join(e.when for e in engines),
            "evidence": sorted({e.artifact for e in engines})}


# A PredictedLayer from a tuple of all its fields, built in C (one per layer of a large model).
_new_layer = partial(tuple.__new__, PredictedLayer)


def calibrate(layers: list[PredictedLayer], target: Target, book: RuleBook) -> list[PredictedLayer]:
    """The predicted layers with confidence, evidence and alternatives; some replaced by what the engines
    that match ``target`` built from the same op types (see the module docstring). A layer keeps its precision,
    and so does one made of all its nodes; one made of some of them has none (the plan names it)."""
    data = _engine_data(book)
    if not data.engines:
        return layers
    sources = _Sources(book, data.documented_markers)
    out: list[PredictedLayer] = []
    runs = data.runs
    for layer in layers:
        observations = runs.get(layer.ops)
        if observations is None:  # no engine built these op types: the common case, kept cheap
            evidence, documented = sources.of(layer.kind, layer.fusions)
            out.append(_new_layer((layer.name, layer.kind, layer.nodes, layer.ops, layer.fusions,
                                   "documented" if documented else "inferred", evidence, layer.alternatives,
                                   layer.precision)))
            continue
        matching = [(e, run) for e, run in observations if e.matches(target)]
        agreeing = [e for e, run in matching if _same_build(layer, run)]
        builds = {tuple((o.kind, o.ops) for o in run) for _, run in matching}
        if agreeing:
            made = [(layer, "observed", tuple(sorted({e.artifact for e in agreeing})))]
        elif matching and len(builds) == 1:
            run = matching[0][1]
            evidence = tuple(sorted({e.artifact for e, _ in matching}))
            made = []
            for observed, nodes, ops in _split(layer, run):
                fusions = layer.fusions if nodes == layer.nodes and not observed.fusions else observed.fusions
                # A layer of all the nodes keeps their precision; one of some of them gets its own from the plan.
                precision = layer.precision if nodes == layer.nodes else None
                made.append((PredictedLayer(_layer_name(observed.kind, nodes), observed.kind, nodes, ops, fusions,
                                            precision=precision), "observed", evidence))
        else:
            evidence, documented = sources.of(layer.kind, layer.fusions)
            made = [(layer, "documented" if documented else "inferred", evidence)]
        # What the other engines built from these op types, where it differs from what is predicted now.
        predicted_builds = {(_kind_class(p.kind), p.nodes) for p, _, _ in made}
        alternatives: dict[tuple[str, tuple[str, ...]], list[ObservedEngine]] = {}
        for engine, run in observations:
            for observed, nodes, _ in _split(layer, run):
                if (_kind_class(observed.kind), nodes) in predicted_builds:
                    continue
                holders = alternatives.setdefault((observed.kind, nodes), [])
                if engine not in holders:
                    holders.append(engine)
        for new, confidence, evidence in made:
            alts = tuple(_alternative(kind, nodes, engines) for (kind, nodes), engines in alternatives.items()
                         if set(nodes) & set(new.nodes))
            out.append(new._replace(confidence=confidence, evidence=evidence, alternatives=layer.alternatives + alts))
    return _wider_alternatives(out, data)


def _wider_alternatives(layers: list[PredictedLayer], data: EngineData) -> list[PredictedLayer]:
    """Engines that built consecutive predicted layers as one layer: listed on each of them."""
    if not data.wider:
        return layers
    prefixes, wider = data.wider_prefixes, data.wider
    extra: dict[int, list[dict[str, object]]] = {}
    for start, layer in enumerate(layers):
        ops = layer.ops
        end = start
        while ops in prefixes and end + 1 < len(layers):
            end += 1
            ops = ops + layers[end].ops
            found = wider.get(ops)
            if found:
                nodes = tuple(n for member in layers[start:end + 1] for n in member.nodes)
                by_kind: dict[str, list[ObservedEngine]] = {}
                for engine, observed in found:
                    by_kind.setdefault(observed.kind, []).append(engine)
                for kind, engines in by_kind.items():
                    for i in range(start, end + 1):
                        extra.setdefault(i, []).append(_alternative(kind, nodes, engines))
    if not extra:
        return layers
    out = []
    for i, layer in enumerate(layers):
        added = extra.get(i)
        if added:
            listed = {(a["kind"], tuple(a["nodes"])) for a in layer.alternatives}  # type: ignore[arg-type]
            fresh = [a for a in added if (a["kind"], tuple(a["nodes"])) not in listed]  # type: ignore[arg-type]
            layer = layer._replace(alternatives=layer.alternatives + tuple(fresh))
        out.append(layer)
    return out
