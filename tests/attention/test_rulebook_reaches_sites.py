"""A rule book passed to api.audit reaches the attention-site analysis the plan and the advice share."""

from __future__ import annotations

import shutil
from pathlib import Path

from trtadvisor.api import audit
from trtadvisor.knowledge.rulebook import load_rulebook, rules_dir

from conftest import REPO

LLAMA = REPO / "samples" / "transformers" / "llama_gqa_eager.torchscript.opset17.onnx"


def test_the_audits_mask_threshold_is_the_one_of_its_rule_book(tmp_path: Path) -> None:
    """Llama's decoder attends causally: the additive mask blocks the future (finfo.min) and keeps the past
    (0). With a book whose threshold counts every value up to 0.5 as blocked, nothing is kept, so the same
    mask no longer reads as causal: the book passed to audit() decided."""
    shutil.copytree(rules_dir(), tmp_path / "rules")
    table = tmp_path / "rules" / "attention.toml"
    text = table.read_text(encoding="utf-8")
    assert "blocked_below = -50.0" in text
    table.write_text(text.replace("blocked_below = -50.0", "blocked_below = 0.5"), encoding="utf-8")
    default = audit(LLAMA)
    custom = audit(LLAMA, book=load_rulebook(tmp_path / "rules"))
    assert default.attention and all(judged.site.causal for judged in default.attention)
    assert custom.attention and not any(judged.site.causal for judged in custom.attention)
