"""`trtadvisor diff` of two exports whose node names differ: layers and nodes are paired by structure.

The TorchScript exporter names nodes by module path (``/layer1/layer1.0/conv1/Conv``), the dynamo exporter by
op and counter (``node_Conv_295``): no name is on both sides. Two exports of one architecture must diff as
unchanged, and a real change (one more BasicBlock) must show as exactly that change.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from trtadvisor.api import audit
from trtadvisor.ci.alignment import align, increasing_pairs
from trtadvisor.ci.diff import ModelDiff, diff_results
from trtadvisor.knowledge.rulebook import default_rulebook

from conftest import REPO, sample_path, samples_where

EXTRA_BLOCK = REPO / "samples" / "diff" / "resnet18_extra_block.dynamo.opset18.onnx"  # make_diff_pairs.py
REGRESSIONS = {"TRT501", "TRT502", "TRT503"}


def _diff(old: Path, new: Path) -> ModelDiff:
    return diff_results(audit(old), audit(new), default_rulebook())


def _ops(diff: ModelDiff, side: str, op: str, rows: str) -> int:
    """How many ``op`` nodes the rows hold on one side: rows 'paired' (both sides), 'added' or 'removed'."""
    keep = {"paired": lambda r: r.old is not None and r.new, "added": lambda r: r.old is None,
            "removed": lambda r: r.old is not None and not r.new}[rows]
    layers = [layer for r in diff.rows if keep(r) for layer in ((r.old,) if side == "old" else r.new)]
    return sum(layer.ops.count(op) for layer in layers)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "efficientnet_b0"])
def test_torchscript_and_dynamo_exports_of_one_architecture_diff_as_unchanged(name: str) -> None:
    old_entry = samples_where(name=name, exporter="torchscript", opset=17)[0]
    new_entry = samples_where(name=name, exporter="dynamo", opset=18)[0]
    diff = _diff(sample_path(old_entry), sample_path(new_entry))
    assert diff.matched_by == "structure"
    assert all(r.old is not None and len(r.new) == 1 for r in diff.rows), "no layer added or removed"
    convs = old_entry["facts"]["conv2d"]
    assert _ops(diff, "old", "Conv", "paired") == _ops(diff, "new", "Conv", "paired") == convs
    assert _ops(diff, "new", "Add", "paired") == old_entry["facts"]["residual_adds"]
    assert diff.lost == () and not REGRESSIONS & {f.rule for f in diff.findings}


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_one_more_basic_block_is_the_one_change_reported(exporter: str) -> None:
    # The new model is ResNet [3, 2, 2, 2]: ResNet-18 with one more BasicBlock in layer1, i.e. two 3x3
    # convolutions, two ReLU calls and one residual Add. Seen against either exporter's ResNet-18 (the
    # dynamo one has the same kind of names, but every counter after the new block is shifted).
    old_entry = samples_where(name="resnet18", exporter=exporter, opset=17 if exporter == "torchscript" else 18)[0]
    assert old_entry["facts"]["residual_block_kind"] == "BasicBlock"
    diff = _diff(sample_path(old_entry), EXTRA_BLOCK)
    for op in ("Conv", "Add", "Relu", "MaxPool", "Gemm"):
        assert _ops(diff, "old", op, "removed") == 0, op
    assert (_ops(diff, "new", "Conv", "added"), _ops(diff, "new", "Relu", "added"),
            _ops(diff, "new", "Add", "added")) == (2, 2, 1)
    assert _ops(diff, "old", "Conv", "paired") == old_entry["facts"]["conv2d"]
    assert diff.lost == () and not REGRESSIONS & {f.rule for f in diff.findings}


def test_alignment_pairs_equal_items_in_order_and_keeps_anchors() -> None:
    rng = random.Random(0)
    for _ in range(200):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 40))]
        b = [rng.choice("abcd") for _ in range(rng.randint(0, 40))]
        pairs = align(a, b)
        assert all(a[i] == b[j] for i, j in pairs)
        assert all(p[0] < q[0] and p[1] < q[1] for p, q in itertools.pairwise(pairs))
    a = [rng.choice("abcd") for _ in range(5000)]
    b = [*a[:2500], "x", *a[2500:]]  # one item inserted: every item of a keeps its partner
    assert align(a, b) == [(i, i if i < 2500 else i + 1) for i in range(5000)]
    anchors = increasing_pairs([(0, 3), (1, 1), (2, 2), (3, 0)])
    assert len(anchors) == 2 and anchors[0][0] < anchors[1][0] and anchors[0][1] < anchors[1][1]
