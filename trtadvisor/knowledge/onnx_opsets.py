"""Which ONNX opsets (default domain) the target's ONNX parser documents: rules/trt.toml [onnx_opsets].

One dictionary lookup per audit. A version whose range no source states is bounded by the nearest
documented versions on either side (parser releases add opsets, never drop them), and the verdict says how
sure it is: "documented" (the target's own bound), "inferred" (outside even the neighbours' bounds) or
"unknown" (between them).
"""

from __future__ import annotations

from dataclasses import dataclass

from trtadvisor.knowledge.rulebook import RuleBook
from trtadvisor.knowledge.target import Version, parse_version


@dataclass(frozen=True)
class OpsetVerdict:
    """The model's opset against the target's documented range, when it falls outside (or may)."""

    side: str              # "above" the maximum or "below" the minimum
    limit: int             # the bound crossed: the target's own, or the nearest documented one
    limit_from: str        # the version that documents ``limit``
    safe: int              # an opset inside every range the target can have: the one to convert to
    confidence: str        # "documented", "inferred" or "unknown"
    range_text: str        # the target's range in words, "unknown" parts named with their neighbours
    source: str            # the rule row behind it
    newer_trt: str | None  # the oldest known version documented to cover the opset (above only)


def _rows(book: RuleBook) -> list[tuple[Version, str, dict]]:
    table = book.trt["onnx_opsets"]["by_version"]
    return sorted((parse_version(k), k, v) for k, v in table.items())


def _bound(rows: list[tuple[Version, str, dict]], at: int, key: str) -> tuple[int | None, int | None, str, str]:
    """The target's ``key`` ("min"/"max") if documented, else the nearest documented values before and after."""
    own = rows[at][2][key]
    if own is not None:
        return own, own, rows[at][1], rows[at][1]
    before = next(((r[2][key], r[1]) for r in reversed(rows[:at]) if r[2][key] is not None), (None, ""))
    after = next(((r[2][key], r[1]) for r in rows[at + 1:] if r[2][key] is not None), (None, ""))
    return before[0], after[0], before[1], after[1]


def _range_text(rows: list[tuple[Version, str, dict]], at: int) -> str:
    row = rows[at][2]
    if row["min"] is not None and row["max"] is not None:
        return f"opsets {row['min']} to {row['max']}"
    parts = []
    for key, word in (("min", "minimum"), ("max", "maximum")):
        low, high, low_from, high_from = _bound(rows, at, key)
        if row[key] is not None:
            parts.append(f"{word} {row[key]}")
        elif low is not None and low == high:
            parts.append(f"{word} unknown, {low} at both {low_from} and {high_from}")
        else:
            known = [f"{v} at {t}" for v, t in ((low, low_from), (high, high_from)) if v is not None]
            parts.append(f"{word} unknown ({', '.join(known)})" if known else f"{word} unknown")
    return "; ".join(parts)


def opset_verdict(book: RuleBook, trt: str, opset: int) -> OpsetVerdict | None:
    """None when ``opset`` is inside the target's range, or inside every range its neighbours allow."""
    rows = _rows(book)
    head = parse_version(trt)[:2]
    at = next((i for i, r in enumerate(rows) if r[0] == head), None)
    if at is None or opset <= 0:
        return None  # a version without a row (check_known_trt refuses it first) or no default-domain opset
    row = rows[at][2]
    above = _crossed(rows, at, opset, "max")
    found = above or _crossed(rows, at, opset, "min")
    if found is None:
        return None
    limit, limit_from, safe, confidence = found
    newer = None
    if above:
        newer = next((r[1] for r in rows[at + 1:] if r[2]["max"] is not None and r[2]["max"] >= opset), None)
    return OpsetVerdict("above" if above else "below", limit, limit_from, safe, confidence,
                        _range_text(rows, at), row["source"], newer)


def _crossed(rows: list[tuple[Version, str, dict]], at: int, opset: int, key: str) -> tuple[int, str, int, str] | None:
    """(bound crossed, its version, safe opset, confidence) when ``opset`` is past the target's ``key`` bound.

    Documented: the target's own bound. Otherwise the bound lies between the nearest documented ones (a
    maximum and a minimum only rise from release to release): past both, it is past the target's too
    (inferred); past only the nearer-side one, it is unknown. The safe opset is the bound on the inner side."""
    low, high, low_from, high_from = _bound(rows, at, key)
    past = (lambda bound: opset > bound) if key == "max" else (lambda bound: opset < bound)
    inner, inner_from, outer, outer_from = (low, low_from, high, high_from) if key == "max" else \
        (high, high_from, low, low_from)
    if rows[at][2][key] is not None:
        return (low, low_from, low, "documented") if past(low) else None
    if outer is not None and past(outer):
        return outer, outer_from, inner if inner is not None else outer, "inferred"
    if inner is not None and past(inner):
        return inner, inner_from, inner, "unknown"
    return None
