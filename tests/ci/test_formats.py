"""Every output format of `audit` and `diff`: SARIF (validated against the 2.1.0 schema), GitHub
annotations, Markdown, JSON and rich; all from the one Formatter interface."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trtadvisor.cli import main
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.report.formats import FORMATS, FormatOptions, get_formatter
from trtadvisor.report.github import escape_data, escape_property

from conftest import REPO, SARIF_SCHEMA, sample_path, samples_where, unavailable

TINYNET = "tests/ci/data/tinynet.dynamo.onnx"
TINYNET_PY = REPO / "tests" / "ci" / "data" / "tinynet.py"
RESNET_DYNAMO = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]
RESNET_TS_DYNBATCH = samples_where(name="resnet18_dynbatch", exporter="torchscript")[0]
BERT_DYNAMO = samples_where(name="bert_sdpa", exporter="dynamo", opset=18)[0]


def _line_of(text: str) -> int:
    lines = TINYNET_PY.read_text().splitlines()
    return next(i for i, line in enumerate(lines, start=1) if line.strip() == text)


def _run(argv: list[str], tmp_path: Path, suffix: str = "out") -> tuple[int, str]:
    out = tmp_path / f"report.{suffix}"
    rc = main([*argv, "-o", str(out)])
    return rc, out.read_text(encoding="utf-8")


def _sarif_validator() -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    if not SARIF_SCHEMA.is_file():
        unavailable(f"SARIF schema not available: {SARIF_SCHEMA}")
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # paths in reports are relative to the current directory


# What each format must show for ResNet-18's audit (TRT001: its external weights are absent in the repository).
_AUDIT_MARKS = {"rich": "TRT001", "json": '"rule": "TRT001"', "sarif": '"ruleId": "TRT001"',
                "markdown": "| TRT001 |", "github": "title=TRT001 ", "html": "TRT001", "concise": ": TRT001 info "}


def test_every_format_is_registered_and_renders_audit_and_diff(tmp_path: Path) -> None:
    from trtadvisor.api import audit
    from trtadvisor.ci.diff import diff_results

    assert set(FORMATS) == {"rich", "json", "sarif", "markdown", "github", "html", "concise"}
    result = audit(sample_path(RESNET_DYNAMO))
    diff = diff_results(result, result, default_rulebook())
    for name in FORMATS:
        formatter = get_formatter(name, FormatOptions(root=REPO))
        text = formatter.format(result)
        assert _AUDIT_MARKS[name] in text, name
        assert RESNET_DYNAMO["path"].split("/")[-1] in text, name
        # concise prints one line per finding, so a diff without findings prints nothing (as ruff does)
        assert formatter.format_diff(diff).strip() or (name == "concise" and not diff.findings), name


@pytest.mark.parametrize("entry", [RESNET_DYNAMO, RESNET_TS_DYNBATCH, BERT_DYNAMO], ids=lambda e: e["path"])
def test_sarif_is_valid_and_lists_every_rule_with_help(entry: dict[str, Any], tmp_path: Path) -> None:
    validator = _sarif_validator()
    _, text = _run(["audit", entry["path"], "--format", "sarif"], tmp_path)
    log = json.loads(text)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, errors[0].message
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    book = default_rulebook()
    assert [r["id"] for r in rules] == list(book.rules)
    for rule in rules:
        doc = book.rule(rule["id"])
        assert rule["name"] == doc.name
        assert rule["shortDescription"]["text"] == doc.summary
        assert doc.fix in rule["help"]["text"] and doc.source in rule["help"]["text"]
        assert doc.bad in rule["help"]["text"] and doc.good in rule["help"]["text"]
        if doc.source.startswith("https://"):
            assert rule["helpUri"] == doc.source.split()[0]
    results = run["results"]
    assert results, "every sample has at least the weights-absent finding"
    for result in results:
        assert result["ruleId"] in book.rules
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["locations"], "every result has a location"
        physical = result["locations"][0]["physicalLocation"]
        # No stack traces in the samples: each finding points at the model file, nodes as logical locations.
        assert physical["artifactLocation"]["uri"] == entry["path"]
        assert physical["region"]["startLine"] >= 1
        assert result["partialFingerprints"]["trtadvisor/v1"]
        nodes = result["properties"]["nodes"]
        if nodes:
            assert result["locations"][0]["logicalLocations"][0]["name"] == nodes[0]


def test_sarif_points_at_the_python_line_when_the_exporter_recorded_it(tmp_path: Path) -> None:
    validator = _sarif_validator()
    _, text = _run(["audit", TINYNET, "--format", "sarif"], tmp_path)
    log = json.loads(text)
    assert not list(validator.iter_errors(log))
    result = next(r for r in log["runs"][0]["results"] if r["ruleId"] == "TRT101")
    location = result["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {"uri": "tests/ci/data/tinynet.py",
                                                                 "uriBaseId": "SRCROOT"}
    assert location["physicalLocation"]["region"]["startLine"] == _line_of("y = self.conv(x)")
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "block.conv::node_conv2d_1"
    assert result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == TINYNET
    assert log["runs"][0]["originalUriBaseIds"]["SRCROOT"]["uri"] == REPO.as_uri() + "/"


def test_github_annotations_carry_file_and_line(tmp_path: Path) -> None:
    _, text = _run(["audit", TINYNET, "--format", "github"], tmp_path)
    lines = text.splitlines()
    line = _line_of("y = self.conv(x)")
    assert any(x.startswith(f"::warning file=tests/ci/data/tinynet.py,line={line},title=TRT101 ") for x in lines)
    # Without stack traces: the model file, no line.
    _, text = _run(["audit", RESNET_DYNAMO["path"], "--format", "github"], tmp_path)
    notices = [x for x in text.splitlines() if x.startswith("::")]
    assert notices and all(x.startswith(f"::notice file={RESNET_DYNAMO['path']},title=TRT") for x in notices)


def test_github_escaping_follows_the_toolkit() -> None:
    assert escape_data("50% done\nnext") == "50%25 done%0Anext"
    assert escape_property("a:b,c") == "a%3Ab%2Cc"


def test_markdown_has_summary_coverage_findings_and_command(tmp_path: Path) -> None:
    _, text = _run(["audit", RESNET_DYNAMO["path"], "--format", "markdown", "--trt", "10.16", "--sm", "90",
                    "--precision", "fp16"], tmp_path, "md")
    facts = RESNET_DYNAMO["facts"]
    assert text.startswith(f"## trtadvisor: `{RESNET_DYNAMO['path']}`")
    assert "### Fusion coverage by layer kind" in text
    # Expected from the architecture (the exporter folds BatchNorm): the nodes are the convs, ReLU calls,
    # residual Adds, the max pool, the average pool, and flatten + linear (Reshape + Gemm). Fused: every conv
    # except the downsample ones, with its ReLU and Add; and Reshape + Gemm, which Myelin takes from TRT 10.
    nodes = facts["conv2d"] + facts["activation_calls"]["ReLU"] + facts["residual_adds"] + facts["maxpool2d"] \
        + facts["adaptive_avgpool2d"] + 2 * facts["linear"]
    fused = facts["conv2d"] - facts["downsample_blocks"] + facts["activation_calls"]["ReLU"] \
        + facts["residual_adds"] + 2 * facts["linear"]
    assert (nodes, fused) == (49, 44)
    assert f"**{fused / nodes:.1%}**" in text
    conv_row = next(x for x in text.splitlines() if x.startswith("| convolution |"))
    # Every nn.Conv2d of the architecture is a node of a convolution layer.
    assert int(conv_row.split("|")[3]) >= facts["conv2d"]
    assert "| | Rule | Where | Finding | Fix |" in text
    # The weights are external and absent (TRT001); the stem and downsample branches are independent (TRT204).
    rows = {line.split("|")[2].strip() for line in text.splitlines() if line.startswith("| ") and "TRT" in line}
    assert {"TRT001", "TRT204"} <= rows
    # The command comes from rules/trt.toml: --fp16 before 11.0, stable measurement, CUDA graphs before 11.0.
    assert f"```bash\ntrtexec --onnx={RESNET_DYNAMO['path']} --fp16 --noDataTransfers --useSpinWait " \
        "--useCudaGraph\n```" in text


def test_markdown_escapes_pipes_in_cells() -> None:
    from trtadvisor.report.markdown import cell

    assert cell("a|b\nc") == "a\\|b<br>c"


def test_json_rich_and_markdown_diff(tmp_path: Path) -> None:
    path = RESNET_DYNAMO["path"]
    rc, text = _run(["diff", path, path, "--format", "json"], tmp_path, "json")
    data = json.loads(text)
    assert rc == 0
    assert data["schema"] == "trtadvisor.diff/v1"
    assert data["fusions_lost"] == [] and data["fusions_gained"] == [] and data["new_findings"] == []
    assert data["old"]["fusion_coverage"] == data["new"]["fusion_coverage"]
    rc, text = _run(["diff", path, path, "--format", "rich"], tmp_path, "txt")
    assert "trtadvisor diff" in text and "0 lost, 0 gained" in text
    rc, text = _run(["diff", path, path, "--format", "markdown"], tmp_path, "md")
    assert text.startswith("## trtadvisor diff: ✅ no fusion lost")


def test_sarif_of_a_diff_is_valid(tmp_path: Path) -> None:
    validator = _sarif_validator()
    path = RESNET_DYNAMO["path"]
    _, text = _run(["diff", path, path, "--format", "sarif"], tmp_path)
    log = json.loads(text)
    assert not list(validator.iter_errors(log))
    assert log["runs"][0]["results"] == []


def test_rich_audit_still_default_for_a_terminal_and_json_otherwise(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["audit", str(sample_path(RESNET_DYNAMO))])
    assert rc == 0
    assert json.loads(capsys.readouterr().out)["schema"] == "trtadvisor.report/v1"
    # A terminal gets the rich report: a table of predicted layers, not JSON.
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    rc = main(["audit", str(sample_path(RESNET_DYNAMO))])
    out = capsys.readouterr().out
    assert rc == 0
    assert not out.lstrip().startswith("{") and "TRT001" in out and "Conv" in out


def test_markdown_lists_the_attention_sites_of_a_transformer(tmp_path: Path) -> None:
    _, text = _run(["audit", BERT_DYNAMO["path"], "--format", "markdown"], tmp_path, "md")
    assert "### Attention" in text
    section = text.split("### Attention", 1)[1].split("###", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    sites = BERT_DYNAMO["facts"]["attention_sites"]
    assert BERT_DYNAMO["facts"]["num_attention_sites"] == len(sites)
    # Identical sites share a row that counts them (×N); together the rows count every site.
    counts = [int(row.split("×", 1)[1].split()[0]) if "×" in row.split("|")[1] else 1 for row in rows]
    assert sum(counts) == len(sites)
    for row in rows:
        cells = [c.strip() for c in row.split("|")]  # Softmax | Kind | N_q | N_kv | H | S_q | S_kv | ...
        assert cells[2] == sites[0]["kind"] and int(cells[3]) == sites[0]["num_heads"]
        assert int(cells[5]) == sites[0]["head_size"]


def test_several_models_in_one_call_as_pre_commit_passes_them(tmp_path: Path) -> None:
    validator = _sarif_validator()
    models = [RESNET_DYNAMO["path"], TINYNET]
    rc, text = _run(["audit", *models, "--format", "sarif"], tmp_path)
    log = json.loads(text)
    assert not list(validator.iter_errors(log))
    assert len(log["runs"]) == 2
    rc, text = _run(["audit", *models, "--format", "github", "--fail-on", "warning"], tmp_path)
    assert rc == 1  # tinynet's blocked fusion is a warning
    assert text.count("trtadvisor: ") == 2
    assert main(["audit", *models, "--format", "json"]) == 2
