"""The attribute types ONNX's schemas declare, written ahead of time for the installed onnx version.

Node.attr holds each attribute it reads against its op's schema (an ``axis`` given as a string is an
error, not a value). Asking onnx.defs for the first schema builds ONNX's whole schema registry, about
15 ms on every run that reads any attribute; ``schema_attrs.json`` holds the same answers (the newest
definition of every op of every domain in the registry, as ``onnx.defs.get_schema(op, domain)`` gives
it) for one onnx version and loads in well under a millisecond. Under any other onnx version the file
is ignored and the registry is asked, so a stale file costs time, never correctness;
``tests/core/test_schema_attrs.py`` fails while it is out of date. Regenerate it with::

    python -m trtadvisor.ir.schema_attrs
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import onnx
import onnx.defs

TABLE = Path(__file__).with_name("schema_attrs.json")

# domain -> op -> attribute name -> AttributeProto type
AttrTypes = dict[str, dict[str, dict[str, int]]]


def registry_attr_types() -> AttrTypes:
    """Every op's attribute types from the registry itself (newest definition per op and domain)."""
    names = sorted({(s.domain, s.name) for s in onnx.defs.get_all_schemas_with_history()})
    table: AttrTypes = {}
    for domain, op in names:
        try:
            schema = onnx.defs.get_schema(op, domain)
        except onnx.defs.SchemaError:
            continue
        table.setdefault(domain, {})[op] = {key: int(a.type) for key, a in sorted(schema.attributes.items())}
    return table


@functools.lru_cache(maxsize=1)
def recorded_attr_types() -> AttrTypes | None:
    """The table written for the installed onnx version; None when the file is missing, unreadable or
    written under another version (then the registry answers)."""
    try:
        data = json.loads(TABLE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("onnx") != onnx.__version__ or not isinstance(data.get("domains"), dict):
        return None
    return data["domains"]


def write_table(path: Path = TABLE) -> None:
    text = json.dumps({"onnx": onnx.__version__, "domains": registry_attr_types()}, sort_keys=True,
                      separators=(",", ":"))
    path.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_table()
    print(f"wrote {TABLE}")
