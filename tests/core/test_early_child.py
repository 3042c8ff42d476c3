"""The command line forks the shape-inference child before it imports onnx (the model's own input shapes):
the child loads only ONNX's C++ extension and protobuf, and its answer is the one the loader computes."""

from __future__ import annotations

import json
import marshal
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from trtadvisor.ir import shape_child
from trtadvisor.ir.load import inferred_types_payload

from conftest import REPO, SAMPLES

sys.path.insert(0, str(REPO / "benchmarks"))
from make_large_graph import make_model


def _run(code: str, *args: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter (nothing imported yet); its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("early") / "large.onnx"
    path.write_bytes(make_model(12_000).SerializeToString())
    assert path.stat().st_size >= shape_child.PARALLEL_MIN_BYTES  # the command line forks for it
    return path


_CLI_FORK = """
import json, sys
import trtadvisor.ir.shape_child as sc
seen = {}
real = sc.start
def start(file, data, compute):
    seen.setdefault("onnx_imported", "onnx" in sys.modules)
    return real(file, data, compute)
sc.start = start
from trtadvisor.cli import main
code = main(["audit", sys.argv[1], "--format", "json", "-o", sys.argv[2], "--exit-zero", *sys.argv[3:]])
print(json.dumps({"code": code, **seen}))
"""


def test_the_command_line_forks_before_importing_onnx(large: Path, tmp_path: Path) -> None:
    early = _run(_CLI_FORK, str(large), str(tmp_path / "early.json"))
    assert early == {"code": 0, "onnx_imported": False}
    # The same report as a load that infers in its own process (no child at all).
    local = _run("import json, sys\nimport trtadvisor.ir.shape_child as sc\nsc.PARALLEL_MIN_BYTES = 10**12\n"
                 + _CLI_FORK.split("\n", 2)[2].replace("import trtadvisor.ir.shape_child as sc\n", "", 1),
                 str(large), str(tmp_path / "local.json"))
    assert local == {"code": 0}  # never forked
    assert (tmp_path / "early.json").read_bytes() == (tmp_path / "local.json").read_bytes()


def test_with_shapes_the_child_is_forked_after_reading_them(large: Path, tmp_path: Path) -> None:
    # --shapes is read by the loader's parser (onnx imported), and the child infers with those shapes.
    run = _run(_CLI_FORK, str(large), str(tmp_path / "s.json"), "--shapes", "image:2x64x56x56")
    assert run == {"code": 0, "onnx_imported": True}


_CHILD_ANSWER = """
import json, marshal, sys
from pathlib import Path
from trtadvisor.cli import _child_answer
from trtadvisor.ir import inferred_types
file = Path(sys.argv[1])
parts = list(_child_answer(file, file.read_bytes()))
print(json.dumps({"onnx_imported": "onnx" in sys.modules,
                  "payload": [p.hex() for p in parts]}))
"""


def test_the_child_answer_without_onnx_is_the_loaders(large: Path) -> None:
    answer = _run(_CHILD_ANSWER, str(large))
    parts = [bytes.fromhex(p) for p in answer["payload"]]  # type: ignore[union-attr]
    expected = list(inferred_types_payload(large, large.read_bytes()))
    assert [marshal.loads(p) for p in parts] == [marshal.loads(p) for p in expected]
    assert not answer["onnx_imported"]  # the lean path never imports the onnx package


def test_a_contrib_model_in_an_early_child_imports_onnx_after_its_extension(tmp_path: Path) -> None:
    """A model importing ONNX Runtime's contrib domain is read in full: onnx is imported in the child after its
    C++ extension was loaded alone, which must still work (the extension cannot be loaded twice)."""
    model = onnx.load(SAMPLES / "wild" / "ort_optimized_bert.onnx", load_external_data=False)
    assert any(op.domain == "com.microsoft" for op in model.opset_import)
    path = tmp_path / "contrib.onnx"
    path.write_bytes(model.SerializeToString())
    answer = _run(_CHILD_ANSWER, str(path))
    parts = [bytes.fromhex(p) for p in answer["payload"]]  # type: ignore[union-attr]
    expected = list(inferred_types_payload(path, path.read_bytes()))
    types = marshal.loads(parts[0])
    assert types == marshal.loads(expected[0]) and marshal.loads(parts[1]) == marshal.loads(expected[1])
    # contrib ops' outputs are typed (ONNX alone leaves them untyped): the full path ran
    contrib_outputs = [o for n in model.graph.node if n.domain == "com.microsoft" for o in n.output if o]
    typed = [o for o in contrib_outputs if o in types]
    assert typed and all(types[o][0] for o in typed)
    assert answer["onnx_imported"]


def test_weights_dims_of_an_early_child(large: Path) -> None:
    answer = _run(_CHILD_ANSWER, str(large))
    distinct, at, nodes = marshal.loads(bytes.fromhex(answer["payload"][1]))  # type: ignore[index]
    proto = onnx.load(large, load_external_data=False)
    assert [distinct[i] for i in at] == [tuple(t.dims) for t in proto.graph.initializer]
    assert nodes is not None and len(nodes[1]) == len(proto.graph.node)  # the nodes' facts too, without onnx
    assert len(set(distinct)) == len(distinct)  # each distinct dims sent once
    assert distinct[at[0]] == (64, 64, 3, 3)  # make_large_graph's first weight: a 3x3 convolution, 64 channels


def test_an_extension_that_cannot_load_alone_falls_back_to_the_onnx_package() -> None:
    # An onnx laid out otherwise (the extension not loadable without its package) must not fail the inference:
    # the child then imports the package as the loader does.
    code = (
        "import importlib.machinery, json, sys\n"
        "class Refusing(importlib.machinery.ExtensionFileLoader):\n"
        "    def create_module(self, spec):\n"
        "        raise ImportError('not alone')\n"
        "real = importlib.machinery.PathFinder.find_spec\n"
        "refused = []\n"
        "def find_spec(name, path=None, target=None):  # the first load of the extension alone is refused\n"
        "    spec = real(name, path, target)\n"
        "    if name == 'onnx.onnx_cpp2py_export' and spec is not None and not refused:\n"
        "        refused.append(name)\n"
        "        spec.loader = Refusing(spec.name, spec.origin)\n"
        "    return spec\n"
        "importlib.machinery.PathFinder.find_spec = staticmethod(find_spec)\n"
        "from trtadvisor.ir.inferred_types import cpp_inference\n"
        "inference = cpp_inference()\n"
        "print(json.dumps({'refused': refused == ['onnx.onnx_cpp2py_export'], 'onnx': 'onnx' in sys.modules,\n"
        "                  'infers': callable(inference.infer_shapes)}))\n"
    )
    assert _run(code) == {"refused": True, "onnx": True, "infers": True}
