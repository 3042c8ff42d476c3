"""`--format html`: one self-contained page, rendered in a real headless browser (Debian's chromium).

The page must work offline (no network, inline CSS/JS/SVG), carry its plots in the DOM, and render to
a screenshot that shows them. The browser tests skip with a reason when /usr/bin/chromium is absent
(install it with `apt-get install -y chromium`).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from trtadvisor.api import audit
from trtadvisor.ci.diff import diff_results
from trtadvisor.confirm.stage import confirm_into
from trtadvisor.knowledge.rulebook import default_rulebook
from trtadvisor.report.formats import FormatOptions, get_formatter

from conftest import ARTIFACTS, REPO, judged_site, sample_path, samples_where, unavailable

CHROMIUM = Path("/usr/bin/chromium")
FUSED_RGB = (0x2E, 0x9D, 0x62)  # --fused in the page's CSS: the bars of fused nodes
TIME_RGB = (0x6A, 0x5A, 0xCD)  # --time: per-layer time bars
RESNET_TS = samples_where(name="resnet18", exporter="torchscript")[0]
RESNET_DYNAMO = samples_where(name="resnet18", exporter="dynamo", opset=18)[0]
A100 = ARTIFACTS / "trex" / "examples" / "pytorch" / "resnet" / "A100" / "fp32"



@pytest.fixture
def chromium_installed() -> None:
    """Skip without chromium on a developer machine; in CI (CI=true) a missing browser fails the test."""
    if not CHROMIUM.exists():
        unavailable("chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")


needs_browser = pytest.mark.usefixtures("chromium_installed")


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _read_png(path: Path) -> np.ndarray:
    """A tiny PNG reader (8-bit RGB/RGBA, no interlace): enough for a browser screenshot."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, chunk = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 2:
            row = (line + previous) % 256
        elif kind == 1:
            row = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1) % 256
        else:
            row = line.copy()
            for x in range(stride):
                left = row[x - bpp] if x >= bpp else 0
                up = previous[x]
                if kind == 3:
                    row[x] = (row[x] + (left + up) // 2) % 256
                else:
                    corner = previous[x - bpp] if x >= bpp else 0
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                    row[x] = (row[x] + pred) % 256
        out[y] = row
        previous = row
    return out.reshape(height, width, bpp)[:, :, :3]


def _pixels_of(image: np.ndarray, rgb: tuple[int, int, int]) -> int:
    return int(np.all(np.abs(image.astype(np.int32) - np.array(rgb)) <= 3, axis=2).sum())


def _audit_with_engine() -> Any:
    """ResNet-18 with the real A100 engine read (per-layer times), or None without the artifacts."""
    if not (A100 / "resnet.onnx.engine.graph.json").is_file():
        return None
    result = audit(sample_path(RESNET_TS), trt="8.5", gpu="A100", precision="fp32")
    confirm_into(result, layer_info=str(A100 / "resnet.onnx.engine.graph.json"),
                 profile=str(A100 / "resnet.onnx.engine.profile.json"))
    return result


def _with_attention_verdicts(result: Any) -> Any:
    """Attention verdicts as the attention advisor records them (AuditResult.attention, contract v1)."""
    if result.attention is None:
        nodes = [n.name for n in result.model.graph.nodes]
        result.attention = (judged_site(nodes[:3], head_size=64, fused=True, mask="bool"),
                            judged_site(nodes[3:6], head_size=320, fused=False,
                                        reasons=("head size 320 is above 256",)))
    return result


def _page(result: Any) -> str:
    return get_formatter("html", FormatOptions(root=REPO)).format(result)


def test_page_is_self_contained() -> None:
    html = _page(audit(sample_path(RESNET_DYNAMO)))
    assert html.startswith("<!DOCTYPE html>")
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert not re.search(r"""\b(src|href)\s*=\s*["']?(https?:)?//""", html)
    # The only URL is the SVG namespace, which is a name, not a fetch.
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert "Content-Security-Policy" in html  # and the page forbids fetching anything at all


def test_model_text_is_escaped() -> None:
    result = audit(sample_path(RESNET_DYNAMO))
    result.findings = [type(f)(f.rule, f.severity, "<script>alert(1)</script>", f.nodes, f.hint)
                       for f in result.findings]
    html = _page(result)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@needs_browser
def test_audit_page_renders_with_its_plots(tmp_path: Path) -> None:
    result = _audit_with_engine() or audit(sample_path(RESNET_DYNAMO))
    result = _with_attention_verdicts(result)
    page = tmp_path / "report.html"
    page.write_text(_page(result), encoding="utf-8")

    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    coverage = re.search(r'<svg id="coverage-by-kind".*?</svg>', html, re.S)
    assert coverage is not None
    # One bar per layer kind; ResNet-18 has convolutions (facts: conv2d = 20), so that bar has a fused segment.
    assert RESNET_TS["facts"]["conv2d"] == 20
    assert ">convolution<" in coverage.group(0) and coverage.group(0).count("<rect") >= 2
    assert '<svg id="attention-verdicts"' in html
    assert "head size 320 is above 256" in html
    if result.engine is not None:
        timing = re.search(r'<svg id="hot-layers".*?</svg>', html, re.S)
        assert timing is not None
        # The slowest layer of the A100 profile is drawn first: read it from the artifact itself.
        import json

        profile = json.loads((A100 / "resnet.onnx.engine.profile.json").read_text())
        rows = [r for r in profile if isinstance(r, dict) and "name" in r and "averageMs" in r]
        slowest = max(rows, key=lambda r: r.get("medianMs", r["averageMs"]))["name"]
        assert re.search(r"<title>" + re.escape(slowest) + r"</title>", timing.group(0))

    shot = tmp_path / "report.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    image = _read_png(shot)
    assert image.shape[:2] == (2000, 1280)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50, "the screenshot is not a blank page"
    assert _pixels_of(image, FUSED_RGB) > 500, "the fusion-coverage bars are drawn"
    if result.engine is not None:
        assert _pixels_of(image, TIME_RGB) > 500, "the per-layer time bars are drawn"
    keep = REPO / "tests" / "ci" / "out"
    if keep.is_dir():  # for a person to look at: mkdir tests/ci/out
        shutil.copyfile(shot, keep / "audit.png")


@needs_browser
def test_diff_page_renders(tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    old_path = sample_path(RESNET_DYNAMO)
    model = onnx.load(str(old_path), load_external_data=False)
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    model.graph.node.append(helper.make_node("Neg", [conv.output[0]], ["tap"], name="tap_reader"))
    model.graph.output.append(helper.make_tensor_value_info("tap", onnx.TensorProto.FLOAT, None))
    new_path = tmp_path / "new.onnx"
    onnx.save(model, str(new_path))
    diff = diff_results(audit(old_path), audit(new_path), default_rulebook())
    page = tmp_path / "diff.html"
    page.write_text(get_formatter("html", FormatOptions(root=REPO)).format_diff(diff), encoding="utf-8")

    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert '<svg id="coverage-before-after"' in dom.stdout
    table = re.search(r'<table id="fusion-changes">.*?</table>', dom.stdout, re.S)
    assert table is not None and "conv+relu" in table.group(0) and conv.name in table.group(0)

    shot = tmp_path / "diff.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri())
    assert run.returncode == 0 and shot.stat().st_size > 10_000
    image = _read_png(shot)
    assert _pixels_of(image, FUSED_RGB) > 200
    keep = REPO / "tests" / "ci" / "out"
    if keep.is_dir():
        shutil.copyfile(shot, keep / "diff.png")


@needs_browser
def test_attention_verdicts_of_a_real_transformer_are_plotted(tmp_path: Path) -> None:
    entry = samples_where(name="bert_sdpa", exporter="dynamo", opset=18)[0]
    result = audit(sample_path(entry))
    page = tmp_path / "bert.html"
    page.write_text(_page(result), encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    plot = re.search(r'<svg id="attention-verdicts".*?</svg>', dom.stdout, re.S)
    assert plot is not None
    # One bar per verdict; together they count every attention site of the architecture.
    notes = [int(n) for n in re.findall(r'<text class="muted"[^>]*>(\d+)</text>', plot.group(0))]
    assert sum(notes) == entry["facts"]["num_attention_sites"]
