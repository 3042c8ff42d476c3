"""Every table of every rules/*.toml is schema-checked: a renamed key anywhere exits 2 naming the file and key.

The mutations are made programmatically on a copy of rules/ in a temporary folder, one per table (every
[table], [[array of tables]] item and inline table), so a table added later is covered without a new test.
A table with free keys (GPU names, fusion ids) cannot tell a renamed key from a new one: there the test
gives the first value the wrong type instead, which must fail the same way.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from trtadvisor import cli
from trtadvisor.errors import RuleDataError
from trtadvisor.knowledge.rule_files import FILES
from trtadvisor.knowledge.rulebook import default_rulebook, load_rulebook
from trtadvisor.knowledge.schema import ListOf, MapOf, Opt, Table

from conftest import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RULES = REPO / "rules"


def _toml(value: Any) -> str:
    """A TOML value (inline tables for tables): enough to write a rule file back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _write(path: Path, data: dict[str, Any]) -> None:
    path.write_text("".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in data.items()))


def _tables(spec: Any, value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, spec) of every table in ``value``, walking the data and its schema together."""
    if isinstance(spec, Opt):
        spec = spec.spec
    if isinstance(spec, Table) and isinstance(value, dict):
        yield path, spec
        for key, sub in spec.fields.items():
            if key in value:
                yield from _tables(sub, value[key], (*path, key))
    elif isinstance(spec, MapOf) and isinstance(value, dict):
        yield path, spec
        for key, item in value.items():
            yield from _tables(spec.value, item, (*path, key))
    elif isinstance(spec, ListOf) and isinstance(value, list):
        for i, item in enumerate(value):
            yield from _tables(spec.item, item, (*path, i))


def _mutations() -> list[tuple[str, tuple[Any, ...], str]]:
    cases = []
    for path in sorted(RULES.glob("*.toml")):
        data = tomllib.loads(path.read_text())
        cases += [(path.name, where, type(spec).__name__) for where, spec in _tables(FILES[path.name], data)]
    return cases


MUTATIONS = _mutations()


def _dotted(where: tuple[Any, ...]) -> str:
    out = ""
    for part in where:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _mutate(data: dict[str, Any], where: tuple[Any, ...], kind: str) -> str:
    """Rename the first key of the table at ``where`` (or mistype its first value); the key path expected."""
    table = data
    for part in where:
        table = table[part]
    key = next(iter(table))
    if kind == "MapOf" and not key.startswith("TRT"):
        table[key] = "not-a-table" if isinstance(table[key], (dict, int)) else 12345
        return _dotted((*where, key))
    table[key + "x"] = table.pop(key)
    return _dotted((*where, key + "x"))


def test_every_table_is_covered() -> None:
    files = {name for name, _, _ in MUTATIONS}
    assert files == {p.name for p in RULES.glob("*.toml")} == set(FILES)
    assert len(MUTATIONS) > 80  # every [rule.*], [fusion.*], [[mha.column]] and inline table, as of writing


@pytest.mark.parametrize(("file", "where", "kind"), MUTATIONS,
                         ids=[f"{f}:{_dotted(w) or 'top'}" for f, w, _ in MUTATIONS])
def test_renamed_key_is_refused(file: str, where: tuple[Any, ...], kind: str, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for path in RULES.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    data = tomllib.loads((RULES / file).read_text())
    key_path = _mutate(data, where, kind)
    _write(tmp_path / file, data)
    with pytest.raises(RuleDataError) as raised:
        load_rulebook(tmp_path)
    assert f"rules/{file}" in raised.value.message and key_path in raised.value.message, raised.value.message
    # And through the command line: exit 2, one line, no traceback.
    monkeypatch.setenv("TRTADVISOR_RULES_DIR", str(tmp_path))
    default_rulebook.cache_clear()
    try:
        assert cli.main(["rules"]) == 2
    finally:
        default_rulebook.cache_clear()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"rules/{file}" in err and key_path in err and "Hint:" in err, err


def test_renamed_key_gets_did_you_mean(tmp_path: Path) -> None:
    for path in RULES.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    text = (tmp_path / "trt.toml").read_text().replace('default = "11.4"', 'defualt = "11.4"')
    (tmp_path / "trt.toml").write_text(text)
    with pytest.raises(RuleDataError) as raised:
        load_rulebook(tmp_path)
    assert raised.value.message == "rules/trt.toml: unknown key 'versions.defualt'"
    assert raised.value.hint == "did you mean 'default'?"


def test_mistyped_and_missing_values_are_refused(tmp_path: Path) -> None:
    for path in RULES.glob("*.toml"):
        shutil.copy(path, tmp_path / path.name)
    trt = (tmp_path / "trt.toml").read_text()
    (tmp_path / "trt.toml").write_text(trt.replace("default_sm = 90", 'default_sm = "90"'))
    with pytest.raises(RuleDataError, match=r"rules/trt.toml: 'target.default_sm' is str '90'"):
        load_rulebook(tmp_path)
    (tmp_path / "trt.toml").write_text(trt.replace('flag = "--useCudaGraph"\n', ""))
    with pytest.raises(RuleDataError, match=r"rules/trt.toml: missing key 'cuda_graph.flag'"):
        load_rulebook(tmp_path)
    (tmp_path / "trt.toml").write_text(trt)
    (tmp_path / "extra.toml").write_text("[x]\ny = 1\n")
    with pytest.raises(RuleDataError, match=r"rules/extra.toml: no schema declares this file"):
        load_rulebook(tmp_path)


def test_parsed_rules_are_current() -> None:
    """rules/parsed.json (the TOML parsed ahead of time) holds every rule file as its TOML parses now:
    regenerate it with `python -m trtadvisor.knowledge.parsed_rules` after editing a rule file."""
    from trtadvisor.knowledge.parsed_rules import digest, load_parsed

    parsed = load_parsed(RULES)
    assert set(parsed) == {p.name for p in RULES.glob("*.toml")}
    for path in RULES.glob("*.toml"):
        recorded, tables = parsed[path.name]
        assert recorded == digest(path.read_bytes()), f"rules/parsed.json is out of date for {path.name}"
        assert tables == tomllib.loads(path.read_text()), path.name


def test_an_edited_rule_file_is_read_from_its_toml(tmp_path: Path) -> None:
    """parsed.json beside a rule file edited since it was made: the edit counts (here a misspelled key is
    refused), and a parsed.json that is not JSON at all is ignored."""
    for path in [*RULES.glob("*.toml"), RULES / "parsed.json"]:
        shutil.copy(path, tmp_path / path.name)
    assert load_rulebook(tmp_path).tables == load_rulebook(RULES).tables
    text = (tmp_path / "gpus.toml").read_text()
    assert "\nsource = " in text
    (tmp_path / "gpus.toml").write_text(text.replace("\nsource = ", "\nsorce = ", 1))
    with pytest.raises(RuleDataError) as raised:
        load_rulebook(tmp_path)
    assert "rules/gpus.toml" in raised.value.message and "sorce" in raised.value.message
    (tmp_path / "gpus.toml").write_text(text)
    (tmp_path / "parsed.json").write_text("{not json")
    assert load_rulebook(tmp_path).tables == load_rulebook(RULES).tables
