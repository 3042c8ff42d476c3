"""Load and validate the rule data in ``rules/*.toml`` into frozen dataclasses.

Rule data is the knowledge; the matchers in ``plan/passes/``, ``analysis/`` and ``advice/`` are the mechanism. Every
table must cite its source, and unknown keys are errors naming the file and the key path, so a typo
in the data cannot silently switch a rule off.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from trtadvisor.errors import RuleDataError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SEVERITIES = ("error", "warning", "info")

# Keys every [rule.CODE] table must have; `explain` prints them and a meta-test checks them.
RULE_KEYS = ("name", "severity", "summary", "rationale", "fix", "bad", "good", "source")
FUSION_KEYS_REQUIRED = ("code", "name", "summary", "conditions", "fix", "bad", "good", "source")
FUSION_KEYS_OPTIONAL = ("min_sm", "precisions", "ops", "prefer_input", "tolerance", "max_ops")

# Allowed top-level tables per rule file; a file not listed here may hold [meta] and [rule.*] only
# plus the tables it declares under [meta] `tables`.
FILE_TABLES: dict[str, tuple[str, ...]] = {
    "gpus.toml": ("meta", "gpus"),
    "trt.toml": ("meta", "versions", "target", "precision_flags", "cuda_graph", "stable_measurement", "profiling",
                 "aux_streams"),
    "fusions.toml": ("fusion", "platform"),
    "advice.toml": ("rule",),
}


@dataclass(frozen=True)
class RuleDoc:
    """Everything `trtadvisor rules` and `trtadvisor explain` print about one finding code."""

    code: str
    name: str
    severity: str
    summary: str
    rationale: str
    fix: str
    bad: str
    good: str
    source: str


@dataclass(frozen=True)
class FusionSpec:
    id: str
    code: str
    name: str
    summary: str
    conditions: tuple[str, ...]
    fix: str
    bad: str
    good: str
    source: str
    min_sm: int | None = None
    precisions: tuple[str, ...] = ()
    ops: tuple[str, ...] = ()
    prefer_input: int = 0
    tolerance: float = 1e-3
    max_ops: int = 32


@dataclass(frozen=True)
class RuleBook:
    gpus: dict[str, int]
    trt: dict[str, Any]
    fusions: dict[str, FusionSpec]
    platform: dict[str, Any]
    rules: dict[str, RuleDoc]
    tables: dict[str, dict[str, Any]]  # every file's raw data, for rule families with their own tables

    @property
    def default_trt(self) -> str:
        return str(self.trt["versions"]["default"])

    @property
    def known_trt(self) -> tuple[str, ...]:
        return tuple(self.trt["versions"]["known"])

    def fusion(self, fusion_id: str) -> FusionSpec:
        return self.fusions[fusion_id]

    def rule(self, code: str) -> RuleDoc:
        return self.rules[code]


def rules_dir() -> Path:
    """The rule data: inside the installed package, or at the top of a source checkout."""
    here = Path(__file__).resolve().parents[1]  # the trtadvisor package
    for candidate in (here / "rules", here.parent / "rules"):
        if (candidate / "fusions.toml").is_file():
            return candidate
    raise RuleDataError("the rule data (rules/*.toml) was not found next to the package",
                        "reinstall trtadvisor; a wheel must contain trtadvisor/rules/*.toml")


def _load_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RuleDataError(f"{path.name}: not valid TOML ({exc})", "fix the syntax of the rule file") from None


def _rule_doc(file: str, code: str, table: dict[str, Any]) -> RuleDoc:
    _check_keys(file, f"rule.{code}", table, RULE_KEYS, ())
    if table["severity"] not in SEVERITIES:
        raise RuleDataError(f"{file}: rule.{code}.severity is '{table['severity']}'",
                            f"use one of {', '.join(SEVERITIES)}")
    return RuleDoc(code=code, **{k: str(table[k]) for k in RULE_KEYS})


def _check_keys(file: str, where: str, table: dict[str, Any], required: tuple[str, ...],
                optional: tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(required) - set(optional))
    if unknown:
        raise RuleDataError(f"{file}: unknown key '{where}.{unknown[0]}'",
                            f"allowed keys: {', '.join(required + optional)}")
    missing = [k for k in required if k not in table]
    if missing:
        raise RuleDataError(f"{file}: '{where}' lacks '{missing[0]}'", "every rule table needs " + ", ".join(required))


def _fusion_spec(file: str, fusion_id: str, table: dict[str, Any]) -> FusionSpec:
    _check_keys(file, f"fusion.{fusion_id}", table, FUSION_KEYS_REQUIRED, FUSION_KEYS_OPTIONAL)
    return FusionSpec(
        id=fusion_id,
        code=table["code"],
        name=table["name"],
        summary=table["summary"],
        conditions=tuple(table["conditions"]),
        fix=table["fix"],
        bad=table["bad"],
        good=table["good"],
        source=table["source"],
        min_sm=table.get("min_sm"),
        precisions=tuple(table.get("precisions", ())),
        ops=tuple(table.get("ops", ())),
        prefer_input=int(table.get("prefer_input", 0)),
        tolerance=float(table.get("tolerance", 1e-3)),
        max_ops=int(table.get("max_ops", 32)),
    )


def load_rulebook(directory: Path | None = None) -> RuleBook:
    directory = directory or rules_dir()
    tables: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.toml")):
        data = _load_file(path)
        allowed = FILE_TABLES.get(path.name)
        if allowed is None:
            declared = tuple(data.get("meta", {}).get("tables", ()))
            allowed = ("meta", "rule", *declared)
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise RuleDataError(f"{path.name}: unknown table '{unknown[0]}'", f"allowed tables: {', '.join(allowed)}")
        tables[path.name] = data
    for required in ("gpus.toml", "trt.toml", "fusions.toml", "advice.toml"):
        if required not in tables:
            raise RuleDataError(f"rule file {required} is missing", "reinstall trtadvisor")

    fusions = {fid: _fusion_spec("fusions.toml", fid, t) for fid, t in tables["fusions.toml"]["fusion"].items()}
    rules: dict[str, RuleDoc] = {}
    for file, data in tables.items():
        for code, table in data.get("rule", {}).items():
            if code in rules:
                raise RuleDataError(f"{file}: rule code {code} is defined twice", "give each rule its own code")
            rules[code] = _rule_doc(file, code, table)
    for spec in fusions.values():
        # A fusion's near-miss code is documented by the first fusion that uses it.
        rules.setdefault(spec.code, RuleDoc(
            code=spec.code, name=spec.name, severity="warning" if spec.code in _WARNING_FUSION_CODES else "info",
            summary=spec.summary, rationale="Conditions: " + "; ".join(spec.conditions) + ".",
            fix=spec.fix, bad=spec.bad, good=spec.good, source=spec.source))
    return RuleBook(
        gpus={str(k): int(v) for k, v in tables["gpus.toml"]["gpus"].items()},
        trt=tables["trt.toml"],
        fusions=fusions,
        platform=tables["fusions.toml"].get("platform", {}),
        rules=dict(sorted(rules.items())),
        tables=tables,
    )


# Near misses that cost a convolution its epilogue fusion are worth a warning; the others are info.
_WARNING_FUSION_CODES = frozenset({"TRT101", "TRT102", "TRT105", "TRT106"})


@cache
def default_rulebook() -> RuleBook:
    return load_rulebook()
