"""Load and validate the rule data in ``rules/*.toml`` into frozen dataclasses.

Rule data is the knowledge; the matchers in ``plan/passes/``, ``analysis/`` and ``advice/`` are the mechanism.

Every table of every rule file is checked on load against a declared schema, so a typo in the data cannot
silently switch a rule off or let a default take over:

- ``knowledge/rule_files.py`` ``FILES`` maps each file name to a ``Table(...)`` spec of its tables; a file
  without an entry is refused.
- ``knowledge/schema.py`` is the spec language: ``str``/``int``/``float``/``bool``, ``OneOf(...)``,
  ``ListOf(spec)``, ``MapOf(spec, key=regex)`` (free keys such as rule codes), ``Table(key=spec, ...)`` (exactly
  these keys) and ``Opt(spec, default)`` (an optional key whose default is declared there, next to the key).
- An unknown, missing or mistyped key raises ``RuleDataError`` (exit 2) with one line naming the file and the
  dotted key path, and a did-you-mean when an allowed key is close.

To add a table: write it in ``rules/NAME.toml`` with a ``source``, declare it in ``FILES["NAME.toml"]``, and read
it from ``RuleBook.tables["NAME.toml"]`` (validated, defaults filled in). ``tests/core/test_rule_schema.py``
renames a key in every table of every file and expects the error, so a new table is covered without a new test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from trtadvisor.errors import RuleDataError
from trtadvisor.knowledge.ops import OpFacts
from trtadvisor.knowledge.parsed_rules import digest, load_parsed, parse_toml, rules_dir
from trtadvisor.knowledge.rule_files import EXAMPLES, FILES, RULE_DOC
from trtadvisor.knowledge.rule_files import SEVERITIES as SEVERITIES  # re-exported for readers of codes
from trtadvisor.knowledge.schema import validate

# Keys every [rule.CODE] table must have; `explain` prints them and a meta-test checks them.
RULE_KEYS = tuple(RULE_DOC)


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
    priced: bool = False  # the fix removes the finding's layer(s) but its first node's: the report prices them


@dataclass(frozen=True)
class FusionSpec:
    id: str
    code: str
    severity: str
    name: str
    summary: str
    # id -> text: what the matcher checks (rules/fusions.toml conditions.ID); a near miss names one id.
    conditions: dict[str, str] = field(compare=False)
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
    max_ops_source: str = ""  # where max_ops comes from (ours, where TensorRT gives no number)
    # "inferred" when the documentation only implies the fusion and no engine showed it: a layer
    # resting on it is never "documented" (plan/calibrate.py)
    evidence: str = "documented"
    # condition id -> its own fix (rules/fusions.toml fixes.ID), where ``fix`` addresses another condition
    fixes: dict[str, str] = field(default_factory=dict, compare=False)

    def fix_for(self, condition_id: str) -> str:
        """The fix a near miss of ``condition_id`` states: the condition's own, else the fusion's."""
        return self.fixes.get(condition_id, self.fix)

    def condition(self, condition_id: str) -> str:
        """The text of one of this fusion's conditions; an id the rule data lacks is a bug in the matcher."""
        text = self.conditions.get(condition_id)
        if text is None:
            raise KeyError(f"fusion '{self.id}' has no condition '{condition_id}' in rules/fusions.toml "
                           f"(it has: {', '.join(self.conditions)})")
        return text


@dataclass(frozen=True)
class RuleBook:
    gpus: dict[str, int]
    trt: dict[str, Any]
    fusions: dict[str, FusionSpec]
    platform: dict[str, Any]
    rules: dict[str, RuleDoc]
    ops: OpFacts
    tables: dict[str, dict[str, Any]]  # every file's raw data, for rule families with their own tables
    _op_sets: dict[tuple[str, str, str], frozenset[str]] = field(default_factory=dict, repr=False, compare=False)

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

    def op_group(self, name: str) -> frozenset[str]:
        """The ops of ``rules/ops.toml`` [group.NAME] (ops TensorRT treats alike across layer classes)."""
        key = ("ops.toml", "group", name)
        found = self._op_sets.get(key)
        if found is None:
            found = self._op_sets[key] = frozenset(self.tables["ops.toml"]["group"][name]["ops"])
        return found

    def op_set(self, file: str, table: str, key: str) -> frozenset[str]:
        """A list of op names (or layer kinds) from ``rules/FILE`` [TABLE] KEY as a set, built once per book:
        passes test membership per node, so the list is not rebuilt on the hot path."""
        found = self._op_sets.get((file, table, key))
        if found is None:
            found = self._op_sets[(file, table, key)] = frozenset(self.tables[file][table][key])
        return found


def _load_file(path: Path, parsed: dict[str, tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The file's tables: from ``parsed`` (rules/parsed.json) when its bytes are the ones parsed there, else
    parsed from the TOML now."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RuleDataError(f"{path.name}: cannot be read ({exc.strerror})", "reinstall trtadvisor") from None
    known = parsed.get(path.name)
    if known is not None and known[0] == digest(data):
        return known[1]
    try:
        return parse_toml(data)
    except ValueError as exc:
        raise RuleDataError(f"{path.name}: not valid TOML ({exc})", "fix the syntax of the rule file") from None


def _fusion_spec(fusion_id: str, table: dict[str, Any]) -> FusionSpec:
    fields = {k: v for k, v in table.items() if k not in EXAMPLES}  # examples stay in tables, for the meta-test
    unknown = sorted(set(table["fixes"]) - set(table["conditions"]))
    if unknown:
        raise RuleDataError(f"rules/fusions.toml: fusion.{fusion_id}.fixes names no condition: {', '.join(unknown)}",
                            "key each fix by one of the fusion's conditions")
    return FusionSpec(id=fusion_id, **{**fields, "conditions": dict(table["conditions"]),
                                      "fixes": dict(table["fixes"]),
                                      "precisions": tuple(table["precisions"]), "ops": tuple(table["ops"])})


def load_rulebook(directory: Path | None = None) -> RuleBook:
    directory = directory or rules_dir()
    tables: dict[str, dict[str, Any]] = {}
    parsed = load_parsed(directory)
    for path in sorted(directory.glob("*.toml")):
        spec = FILES.get(path.name)
        if spec is None:
            raise RuleDataError(f"rules/{path.name}: no schema declares this file",
                                "declare its tables in trtadvisor/knowledge/rule_files.py FILES")
        tables[path.name] = validate(spec, _load_file(path, parsed), path.name)
    for required in FILES:
        if required not in tables:
            raise RuleDataError(f"rule file rules/{required} is missing", "reinstall trtadvisor")

    fusions = {fid: _fusion_spec(fid, t) for fid, t in tables["fusions.toml"]["fusion"].items()}
    rules: dict[str, RuleDoc] = {}
    for file, data in tables.items():
        for code, table in data.get("rule", {}).items():
            if code in rules:
                raise RuleDataError(f"rules/{file}: rule code {code} is defined twice", "give each rule its own code")
            rules[code] = RuleDoc(code=code, priced=table["priced"], **{key: table[key] for key in RULE_KEYS})
    for spec in fusions.values():
        first = next(f for f in fusions.values() if f.code == spec.code)
        if spec.severity != first.severity:
            raise RuleDataError(f"rules/fusions.toml: fusion.{spec.id}.severity is '{spec.severity}' but "
                                f"fusion.{first.id} gives {spec.code} '{first.severity}'",
                                "fusions sharing a code share its severity")
        # A fusion's near-miss code is documented by the first fusion that uses it.
        rules.setdefault(spec.code, RuleDoc(
            code=spec.code, name=spec.name, severity=spec.severity,
            summary=spec.summary, rationale=_conditions_text([f for f in fusions.values() if f.code == spec.code]),
            fix=spec.fix, bad=spec.bad, good=spec.good, source=spec.source))
    return RuleBook(
        gpus=dict(tables["gpus.toml"]["gpus"]),
        trt=tables["trt.toml"],
        fusions=fusions,
        platform=tables["fusions.toml"]["platform"],
        rules=dict(sorted(rules.items())),
        ops=_op_facts(tables["ops.toml"]),
        tables=tables,
    )


def _conditions_text(specs: list[FusionSpec]) -> str:
    """`explain`'s rationale for a fusion code: the conditions of each fusion raising it, with the ids a near
    miss names (a code several fusions share lists each fusion's)."""
    def listed(spec: FusionSpec) -> str:
        return "; ".join(f"{text} [{cid}]" for cid, text in spec.conditions.items())
    if len(specs) == 1:
        return f"Conditions: {listed(specs[0])}."
    return " ".join(f"Conditions of {spec.id}: {listed(spec)}." for spec in specs)


def _op_facts(table: dict[str, Any]) -> OpFacts:
    for needed in ("activation", "other"):
        if needed not in table["class"]:
            raise RuleDataError(f"rules/ops.toml: missing key 'class.{needed}'", "the rules need this layer class")
    return OpFacts.from_table(table)




@cache
def default_rulebook() -> RuleBook:
    return load_rulebook()
