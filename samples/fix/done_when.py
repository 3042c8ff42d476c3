#!/usr/bin/env python3
"""Issue 17's "Done when", measured on full-size models made by the real exporters (torch venv).

Run from the repository root: ``PYTHONPATH=$PWD python samples/fix/done_when.py [--keep DIR]``.
Each model is exported with random weights into a temporary folder (weights present), fixed with
``trtadvisor fix`` (the command line, as a user runs it), and measured: op counts, attention
sites, findings, the proof, and the input files' SHA-256 before and after.

* BERT-base (transformers BertConfig defaults), TorchScript at opset 17 and at opset 16;
* Llama (LlamaConfig: 8 heads, 2 KV heads, hidden 256, 2 layers, sdpa), dynamo at opset 23;
* the 2018 model-zoo style ResNet-50 of samples/wild/make_wild_samples.py, weights kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import onnx

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "wild"))


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def ops(path: Path) -> Counter[str]:
    return Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)


def run_fix(model: Path, out: Path) -> dict:
    cmd = [sys.executable, "-m", "trtadvisor", "fix", str(model), "-o", str(out), "--format", "json"]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != 0:
        raise SystemExit(f"fix failed ({done.returncode}): {done.stderr}{done.stdout[-2000:]}")
    return json.loads(done.stdout)


def attention_sites(path: Path) -> list[tuple[int | None, int | None, bool]]:
    from trtadvisor.analysis.attention_sites import find_attention_sites
    from trtadvisor.ir.load import load_model

    return [(s.num_heads, s.kv_heads_seen, s.repeated_kv) for s in find_attention_sites(load_model(path).graph)]


def measure(name: str, model: Path, extra) -> dict:
    folder = model.parent
    before_files = digest(folder)
    out = folder.parent / f"{name}.fixed" / f"{name}.fixed.onnx"
    out.parent.mkdir(exist_ok=True)
    report = run_fix(model, out)
    result = {
        "model": name,
        "ops_before": dict(ops(model)), "ops_after": dict(ops(out)),
        "changes": Counter(c["rewrite"] for c in report["changes"]),
        "skipped": [f"{s['rewrite']}: {s['reason']}" for s in report["skipped"]][:5],
        "notes": report["notes"], "checker": report["checker"],
        "numeric": {k: report["numeric"][k] for k in ("ran", "passed", "outputs")},
        "before": report["before"], "after": report["after"], "resolved": report["resolved"],
        "inputs_byte_identical": digest(folder) == before_files,
    }
    onnx.checker.check_model(str(out), full_check=True)  # again, independently of the tool
    result.update(extra(model, out))
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", metavar="DIR", help="work in DIR instead of a temporary folder")
    ap.add_argument("--only", nargs="*", default=None, help="bert17 bert16 llama zoo")
    args = ap.parse_args()
    from make_fix_samples import export_bert, export_llama

    results = []
    with tempfile.TemporaryDirectory(prefix="fix-done-when-") as tmp:
        root = Path(args.keep or tmp)
        wanted = args.only or ["bert17", "bert16", "llama", "zoo"]

        def folder(name: str) -> Path:
            (root / name).mkdir(parents=True, exist_ok=True)
            return root / name

        if "bert17" in wanted:
            m = export_bert(folder("bert17") / "bert_base.ts17.onnx", opset=17)
            results.append(measure("bert_base.ts17", m, lambda a, b: {
                "LayerNormalization_after": ops(b)["LayerNormalization"]}))
        if "bert16" in wanted:
            m = export_bert(folder("bert16") / "bert_base.ts16.onnx", opset=16)
            results.append(measure("bert_base.ts16", m, lambda a, b: {
                "LayerNormalization_before": ops(a)["LayerNormalization"],
                "LayerNormalization_after": ops(b)["LayerNormalization"]}))
        if "llama" in wanted:
            m = export_llama(folder("llama") / "llama.dynamo23.onnx", hidden=256, heads=8, kv_heads=2, layers=2)
            results.append(measure("llama.dynamo23", m, lambda a, b: {
                "sites_before (N_q, N_kv seen, repeated)": attention_sites(a),
                "sites_after (N_q, N_kv seen, repeated)": attention_sites(b)}))
        if "zoo" in wanted:
            import make_wild_samples

            proto = make_wild_samples.old_zoo_resnet50()
            m = folder("zoo") / "old_zoo_resnet50.onnx"
            onnx.save_model(proto, str(m), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=m.name + ".data", size_threshold=1024, convert_attribute=True)

            def zoo(a: Path, b: Path) -> dict:
                from trtadvisor.api import audit

                return {"not_a_constant_findings_after": sum("not a constant" in f.message for f in audit(b).findings),
                        "not_a_constant_findings_before": sum("not a constant" in f.message
                                                              for f in audit(a).findings)}
            results.append(measure("old_zoo_resnet50", m, zoo))
    print(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
