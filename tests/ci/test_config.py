"""`[tool.trtadvisor]` / `trtadvisor.toml`: found upward from the model, target defaults, selection,
severity overrides, per-node ignores; unknown keys and codes are errors naming the key (exit 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from trtadvisor.cli import main
from trtadvisor.config import Config, find_config
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import sample_path, samples_where

DYNAMIC = samples_where(name="resnet18_dynbatch", exporter="torchscript")[0]
BERT = samples_where(name="bert_sdpa", exporter="dynamo", opset=18)[0]


def _project(tmp_path: Path, config: str, *, name: str = "trtadvisor.toml", entry: dict[str, Any] = DYNAMIC) -> Path:
    """A project with the config at its top and the model two folders down."""
    (tmp_path / name).write_text(config, encoding="utf-8")
    models = tmp_path / "models" / "vision"
    models.mkdir(parents=True)
    model = models / "model.onnx"
    shutil.copyfile(sample_path(entry), model)
    return model


def _audit(model: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    out = model.parent / "report.json"
    rc = main(["audit", str(model), "--format", "json", "-o", str(out), *extra])
    return rc, json.loads(out.read_text()) if out.exists() else {}


def _rules(report: dict[str, Any]) -> set[str]:
    return {f["rule"] for f in report["findings"]}


def test_config_is_found_upward_and_sets_the_target(tmp_path: Path) -> None:
    model = _project(tmp_path, 'trt = "10.8"\ngpu = "L4"\nprecision = "int8"\n')
    assert find_config(model) == tmp_path / "trtadvisor.toml"
    _, report = _audit(model)
    book = default_rulebook()
    assert report["target"] == {"trt": "10.8", "sm": book.gpus["L4"], "precision": "int8", "shapes": "static",
                                "opt_level": 3, "typing": "weak", "requested_precision": "int8", "gpu": "L4"}
    _, report = _audit(model, "--sm", "80", "--precision", "fp16")  # flags win over the file
    assert report["target"] == {"trt": "10.8", "sm": 80, "precision": "fp16", "shapes": "static", "opt_level": 3,
                                "typing": "weak", "requested_precision": "fp16", "gpu": None}
    _, report = _audit(model, "--no-config")
    assert report["target"]["trt"] == book.default_trt


def test_pyproject_section_is_read_and_other_pyprojects_are_passed_over(tmp_path: Path) -> None:
    model = _project(tmp_path, '[tool.trtadvisor]\nignore = ["TRT001"]\n', name="pyproject.toml")
    (model.parent / "pyproject.toml").write_text('[project]\nname = "inner"\n')  # no section: keep looking
    assert find_config(model) == tmp_path / "pyproject.toml"
    _, report = _audit(model)
    assert "TRT001" not in _rules(report) and "TRT002" in _rules(report)


def test_trtadvisor_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    model = _project(tmp_path, 'ignore = ["TRT002"]\n')
    (tmp_path / "pyproject.toml").write_text('[tool.trtadvisor]\nignore = ["TRT001"]\n')
    _, report = _audit(model)
    assert "TRT002" not in _rules(report) and "TRT001" in _rules(report)


def test_select_prefix_and_the_most_specific_entry_wins(tmp_path: Path) -> None:
    model = _project(tmp_path, 'select = ["TRT2"]\n')
    _, report = _audit(model)
    assert _rules(report) and all(r.startswith("TRT2") for r in _rules(report))
    config = Config(ignore=("TRT2",), extend_select=("TRT204",))
    assert config.enabled("TRT204") and not config.enabled("TRT201") and config.enabled("TRT101")
    assert not Config(select=("TRT204",), ignore=("TRT204",)).enabled("TRT204")  # a tie goes to ignore


def test_severity_override_changes_the_exit_code(tmp_path: Path) -> None:
    model = _project(tmp_path, '[severity]\nTRT002 = "error"\n')
    rc, report = _audit(model)
    assert rc == 1
    assert next(f for f in report["findings"] if f["rule"] == "TRT002")["severity"] == "error"
    rc, _ = _audit(model, "--exit-zero")
    assert rc == 0


def test_fail_on_from_the_config_and_from_the_flag(tmp_path: Path) -> None:
    model = _project(tmp_path, 'fail-on = "warning"\n')
    assert _audit(model)[0] == 1  # TRT002 is a warning
    assert _audit(model, "--fail-on", "error")[0] == 0


def test_per_node_ignores_match_names_and_module_scopes(tmp_path: Path) -> None:
    # TorchScript names carry the module path: '/layer1/layer1.1/relu_1/Relu'.
    model = _project(tmp_path, '[per-node-ignores]\n"/layer1/*" = ["TRT204"]\n')
    _, report = _audit(model)
    assert "TRT204" not in _rules(report)
    _, report = _audit(model, "--no-config")
    assert "TRT204" in _rules(report)


def test_per_node_ignores_by_dynamo_module_scope(tmp_path: Path) -> None:
    # The dynamo names are 'node_*'; only the module scopes in the metadata say 'inner.encoder...'
    # (the sample wraps the BERT model as 'inner'). "TRT" is the prefix of every code.
    model = _project(tmp_path, '[per-node-ignores]\n"inner.*" = ["TRT"]\n', entry=BERT)
    _, with_config = _audit(model)
    _, without = _audit(model, "--no-config")
    # Every node of the export lies under the 'inner' module: exactly the findings naming nodes go, and
    # the ones about the file (TRT001: weights absent) stay, unchanged and in order.
    about_nodes = [f for f in without["findings"] if f["nodes"]]
    assert about_nodes
    assert with_config["findings"] == [f for f in without["findings"] if not f["nodes"]]
    assert "TRT001" in _rules(with_config)


@pytest.mark.parametrize(("text", "key"), [
    ('slect = ["TRT1"]\n', "slect"),
    ('[severity]\nTRT999 = "error"\n', "severity.TRT999"),
    ('ignore = ["TRT9"]\n', "ignore"),
    ('ignore = ["E501"]\n', "ignore"),
    ('[per-node-ignores]\n"x*" = ["TRT777"]\n', 'per-node-ignores."x*"'),
    ('precision = "fp64"\n', "precision"),
    ('[severity]\nTRT101 = "fatal"\n', "severity.TRT101"),
    ("trt = 10\n", "trt"),
])
def test_bad_keys_and_codes_are_errors_naming_the_key(text: str, key: str, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = _project(tmp_path, text)
    rc, _ = _audit(model)
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "Hint:" in err
    assert f"'{key}" in err, err


def test_bad_key_in_pyproject_names_the_full_key_and_suggests(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    model = _project(tmp_path, '[tool.trtadvisor]\nextend_select = ["TRT1"]\n', name="pyproject.toml")
    assert _audit(model)[0] == 2
    err = capsys.readouterr().err
    assert "unknown key 'tool.trtadvisor.extend_select'" in err and "did you mean 'extend-select'" in err


def test_invalid_toml_and_missing_config_file_are_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _project(tmp_path, "select = [\n")
    assert _audit(model)[0] == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert _audit(model, "--config", str(tmp_path / "nope.toml"))[0] == 2
    assert _audit(model, "--no-config")[0] == 0

