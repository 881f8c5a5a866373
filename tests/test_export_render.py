"""Exports drawn by real renderers look like the PNG: every panel's SVG through librsvg
(``rsvg-convert``), every PDF through poppler (``pdftoppm``), compared with the PNG of the
same panel; the unrolled network shows all T steps in every format; sizes stay bounded
after a long training history; ``--panels window``, ``--one-file``, a request that writes
nothing, and Ctrl-C on the command line.

The two renderers are Debian packages (librsvg2-bin, poppler-utils) that ``.ci/run``
installs: a missing one fails these tests with that message, it does not skip them.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bpttviz.export import (ONE_FILE_PDF, ExportError, build_panels, export_panels, render_image,
                            save_png, save_svg)
from bpttviz.export.svgfix import CHUNK
from bpttviz.gui.panels import PANELS
from bpttviz.session import Session

ROOT = Path(__file__).resolve().parents[1]
WIDTH = 640
T = 25  # min-char-rnn's window


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: install the Debian package {package} (.ci/run does)"
    return path


def rsvg(svg: Path, width: int = WIDTH) -> Image.Image:
    out = svg.with_suffix(".rsvg.png")
    subprocess.run([need("rsvg-convert", "librsvg2-bin"), "-w", str(width), str(svg), "-o", str(out)],
                   check=True, capture_output=True, timeout=60)
    return Image.open(out)


def poppler(pdf: Path, width: int = WIDTH, page: int = 1) -> Image.Image:
    stem = pdf.with_name(f"{pdf.stem}.p{page}")
    subprocess.run([need("pdftoppm", "poppler-utils"), "-png", "-f", str(page), "-l", str(page),
                    "-scale-to-x", str(width), "-scale-to-y", "-1", "-singlefile", str(pdf), str(stem)],
                   check=True, capture_output=True, timeout=60)
    return Image.open(str(stem) + ".png")


def thumb(im: Image.Image) -> np.ndarray:
    """64x36 grey thumbnail, composited on white."""
    bg = Image.new("RGBA", im.size, "white")
    bg.alpha_composite(im.convert("RGBA"))
    return np.asarray(bg.convert("L").resize((64, 36), Image.BILINEAR), dtype=float)


def similar(a: Image.Image, b: Image.Image) -> float:
    ta, tb = thumb(a).ravel(), thumb(b).ravel()
    return float(np.corrcoef(ta, tb)[0, 1])


def x_node_columns(im: Image.Image) -> int:
    """How many input-node discs (fill #c6dbef) stand side by side in the picture: the
    band of rows where that colour is densest, cut into runs of columns."""
    rgb = np.asarray(im.convert("RGB"), dtype=int)
    mask = np.abs(rgb - np.array([0xc6, 0xdb, 0xef])).sum(axis=2) < 30
    row = int(np.argmax(mask.sum(axis=1)))
    band = mask[max(0, row - 2):row + 3].any(axis=0)
    starts = np.flatnonzero(band[1:] & ~band[:-1]) + 1
    ends = np.flatnonzero(~band[1:] & band[:-1]) + 1
    if band[0]:
        starts = np.r_[0, starts]
    if band[-1]:
        ends = np.r_[ends, band.size]
    return int(np.count_nonzero(ends - starts >= 2))


@pytest.fixture(scope="module")
def pictures(tmp_path_factory, qapp):
    out = tmp_path_factory.mktemp("render")
    s = Session("min-char-rnn")
    s.set_event("backward:12")
    panels = build_panels(s)
    files = export_panels(s, panels, out, ["png", "svg", "pdf"], width=WIDTH)
    yield out, {p.key for p in panels}, files
    for p in panels:
        p.close()
        p.deleteLater()


def test_every_panel_in_every_format(pictures):
    out, keys, files = pictures
    assert keys == {cls.key for cls in PANELS}
    for key in keys:
        for ext in ("png", "svg", "pdf"):
            assert (out / f"{key}.{ext}").stat().st_size > 1000, f"{key}.{ext}"


@pytest.mark.parametrize("ext", ["svg", "pdf"])
def test_renderers_draw_it_like_the_png(pictures, ext):
    """librsvg and poppler draw each panel with the PNG's aspect (3 %) and pixels."""
    out, keys, _ = pictures
    bad = []
    for key in sorted(keys):
        png = Image.open(out / f"{key}.png")
        drawn = rsvg(out / f"{key}.svg") if ext == "svg" else poppler(out / f"{key}.pdf")
        aspect_png, aspect = png.width / png.height, drawn.width / drawn.height
        corr = similar(png, drawn)
        if abs(aspect / aspect_png - 1) > 0.03 or corr < 0.85:
            bad.append(f"{key}: aspect {aspect:.3f} vs {aspect_png:.3f}, correlation {corr:.3f}")
    assert not bad, bad


def test_pdf_page_has_the_panels_shape_and_text(pictures):
    out, _, _ = pictures
    info = subprocess.run([need("pdfinfo", "poppler-utils"), str(out / "unrolled.pdf")],
                          capture_output=True, text=True, check=True).stdout
    size = next(line for line in info.splitlines() if line.startswith("Page size"))
    w, h = [float(v) for v in size.split(":")[1].split("pts")[0].split("x")]
    assert abs(w / h - 16 / 9) < 0.03, size  # landscape, the panel's own 16:9
    text = subprocess.run([need("pdftotext", "poppler-utils"), str(out / "unrolled.pdf"), "-"], capture_output=True,
                          text=True).stdout
    assert "Unrolled network" in text and "timestep t" in text  # text stays text


def test_svg_has_no_renderer_specific_strokes(pictures):
    """The blobs came from non-scaling strokes in data units: none are left, and every
    stroke width is a page width of a sane size."""
    import re
    out, keys, _ = pictures
    for key in keys:
        text = (out / f"{key}.svg").read_text(encoding="utf-8")
        assert "non-scaling-stroke" not in text, key
        widths = [float(w) for w in re.findall(r'stroke-width="([0-9.e+-]+)"', text)]
        assert widths and max(widths) < 40, (key, max(widths or [0]))


def test_unrolled_network_shows_all_steps_in_every_format(pictures):
    out, _, _ = pictures
    png = Image.open(out / "unrolled.png")
    assert x_node_columns(png) == T
    assert x_node_columns(rsvg(out / "unrolled.svg")) == T
    assert x_node_columns(poppler(out / "unrolled.pdf")) == T


def _grey(img) -> np.ndarray:
    g = img.convertToFormat(img.Format_Grayscale8)
    a = np.frombuffer(g.constBits().asstring(g.bytesPerLine() * g.height()), np.uint8)
    return a.reshape(g.height(), g.bytesPerLine())[:, :g.width()].astype(int)


def test_png_is_painted_at_its_resolution(qapp):
    """At 4x the slide width, text is painted at 4x, not enlarged: glyph strokes grow 4x
    while their anti-aliased rim stays one pixel, so the share of half-tone pixels in ink
    falls; an enlarged 960 px picture would keep the same share."""
    s = Session("min-char-rnn")
    (panel,) = build_panels(s, ["unrolled"])
    small, big = render_image(panel, 960), render_image(panel, 3840)
    assert big.width() == 3840 and abs(big.height() - 4 * small.height()) <= 4

    def rim_share(img, k):  # the row labels left of the plot: black text on white only
        a = _grey(img)[int(0.15 * img.height()):int(0.7 * img.height()), :int(0.1 * img.width())]
        ink, rim = (a < 96).sum(), ((a >= 96) & (a < 224)).sum()
        assert ink > 20 * k * k, "no text where the row labels are"
        return rim / ink
    assert rim_share(big, 4) < 0.5 * rim_share(small, 1)
    panel.close()


def test_plot_only_by_default_controls_on_request(qapp, tmp_path):
    s = Session("min-char-rnn")
    (panel,) = build_panels(s, ["hidden_states"])
    save_svg(panel, tmp_path / "plot.svg")
    save_svg(panel, tmp_path / "controls.svg", with_controls=True)
    plot = (tmp_path / "plot.svg").read_text(encoding="utf-8")
    controls = (tmp_path / "controls.svg").read_text(encoding="utf-8")
    assert ">show:<" in controls and ">show:<" not in plot  # the combo's label
    assert "Hover" in controls and "Hover" not in plot        # the hint under the plot
    assert ">Hidden states<" in plot and "backward" not in plot.split(">Hidden states<")[0]
    assert panel.isVisible() and panel.combo.isVisible()  # the panel is put back as it was
    panel.close()


def test_a_plot_only_slide_keeps_keys_and_numbers_that_sit_among_controls(qapp, tmp_path):
    """Clipping compared's colour key and truncation's summary share a row with controls:
    the plot-only export left out the only legend of the four bars' colours, and the
    cosine the truncation view is about.  The controls beside them still go."""
    s = Session("min-char-rnn")
    s.set_event("clip")
    clipping, truncation = build_panels(s, ["clipping", "truncation"])
    save_svg(clipping, tmp_path / "clipping.svg")
    save_svg(truncation, tmp_path / "truncation.svg")
    clip_svg = (tmp_path / "clipping.svg").read_text(encoding="utf-8")
    trunc_svg = (tmp_path / "truncation.svg").read_text(encoding="utf-8")
    import re
    for mode in ("value", "norm", "param-norm"):
        assert re.search(rf">[\s\u00a0]*{mode}[\s\u00a0]*<", clip_svg), mode   # the key's entries
    assert "heatmap of:" not in clip_svg and "norms:" not in clip_svg   # its controls' labels
    assert "all parameters together, cos(full" in trunc_svg and "window k" not in trunc_svg
    for p in (clipping, truncation):
        p.close()


def fake_history(session, n=100_000):
    rng = np.random.default_rng(0)
    loss = 4.0 * np.exp(-np.arange(n) / 30_000) + 0.1 * rng.random(n)
    from bpttviz.engine.run import History
    fresh = History()  # the history arrays hold what training appended: build a long one
    fresh.loss.extend(loss)
    fresh.smooth_loss.extend(loss)
    fresh.grad_norm_before_clip.extend(5 + rng.random(n))
    fresh.grad_norm_after_clip.extend(np.minimum(5.0, 5 + rng.random(n)))
    session.run.history = fresh


def test_long_history_keeps_files_small_and_one_history_csv(qapp, tmp_path):
    sizes = {}
    for n, folder in ((0, tmp_path / "new"), (100_000, tmp_path / "long")):
        s = Session("min-char-rnn")
        if n:
            fake_history(s, n)
        (panel,) = build_panels(s, ["loss"])
        export_panels(s, [panel], folder, ["png", "svg", "pdf", "csv"], width=WIDTH)
        sizes[n] = {p.name: p.stat().st_size for p in folder.iterdir()}
        if n:
            # The long curves are drawn as one path for export, then cut in short pieces
            # (renderers stroke a long zigzag path ~9x slower), and the live plot is put
            # back as it was (segments: fast on screen).
            svg = (folder / "loss.svg").read_text()
            lines = re.findall(r'<path[^>]* d="M([^"]*)"', svg) + re.findall(r'<polyline[^>]* points="([^"]*)"', svg)
            assert max(d.count(",") for d in lines) <= CHUNK, max(d.count(",") for d in lines)
            assert len(lines) < 1500, len(lines)  # decimated: not one element per iteration
            assert panel.loss_curve.curve.opts["segmentedLineMode"] == "on"
            assert similar(rsvg(folder / "loss.svg"), Image.open(folder / "loss.png")) >= 0.85
        panel.close()
    long = sizes[100_000]
    for name in ("loss.svg", "loss.pdf", "loss.png"):
        assert long[name] < 400_000, (name, long[name])
    csvs = [k for k in long if k.endswith(".csv")]
    assert csvs == ["loss_history.csv"], csvs  # the loss view's table is that file, once
    assert long["loss_history.csv"] > 100_000 * 20  # ... and it has every iteration


def test_one_file_pdf_has_a_page_per_panel(qapp, tmp_path):
    s = Session("min-char-rnn")
    panels = build_panels(s, ["unrolled", "grad_norms", "outputs"])
    files = export_panels(s, panels, tmp_path, ["pdf"], width=WIDTH, one_file=True)
    assert [f.file for f in files] == [ONE_FILE_PDF]
    info = subprocess.run([need("pdfinfo", "poppler-utils"), str(tmp_path / ONE_FILE_PDF)],
                          capture_output=True, text=True, check=True).stdout
    assert "Pages:           3" in info, info
    page3 = poppler(tmp_path / ONE_FILE_PDF, page=3)
    assert similar(page3, Image.open(_png(panels[2], tmp_path))) >= 0.85
    for p in panels:
        p.close()


def _png(panel, folder):
    path = folder / f"{panel.key}-check.png"
    save_png(panel, path, WIDTH)
    return path


def test_nothing_to_write_is_an_error(qapp, tmp_path):
    s = Session("min-char-rnn")  # an RNN: the gates view draws no numbers
    (panel,) = build_panels(s, ["gates"])
    with pytest.raises(ExportError, match="nothing was written"):
        export_panels(s, [panel], tmp_path, ["csv"])
    assert not (tmp_path / "manifest.json").exists()
    panel.close()


def run_cli(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(k, None)
    return subprocess.Popen([sys.executable, "-m", "bpttviz", "export", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_cli_window_in_every_format_and_nothing_else(tmp_path):
    p = run_cli("--panels", "window", "--format", "png,pdf,svg", "--width", "800", "--out",
                str(tmp_path))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    names = {f.name for f in tmp_path.iterdir()}
    assert names == {"window.png", "window.pdf", "window.svg", "manifest.json",
                     "manifest.txt"}, names
    assert Image.open(tmp_path / "window.png").width == 800
    assert similar(Image.open(tmp_path / "window.png"), poppler(tmp_path / "window.pdf", 800)) >= 0.85
    # The menu bar is part of the window: its names are text in the SVG and the PDF (Qt's
    # own menu-bar painting left an empty bar there).
    svg = (tmp_path / "window.svg").read_text(encoding="utf-8")
    pdf_text = subprocess.run(["pdftotext", str(tmp_path / "window.pdf"), "-"],
                              capture_output=True, text=True, timeout=60).stdout
    for name in ("File", "Edit", "Lesson", "Help"):
        assert f">{name}</text>" in svg, name
        assert name in pdf_text.split(), name


def test_cli_nothing_written_fails(tmp_path):
    p = run_cli("--panels", "gates", "--format", "csv", "--out", str(tmp_path))
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1 and "nothing was written" in err
    errors = [line for line in err.splitlines() if not line.startswith("bpttviz export: [")]
    assert len(errors) == 1 and "Traceback" not in err


def test_cli_ctrl_c_keeps_finished_files(tmp_path):
    # min-char-rnn's GIFs have 52 frames each: a dozen seconds of work, so the first
    # "wrote" (after a second) is far from the end on any machine.
    p = run_cli("--preset", "min-char-rnn", "--format", "png,gif", "--width", "480",
                "--out", str(tmp_path))
    deadline = time.monotonic() + 90
    lines, done = [], None
    while time.monotonic() < deadline:  # progress lines arrive once it takes over a second
        line = p.stderr.readline()
        lines.append(line)
        # "[k/n] ...": k steps finished.  (Waiting for a "wrote" line raced the end: the
        # printer speaks every half second, mostly "drawing ...: frame i of 52", and a
        # faster export printed its first "wrote" as its last line.)
        m = re.search(r"\[(\d+)/(\d+)\]", line)
        if m and 1 <= int(m.group(1)) < int(m.group(2)) or not line:
            done = m and (int(m.group(1)), int(m.group(2)))
            break
    assert done, lines
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, err)
    last = [line for line in err.splitlines() if "progress" not in line and not line.startswith("bpttviz export: [")]
    assert len(last) == 1 and "interrupted" in last[0] and "Traceback" not in err
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["file"] for f in manifest["files"]}
    assert listed and manifest.get("interrupted") is True
    assert listed == {f.name for f in tmp_path.iterdir()} - {"manifest.json", "manifest.txt"}


def test_a_paged_views_export_shows_every_plot_and_gives_the_pages_back(qtbot):
    """A slide has no tabs to turn: a view paged on screen (norms | cut | reach at the left)
    is exported with all its plots (only the front page came out, and the contribution
    view's key named a plot the slide did not show); the window keeps its pages after."""
    from bpttviz.export.pictures import laid_out
    from bpttviz.gui.panels.dhnext import DhnextPanel
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    panel = DhnextPanel(s)
    qtbot.addWidget(panel)
    panel.resize(900, 380)       # short: one plot at a time, with page tabs
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    flow = panel.plot_flow
    qtbot.waitUntil(lambda: flow.arrangement == "pages", timeout=2000)
    assert flow.pager.isVisible()
    assert sum(g[0].isVisible() for g in flow.groups) == 1
    for controls in (False, True):
        with laid_out(panel, with_controls=controls, size=(960, 540)) as sheet:
            assert flow.arrangement != "pages" and not flow.pager.isVisible()
            assert all(g[0].isVisible() for g in flow.groups)
            assert all(g[0].vb.height() > 50 for g in flow.groups)
            assert sheet.width > 0
        qtbot.waitUntil(lambda: flow.arrangement == "pages" and flow.pager.isVisible(),
                        timeout=2000)


def test_a_plot_shown_again_from_another_page_has_its_axis_numbers(qtbot):
    """pyqtgraph sizes an axis 0 px wide while its plot is hidden and not again when it is
    shown: the clipping heatmap, behind a page on screen, was exported with no row numbers
    and its axis title over the matrix."""
    from PyQt5.QtGui import QFontMetrics
    from bpttviz.export.pictures import laid_out
    from bpttviz.gui.panels.clipcompare import ClipComparePanel
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    panel = ClipComparePanel(s)
    qtbot.addWidget(panel)
    panel.resize(900, 380)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    flow = panel.plot_flow
    qtbot.waitUntil(lambda: flow.arrangement == "pages", timeout=2000)
    assert not panel.heat_plot.isVisible()
    left = panel.heat_plot.getAxis("left")
    need = QFontMetrics(left.style["tickFont"] or left.font()).horizontalAdvance("80")
    with laid_out(panel, size=(960, 540)):
        assert panel.heat_plot.isVisible()
        assert left.width() > need              # room for "80" beside the title "row i"
        assert panel.heatmap.bar.axis.width() > need
    # and on screen, turned to the heatmap's page
    flow.show_page(1)
    qtbot.waitUntil(lambda: panel.heat_plot.isVisible(), timeout=2000)
    assert left.width() > need


def test_outputs_character_labels_are_thinned_for_the_heatmap_height_they_get(qtbot):
    """The outputs' character axis is thinned for the heatmap's height; an export stacks the
    loss plot under it (the window had it on its own page), and the labels thinned for the
    taller page overlapped ('C', 'G', 'K', 'O' on top of each other)."""
    from PyQt5.QtCore import QPointF
    from PyQt5.QtGui import QFontMetrics
    from bpttviz.export.pictures import laid_out
    from bpttviz.gui.panels.outputs import OutputsPanel
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    panel = OutputsPanel(s)
    qtbot.addWidget(panel)
    panel.resize(900, 420)
    panel.show()
    qtbot.waitExposed(panel)
    panel.refresh()
    flow = panel.plot_flow
    qtbot.waitUntil(lambda: flow.arrangement == "pages", timeout=2000)
    axis = panel.plot.getAxis("left")
    line = QFontMetrics(axis.style["tickFont"] or axis.font()).height()
    with laid_out(panel, size=(960, 540)):
        assert flow.arrangement != "pages"
        rows = [r for r, _ in panel.plot.getAxis("left")._tickLevels[0]]
        ys = sorted(panel.plot.vb.mapViewToScene(QPointF(0, r)).y() for r in rows)
        assert len(ys) >= 3
        assert min(b - a for a, b in zip(ys, ys[1:])) >= line - 0.5
