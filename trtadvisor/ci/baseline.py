"""Baselines: accept today's findings, fail only on new ones.

A finding's fingerprint is its rule, the op types of its nodes and the nodes' scopes: the module path
from the exporter's metadata (``block.conv``), the path in a TorchScript name (``/layer1/layer1.0``),
or else the node name without its counter (``node_relu_12`` -> ``node_relu``). Never node indices or
numeric suffixes, which a re-export renumbers; never the message, which quotes those names. Several
findings may share a fingerprint, so the baseline keeps a count per fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trtadvisor.ci.source_locations import module_scope, name_stem
from trtadvisor.errors import UserError, shown
from trtadvisor.ir.graph import Node
from trtadvisor.knowledge.findings import Finding
from trtadvisor.safe_io import MB, JsonProblem, load_json, read_regular, write_output

SCHEMA_ID = "trtadvisor.baseline/v1"
BASELINE_MAX_BYTES = 64 * MB
_MAX_COUNT = 1 << 31  # findings of one fingerprint; more is no baseline trtadvisor wrote


class BaselineError(UserError):
    """The baseline file is missing, unreadable or not a trtadvisor baseline."""


def node_scope(name: str, nodes: Mapping[str, Node]) -> str:
    node = nodes.get(name)
    scope = module_scope(node) if node is not None else ""
    return scope or name_stem(name)


def fingerprint_parts(finding: Finding, nodes: Mapping[str, Node]) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    ops = tuple(sorted(nodes[n].op if n in nodes else "?" for n in finding.nodes))
    scopes = tuple(sorted({node_scope(n, nodes) for n in finding.nodes}))
    return finding.rule, ops, scopes


def fingerprint(finding: Finding, nodes: Mapping[str, Node]) -> str:
    rule, ops, scopes = fingerprint_parts(finding, nodes)
    text = "\x1f".join((rule, ",".join(ops), ",".join(scopes)))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:20]  # same bytes for valid text


@dataclass(frozen=True)
class Baseline:
    """Accepted findings: fingerprint -> how many findings may carry it."""

    counts: dict[str, int]
    path: str = ""

    def remaining(self) -> Counter[str]:
        """A fresh tally of what the baseline still accepts, to share across several models' splits."""
        return Counter(self.counts)

    def split(self, findings: Iterable[Finding], nodes: Mapping[str, Node],
              left: Counter[str] | None = None) -> tuple[list[Finding], list[Finding]]:
        """(new, accepted): findings beyond their fingerprint's count are new. ``left`` is consumed."""
        left = self.remaining() if left is None else left
        new: list[Finding] = []
        accepted: list[Finding] = []
        for f in findings:
            fp = fingerprint(f, nodes)
            if left[fp] > 0:
                left[fp] -= 1
                accepted.append(f)
            else:
                new.append(f)
        return new, accepted


def baseline_dict(findings: Iterable[tuple[Finding, Mapping[str, Node]]], model: str) -> dict[str, Any]:
    """The baseline file's content; each finding comes with its model's nodes by name."""
    entries: dict[str, dict[str, Any]] = {}
    for f, nodes in findings:
        fp = fingerprint(f, nodes)
        if fp in entries:
            entries[fp]["count"] += 1
            continue
        rule, ops, scopes = fingerprint_parts(f, nodes)
        entries[fp] = {"fingerprint": fp, "rule": rule, "ops": list(ops), "scopes": list(scopes), "count": 1,
                       "example": f.message}
    ordered = sorted(entries.values(), key=lambda e: (e["rule"], e["scopes"], e["ops"]))
    return {"schema": SCHEMA_ID, "model": model, "findings": ordered}


def write_baseline(path: str, findings: Iterable[tuple[Finding, Mapping[str, Node]]], model: str) -> None:
    """Write the baseline atomically (a temporary file renamed over ``path``)."""
    text = json.dumps(baseline_dict(findings, model), indent=2, ensure_ascii=False) + "\n"
    write_output(path, text, flag="--write-baseline")


def read_baseline(path: str) -> Baseline:
    hint = "write one with 'trtadvisor audit MODEL --write-baseline FILE'"
    data = read_regular(path, what="a trtadvisor baseline (JSON)", hint=hint, limit=BASELINE_MAX_BYTES,
                        error=BaselineError)
    try:
        doc = load_json(data.decode("utf-8"), strict=True)
    except UnicodeDecodeError:
        raise BaselineError(f"baseline {shown(path)}: not UTF-8 text", hint) from None
    except JsonProblem as exc:
        raise BaselineError(f"baseline {shown(path)}: {exc}", hint) from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"baseline {shown(path)}: not JSON (line {exc.lineno})", hint) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA_ID or not isinstance(doc.get("findings"), list):
        raise BaselineError(f"baseline {shown(path)}: not a trtadvisor baseline (schema '{SCHEMA_ID}')", hint)
    counts: dict[str, int] = {}
    for entry in doc["findings"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("fingerprint"), str):
            raise BaselineError(f"baseline {shown(path)}: an entry lacks its 'fingerprint'", hint)
        count = entry.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= _MAX_COUNT:
            raise BaselineError(f"baseline {shown(path)}: the count of '{shown(entry['fingerprint'], 40)}' is "
                                f"{shown(count, 40)}, not a whole number of findings", hint)
        counts[entry["fingerprint"]] = counts.get(entry["fingerprint"], 0) + count
    return Baseline(counts=counts, path=path)
