"""The rich summary names a few type conversions, not every one (a detector had 25 on one row)."""

from __future__ import annotations

from trtadvisor.report.rich_report import reformats_text


def _cast(i: int, src: str = "int64", dst: str = "fp32") -> dict[str, str]:
    return {"name": f"Cast_{i}", "at": "inside", "tensor": f"t{i}", "layer": f"Cast_{i}", "from": src, "to": dst}


def test_many_conversions_are_summarised() -> None:
    casts = [_cast(i) for i in range(25)] + [_cast(25, "fp32", "fp16")]
    text = reformats_text(casts)
    assert "'t3'" in text and "'t4'" not in text
    assert "and 22 more (INT64->FP32 x21, FP32->FP16 x1" in text


def test_few_conversions_are_all_named() -> None:
    text = reformats_text([_cast(0), _cast(1, "fp32", "fp16")])
    assert text == "INT64->FP32 at inside 't0', FP32->FP16 at inside 't1'"
