"""`diff` reports an attention site that stops fusing once: as the attention change (TRT502), not again as a
lost "mha" fusion (TRT501) or as the new model's own attention finding (TRT301) on the same nodes."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO, sample_path, samples_where


def test_an_attention_change_is_reported_once() -> None:
    old = samples_where(name="sdpa_head24", exporter="dynamo", opset=18)[0]
    new = samples_where(name="sdpa_head320", exporter="dynamo", opset=18)[0]
    assert old["facts"]["num_attention_sites"] == new["facts"]["num_attention_sites"] == 1
    proc = subprocess.run([sys.executable, "-m", "trtadvisor", "diff", str(sample_path(old)), str(sample_path(new)),
                           "--trt", "10.16", "--sm", "90", "--precision", "fp16", "--format", "json"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    site = set(report["attention_changes"][0]["nodes"])
    about_site = [f for f in report["findings"] if site & set(f["nodes"])]
    assert [f["rule"] for f in about_site] == ["TRT502"]
    assert all(c["fusion"] != "mha" for c in report["fusions_lost"])
    concise = subprocess.run([sys.executable, "-m", "trtadvisor", "diff", str(sample_path(old)),
                              str(sample_path(new)), "--trt", "10.16", "--sm", "90", "--precision", "fp16",
                              "--format", "concise"], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert [line.split(" ")[1] for line in concise.stdout.splitlines()] == ["TRT502"]
