"""The HTML page in a real browser (headless chromium) at a desktop and a phone width.

A script added to a copy of the page measures what a person would notice: the page does not scroll
sideways, no chart label or note runs outside its chart, and no command argument is broken across lines.
The script writes its measurements into the DOM, which chromium dumps.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from trtadvisor.api import audit
from trtadvisor.confirm.stage import confirm_into
from trtadvisor.report.formats import FormatOptions, get_formatter

from conftest import REPO, SAMPLES, sample_path, samples_where, unavailable
from conftest import artifact as art

CHROMIUM = Path("/usr/bin/chromium")
RESNET = sample_path(samples_where(name="resnet18", exporter="torchscript")[0])
A100_FP16 = "trex/examples/pytorch/resnet/A100/fp16/resnet.onnx.engine."

MEASURE = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });  // what a reader unfolds
  var out = {overflow: document.documentElement.scrollWidth - window.innerWidth, clipped: [], broken: [],
             width: window.innerWidth, scrolls: [], tiny: [], wrapped: []};
  document.querySelectorAll('section').forEach(function (s) {
    // A table of eight or more columns (the attention table) scrolls inside its section on a phone by design.
    var columns = Math.max.apply(null, [0].concat(Array.prototype.map.call(s.querySelectorAll('thead tr'),
                                                                           function (r) { return r.cells.length; })));
    if (s.scrollWidth > s.clientWidth + 1 && columns < 8)
      out.scrolls.push((s.querySelector('h2') || s).textContent.slice(0, 60));
  });
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var shown = svg.getBoundingClientRect().width;
    if (shown > 0 && 12 * shown / svg.viewBox.baseVal.width < 8) out.tiny.push(svg.id);
  });
  document.querySelectorAll('td.num, td.code').forEach(function (td) {
    var r = document.createRange(); r.selectNodeContents(td);
    var tops = Array.prototype.map.call(r.getClientRects(), function (b) { return b.top; });
    if (tops.length && Math.max.apply(null, tops) - Math.min.apply(null, tops) > 8) out.wrapped.push(td.textContent);
  });
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var box = svg.viewBox.baseVal;
    svg.querySelectorAll('text').forEach(function (t) {
      var b = t.getBBox();
      if (b.x < -1 || b.x + b.width > box.width + 1) out.clipped.push(svg.id + ': ' + t.textContent);
    });
  });
  document.querySelectorAll('.cmd .arg').forEach(function (a) {
    if (a.getClientRects().length > 1) out.broken.push(a.textContent);
  });
  var pre = document.createElement('pre'); pre.id = 'measured'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _measure(page: str, tmp_path: Path, width: int) -> dict:
    if not CHROMIUM.exists():
        unavailable("chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    path = tmp_path / f"page-{width}.html"
    path.write_text(page.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    run = subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--disable-component-update", "--disable-sync",
                          f"--user-data-dir={profile}", f"--window-size={width},1600", "--virtual-time-budget=5000",
                          "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r'<pre id="measured">(.*?)</pre>', run.stdout, re.S)
    assert found is not None, "the measuring script did not run"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


def _pages() -> dict[str, str]:
    from trtadvisor.batch import Row, render_summary_html
    from trtadvisor.ci.diff import diff_results
    from trtadvisor.knowledge.rulebook import default_rulebook

    confirmed = audit(RESNET, trt="8.6", gpu="A100 80GB PCIe")  # the engine's GPU: the cost check pairs times
    confirm_into(confirmed, layer_info=str(art(A100_FP16 + "graph.json")),
                 profile=str(art(A100_FP16 + "profile.json")))
    html = get_formatter("html", FormatOptions(root=REPO))
    unoptimized = SAMPLES / "cnn" / "resnet18_unoptimized.dynamo.opset18.onnx"
    diff = diff_results(audit(RESNET, gpu="A100"), audit(unoptimized, gpu="A100"), default_rulebook())
    rows = [Row("zoo/a/very/long/folder/name/of/a/model/resnet18_unoptimized.dynamo.opset18.onnx", 0, layers=22,
                coverage=0.986, attention={"fused": 12}),
            Row("zoo/broken.onnx", 2, error="not an ONNX model, or the file is truncated. Hint: check the export")]
    return {"confirm": html.format(confirmed),
            "bert-base": html.format(audit(SAMPLES / "transformers" / "bert_base.torchscript.opset17.onnx")),
            "diff": html.format_diff(diff),
            "zoo index": render_summary_html(rows, ["reports/zoo__resnet18_unoptimized.html", None])}


@pytest.mark.parametrize("width", [1280, 500])  # 500: the narrowest window headless chromium opens
def test_pages_fit_the_window(width: int, tmp_path: Path) -> None:
    for name, page in _pages().items():
        measured = _measure(page, tmp_path, width)
        assert measured["width"] == width
        assert measured["overflow"] <= 0, f"{name}: the page scrolls sideways by {measured['overflow']} px"
        assert measured["clipped"] == [], f"{name}: chart text outside its chart: {measured['clipped']}"
        assert measured["broken"] == [], f"{name}: command arguments broken across lines: {measured['broken']}"
        assert measured["scrolls"] == [], f"{name}: a section scrolls sideways: {measured['scrolls']}"
        assert measured["tiny"] == [], f"{name}: chart text under 8 px: {measured['tiny']}"
        assert measured["wrapped"] == [], f"{name}: a number or code broken across lines: {measured['wrapped']}"
