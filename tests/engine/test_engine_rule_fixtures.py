"""Every engine code (rules/engine.toml) is raised on its fixture and not on a clean engine.

The engine codes are checks over a built engine's artifacts, so their "bad" example is an artifact, not ONNX
text: each [rule.CODE] names its ``fixture``, either a real artifact under ../shared/data/trt-artifacts (the
bad case below must read that very file) or "tests: ..." for an engine described here field by field, where no
real artifact shows the condition. The clean cases are real artifacts where they exist. The codes are read the
way the report reads them: per-layer causes (find_causes), diagnoses (diagnose), and for the comparison codes
the whole confirm stage on a model and its engine (confirm_into, engine_items).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from trtadvisor.api import audit
from trtadvisor.confirm.artifacts import load_engine
from trtadvisor.confirm.diagnose import diagnose, engine_rules, find_bottlenecks, find_causes
from trtadvisor.confirm.model import Engine, EngineLayer, EngineTensor, PerfSummary
from trtadvisor.confirm.stage import confirm_into
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.report.engine_items import engine_items

from conftest import REPO, artifact, sample_path, samples_where

RULES = default_rulebook().tables["engine.toml"]["rule"]
A100 = "trex/examples/pytorch/resnet/A100/{}/resnet.onnx.engine.{}.json"
LEVIT = "trt2022-levit/levit128S.exportLayerInfo-namesonly.json"
LEVIT_LOG = "trt2022-levit/levit128S.trtexec-dumpProfile-verbose.log"
COOKBOOK = "trt-cookbook/trt10.16.1/"
CUDA_GRAPH_LOG = COOKBOOK + "result-03-inference-cudagraph.log"
LENET = REPO / "samples" / "real_pairs" / "lenet.dynamo.opset18.onnx"
LENET_TARGET = {"trt": "10.16", "gpu": "H100", "precision": "fp32"}  # the cookbook's H100 build (SOURCES.md)


def _codes(engine: Engine) -> set[str]:
    """The codes of every per-layer cause and every diagnosis of ``engine``."""
    rules = engine_rules()
    layers = find_bottlenecks(engine, top=None) + find_causes(engine)
    return {rules.code(b.rule) for b in layers if b.rule} | {rules.code(d.rule) for d in diagnose(engine)}


def _artifacts(**paths: str) -> tuple[set[str], tuple[str, ...]]:
    return _codes(load_engine(**{k: artifact(v) for k, v in paths.items()})), tuple(paths.values())


def _confirmed(model: object, target: dict[str, str], **paths: str) -> tuple[set[str], tuple[str, ...]]:
    """The codes the confirm stage reports for ``model`` audited on ``target`` against the artifacts."""
    result = audit(model, **target)
    confirm_into(result, top=None, **{k: str(artifact(v)) for k, v in paths.items()})
    return {item.code for item in engine_items(result.contract_fields())}, tuple(paths.values())


def _resnet() -> object:
    return sample_path(samples_where(name="resnet18", exporter="torchscript")[0])


def _fixture(layers: tuple[EngineLayer, ...] = (), summary: PerfSummary | None = None,
             trt: str | None = None) -> tuple[set[str], tuple[str, ...]]:
    return _codes(Engine(layers=layers, summary=summary, trt_version=trt)), ()


def _conv(tactic: str, channels: int) -> EngineLayer:
    tensor = EngineTensor("x", (1, channels, 8, 8), "Half")
    return EngineLayer("Conv_1", "CaskConvolution", (tensor,), (tensor,), tactic, median_ms=1.0, percent=10.0)


POOL = EngineLayer("Pool_2", "CaskPooling", median_ms=9.0)
EVEN = tuple(EngineLayer(f"Pool_{i}", "CaskPooling", median_ms=1.0) for i in range(10))  # 10% each
MYELIN = EngineLayer("{ForeignNode[a...b]}", "Myelin", onnx_nodes=("a", "x", "b"), median_ms=9.0, percent=90.0)
SMALL_MYELIN = EngineLayer("{ForeignNode[a...b]}", "Myelin", onnx_nodes=("a", "b"), median_ms=1.0)
# A trtexec summary with nothing to say: enqueue well under compute, small transfers, p99 near the median.
CALM = dict(latency_median_ms=1.0, h2d_median_ms=0.05, d2h_median_ms=0.05, enqueue_median_ms=0.2,
            gpu_compute_median_ms=0.9, gpu_compute_p99_ms=0.95)
TRANSFERS = {**CALM, "h2d_median_ms": 0.3, "d2h_median_ms": 0.1}  # 40% of the latency

Run = Callable[[], tuple[set[str], tuple[str, ...]]]

# code -> (raises it, does not raise it); each returns (codes found, artifacts read)
CASES: dict[str, tuple[Run, Run]] = {
    "TRT601": (lambda: _artifacts(layer_info=LEVIT, log=LEVIT_LOG),
               lambda: _artifacts(layer_info=A100.format("fp16", "graph"), profile=A100.format("fp16", "profile"))),
    "TRT602": (lambda: _fixture((_conv("sm50_xmma_conv_fprop_fused_conv_act_fp32_NCHW", 30), POOL)),
               lambda: _fixture((_conv("sm80_xmma_fprop_implicit_gemm_f16f16_f16f32_f32_nhwckrsc_nhwc_hmma", 32),
                                 POOL))),
    "TRT603": (lambda: _artifacts(layer_info=A100.format("fp16", "graph"), profile=A100.format("fp16", "profile")),
               lambda: _artifacts(layer_info=A100.format("fp32", "graph"), profile=A100.format("fp32", "profile"))),
    "TRT604": (lambda: _artifacts(layer_info=A100.format("qat", "graph").replace("resnet.onnx", "resnet-qat.onnx"),
                                  profile=A100.format("qat", "profile").replace("resnet.onnx", "resnet-qat.onnx")),
               lambda: _artifacts(layer_info=A100.format("fp16", "graph"), profile=A100.format("fp16", "profile"))),
    "TRT605": (lambda: _fixture((MYELIN, EngineLayer("c", "CaskPooling", onnx_nodes=("c",), median_ms=1.0))),
               lambda: _fixture((SMALL_MYELIN, *EVEN))),
    # LeViT's Conv_0 takes 44.3% of its engine; the A100 ResNet-18's largest layer 24.6%, under the 25% threshold.
    "TRT606": (lambda: _artifacts(layer_info=LEVIT, log=LEVIT_LOG),
               lambda: _artifacts(profile=A100.format("fp32", "profile"))),
    "TRT607": (lambda: _artifacts(log=LEVIT_LOG), lambda: _artifacts(log=CUDA_GRAPH_LOG)),
    "TRT608": (lambda: _fixture(summary=PerfSummary(**TRANSFERS), trt="11.1.0"),
               lambda: _fixture(summary=PerfSummary(**CALM), trt="11.1.0")),
    "TRT609": (lambda: _artifacts(log=LEVIT_LOG), lambda: _artifacts(log=CUDA_GRAPH_LOG)),
    "TRT610": (lambda: _artifacts(log=COOKBOOK + "result-05-dumpProfile.log"),
               lambda: _artifacts(log=CUDA_GRAPH_LOG)),
    "TRT611": (lambda: _confirmed(_resnet(), {"trt": "8.5", "gpu": "A100", "precision": "fp16"},
                                  layer_info=A100.format("fp16", "graph")),
               lambda: _confirmed(LENET, LENET_TARGET, layer_info=COOKBOOK + "model-trained-exportLayerInfo.json")),
    "TRT612": (lambda: _confirmed(_resnet(), {}, layer_info=A100.format("fp16", "graph")),
               lambda: _confirmed(LENET, LENET_TARGET, layer_info=COOKBOOK + "model-trained-exportLayerInfo.json")),
    "TRT613": (lambda: _confirmed(_resnet(), {}, layer_info=A100.format("fp16", "graph")),
               lambda: _confirmed(LENET, LENET_TARGET, layer_info=COOKBOOK + "model-trained-exportLayerInfo.json")),
}


def test_every_engine_code_has_a_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_engine_code_is_raised_on_its_fixture_and_not_on_a_clean_engine(code: str) -> None:
    bad, good = CASES[code]
    found, read = bad()
    assert code in found, (code, sorted(found))
    fixture = RULES[code]["fixture"]
    if fixture.startswith("tests:"):
        assert not read  # described field by field here: no artifact shows it
    else:
        assert fixture in read, f"rules/engine.toml names {fixture} as {code}'s fixture; the case reads {read}"
    clean, _ = good()
    assert code not in clean, (code, sorted(clean))
