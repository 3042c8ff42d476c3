"""The rule files parsed ahead of time: ``rules/parsed.json`` holds, for each ``rules/*.toml``, its parsed tables
and the SHA-256 of the bytes they were parsed from.

Parsing the TOML costs about 40 ms on every run (tomllib is pure Python); loading the JSON costs about 1 ms. A
file whose bytes no longer match the recorded digest (edited since) is parsed from its TOML, so the TOML stays
the only source of the knowledge and an out-of-date ``parsed.json`` costs time, never correctness.
``tests/core/test_rule_schema.py`` fails while it is out of date. Regenerate it with::

    python -m trtadvisor.knowledge.parsed_rules            # the rules/ the package reads
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from trtadvisor.errors import RuleDataError

PARSED = "parsed.json"


def rules_dir() -> Path:
    """The rule data: $TRTADVISOR_RULES_DIR, inside the installed package, or at the top of a source checkout."""
    override = os.environ.get("TRTADVISOR_RULES_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parents[1]  # the trtadvisor package
    for candidate in (here / "rules", here.parent / "rules"):
        if (candidate / "fusions.toml").is_file():
            return candidate
    raise RuleDataError("the rule data (rules/*.toml) was not found next to the package",
                        "reinstall trtadvisor; a wheel must contain trtadvisor/rules/*.toml")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_parsed(directory: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """File name -> (digest, parsed tables), from ``directory``'s parsed.json; empty where it is absent or
    unreadable (each file is then parsed from its TOML)."""
    try:
        raw = json.loads((directory / PARSED).read_bytes())
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict):
        return {}
    parsed: dict[str, tuple[str, dict[str, Any]]] = {}
    for name, entry in raw.items():
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str) and isinstance(entry.get("tables"), dict):
            parsed[name] = (entry["sha256"], entry["tables"])
    return parsed


def parse_toml(data: bytes) -> dict[str, Any]:
    """A rule file's tables from its bytes; ValueError (tomllib's error, or bytes that are not UTF-8) when
    it is not valid TOML. tomllib is imported here, only when a file is parsed."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib
    return tomllib.loads(data.decode("utf-8"))


def parse_directory(directory: Path) -> dict[str, dict[str, Any]]:
    """What parsed.json should hold for ``directory``: every rules file's digest and tables, by name."""
    parsed = {}
    for path in sorted(directory.glob("*.toml")):
        data = path.read_bytes()
        parsed[path.name] = {"sha256": digest(data), "tables": parse_toml(data)}
    return parsed


def render(parsed: dict[str, dict[str, Any]]) -> str:
    # allow_nan=False: a value JSON cannot carry fails here, at generation, rather than reading back changed.
    return json.dumps(parsed, indent=1, ensure_ascii=False, allow_nan=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else rules_dir()
    (directory / PARSED).write_text(render(parse_directory(directory)), encoding="utf-8")
    print(f"wrote {directory / PARSED}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
