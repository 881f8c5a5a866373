"""Export: the command line in a subprocess (real files checked for real content) and the
same functions in-process through pytest-qt, with no dialog opened."""
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bpttviz.export import (ExportError, check_folder, export_panels, parse_formats,
                            read_csv_table, save_gif, table_csv)
from bpttviz.session import Session

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env_extra=None):
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    env.pop("QT_QPA_PLATFORM", None)  # the command must pick offscreen itself
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "bpttviz.cli", "export", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def _distinct_colours(path):
    im = Image.open(path).convert("RGB")
    return len(np.unique(np.asarray(im.resize((200, 120))).reshape(-1, 3), axis=0))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("exp")
    r = run_cli("--preset", "min-char-rnn", "--at", "backward:10", "--format", "png,svg,pdf,csv",
                "--panels", "hidden_states,dhnext_flow,grad_norms,outputs,unrolled,code",
                "--width", "1200", "--out", str(out))
    assert r.returncode == 0, r.stderr
    # no Qt chatter, no traceback: only progress lines (printed once it takes over a second)
    assert all(line.startswith("bpttviz export: [") for line in r.stderr.splitlines()), r.stderr
    return out


def test_pngs_have_width_and_content(exported):
    pngs = sorted(exported.glob("*.png"))
    assert {p.stem for p in pngs} >= {"hidden_states", "dhnext_flow", "grad_norms", "outputs",
                                      "unrolled", "code"}
    for p in pngs:
        im = Image.open(p)
        assert im.width == 1200, p
        assert _distinct_colours(p) > 20, f"{p.name} looks blank"


def test_svg_parse_and_pdf_magic(exported):
    for p in exported.glob("*.svg"):
        root = ET.parse(p).getroot()
        assert root.tag.endswith("svg")
    for p in exported.glob("*.pdf"):
        assert p.read_bytes()[:5] == b"%PDF-"


def test_csv_round_trips_to_the_engine(exported, qapp):
    s = Session("min-char-rnn")
    s.set_event("backward:10")
    tr = s.trace
    cols, h = read_csv_table(exported / "hidden_states_h.csv")
    assert cols[0] == "t" or cols[0].lower().startswith("t")
    np.testing.assert_allclose(h[:, 1:], tr.h, rtol=0, atol=1e-12)
    cols, p = read_csv_table(exported / "outputs_probabilities.csv")
    np.testing.assert_allclose(p[:, -tr.vocab_size:], tr.p, rtol=0, atol=1e-12)
    cols, d = read_csv_table(exported / "dhnext_flow_dhnext.csv")
    # Only steps the backward pass has reached are drawn, and so exported.
    t = d[:, 0].astype(int)
    assert sorted(t) == list(range(10, tr.T))
    np.testing.assert_allclose(d[:, -tr.hidden_size:], tr.dhnext[t], rtol=0, atol=1e-12)
    assert (exported / "hidden_states_h.csv").read_text().splitlines()[1].startswith("0,")


def test_manifest_explains_the_folder(exported):
    info = json.loads((exported / "manifest.json").read_text())
    assert info["preset"] == "min-char-rnn" and info["event"] == "backward:10"
    assert info["config"]["hidden_size"] == 100 and "text" not in info["config"]
    listed = {f["file"] for f in info["files"]}
    on_disk = {p.name for p in exported.iterdir()} - {"manifest.json", "manifest.txt"}
    assert listed == on_disk
    assert all(f["description"] for f in info["files"])
    assert "backward:10" in (exported / "manifest.txt").read_text()


def test_gif_one_frame_per_event(tmp_path):
    r = run_cli("--preset", "notebook-one-step", "--format", "gif", "--panels", "hidden_states,window",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for name in ("hidden_states.gif", "window.gif"):
        im = Image.open(tmp_path / name)
        assert im.n_frames == 2 * 1 + 2  # forward:0, backward:0, clip, update


def test_train_then_export_loss_history(tmp_path, qapp):
    r = run_cli("--preset", "long-range", "--train", "30", "--format", "csv", "--panels", "grad_norms",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    cols, hist = read_csv_table(tmp_path / "loss_history.csv")
    assert cols[:3] == ["iteration", "loss", "smooth_loss"] and hist.shape[0] == 30
    s = Session("long-range")
    s.train(30)
    np.testing.assert_allclose(hist[:, 1], s.run.history.loss, rtol=0, atol=1e-12)


@pytest.mark.parametrize("args, words", [
    (["--preset", "nope"], "preset must be one of"),
    (["--format", "png,bmp"], "--format"),
    (["--at", "sideways"], "--at"),
    (["--width", "5"], "--width"),
    (["--panels", "hidden_states,bogus"], "--panels"),
    (["--cell", "transformer"], "cell"),
    (["--train", "-3"], "--train"),
])
def test_bad_arguments_exit_2_with_one_line(tmp_path, args, words):
    r = run_cli(*args, "--out", str(tmp_path / "o"))
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in r.stderr


def test_unwritable_folder_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_cli("--out", str(blocker / "sub"))
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr


def test_missing_out_is_a_usage_error():
    r = run_cli("--preset", "min-char-rnn")
    assert r.returncode == 2 and "--out" in r.stderr


# --- in-process, through the same functions the window uses ------------------------------
def test_export_panels_in_process(qtbot, tmp_path):
    from bpttviz.export import build_panels
    s = Session("long-range")
    s.set_event("backward:3")
    panels = build_panels(s, ["grad_norms", "dhnext_flow"])
    for p in panels:
        qtbot.addWidget(p)
    progress = []
    files = export_panels(s, panels, tmp_path, ["png", "csv"], width=640, transparent=True,
                          progress=lambda i, n, what: progress.append((i, n)))
    assert progress[-1] == (4, 4)
    im = Image.open(tmp_path / "grad_norms.png")
    assert im.width == 640 and im.mode == "RGBA"
    alpha = np.asarray(im)[..., 3]
    assert (alpha == 0).mean() > 0.2  # the background really is transparent
    assert {f.panel for f in files} == {"grad_norms", "dhnext_flow"}


def test_gif_restores_cursor(qtbot, tmp_path):
    from bpttviz.export import build_panels
    s = Session("notebook-one-step")
    s.set_event("backward:0")
    (panel,) = build_panels(s, ["outputs"])
    qtbot.addWidget(panel)
    n = save_gif(s, panel, tmp_path / "o.gif", 320)
    assert n == 4 and str(s.current_event) == "backward:0"


def test_helpers_validate():
    with pytest.raises(ExportError, match="--format"):
        parse_formats("png,tiff")
    assert parse_formats("PNG, csv,png") == ["png", "csv"]
    text = table_csv(["a", "b"], np.array([[0.1, np.nan], [1e-300, 2.0]]))
    assert text.splitlines()[1] == "0.1,"


def test_check_folder_creates(tmp_path):
    assert check_folder(tmp_path / "a" / "b") == str(tmp_path / "a" / "b")


def test_headless_export_names_every_teaching_view(tmp_path):
    """Issue 6: `bpttviz export` writes the teaching views under names a folder explains."""
    r = run_cli("--preset", "lstm-gates", "--train", "5", "--format", "png,csv", "--width", "480",
                "--panels", "contrib,decay,clipping,truncation,gradcheck,gates,loss",
                "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    names = {p.name for p in tmp_path.iterdir()}
    for word in ("contrib", "decay", "clipping", "truncation", "gradcheck", "gates", "loss"):
        assert any(n.startswith(word) and n.endswith(".png") for n in names), word
        assert any(word in n and n.endswith(".csv") for n in names), word
    for p in tmp_path.glob("*.png"):
        assert _distinct_colours(p) > 10, p.name


def test_ctrl_c_while_the_final_manifest_is_written_still_lists_every_file(tmp_path, qapp,
                                                                           monkeypatch):
    """Found when Ctrl-C landed after the last file: the manifest was not written and the
    command line said it kept 0 files, with 26 files in the folder."""
    import bpttviz.export.bundle as bundle
    from bpttviz.export import ExportInterrupted, build_panels
    real = bundle.write_manifest

    def interrupted_once(session, folder, files, interrupted=False):
        if not interrupted:
            raise KeyboardInterrupt
        return real(session, folder, files, interrupted=True)
    monkeypatch.setattr(bundle, "write_manifest", interrupted_once)
    s = Session("notebook-one-step")
    panels = build_panels(s, ["hidden_states", "outputs"])
    with pytest.raises(ExportInterrupted) as e:
        export_panels(s, panels, tmp_path, ["png"], width=320)
    assert [f.file for f in e.value.files] == ["hidden_states.png", "outputs.png"]
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["interrupted"] is True
    assert {f["file"] for f in manifest["files"]} == {"hidden_states.png", "outputs.png"}


def test_long_qt_path_is_decimated_and_cut_in_pieces():
    """Qt writes a curve as ``M x,y L x,y L x,y ...`` (one L per point): such a path over
    thousands of points is decimated to its per-column envelope and cut into short pieces
    that continue one another; a filled outline and a dashed line are left whole."""
    from bpttviz.export.svgfix import CHUNK, fix_svg
    n = 5000
    x = np.linspace(0, 100, n)
    y = 50 + 40 * np.sin(np.arange(n))  # a zigzag: every column spans 10..90
    d = "M%.3f,%.3f " % (x[0], y[0]) + " ".join("L%.3f,%.3f" % p for p in zip(x[1:], y[1:]))
    short = "M0,0 L1,1 L2,0"
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
           f'<g fill="none" stroke="#000" stroke-width="2" transform="matrix(2,0,0,1,0,0)">'
           f'<path d="{d}"/></g>'
           f'<g fill="#f00" stroke="#000" stroke-width="1" transform="matrix(2,0,0,1,0,0)">'
           f'<path d="{d}"/></g>'
           f'<g fill="none" stroke="#000" stroke-dasharray="4,2" transform="matrix(2,0,0,1,0,0)">'
           f'<path d="{short}"/></g></svg>')
    root = ET.fromstring(fix_svg(svg.encode(), 200, 100))
    ns = "{http://www.w3.org/2000/svg}"
    stroked, filled, dashed = root.iter(f"{ns}g")
    pieces = [p.get("d") for p in stroked.iter(f"{ns}path")]
    pts = [np.array([[float(v) for v in xy.split(",")]
                     for xy in piece.replace("M", " ").replace("L", " ").split()]) for piece in pieces]
    assert len(pieces) > 1 and all(len(p) <= CHUNK for p in pts)
    for a, b in zip(pts, pts[1:]):
        np.testing.assert_allclose(a[-1], b[0])  # each piece starts where the last ended
    whole = np.vstack(pts)
    assert len(whole) < n / 3  # decimated (2 page px per column, ~4 points each)
    np.testing.assert_allclose([whole[:, 0].min(), whole[:, 0].max()], [0, 200], atol=0.01)
    np.testing.assert_allclose([whole[:, 1].min(), whole[:, 1].max()], [y.min(), y.max()], atol=0.01)
    assert len(list(filled.iter(f"{ns}path"))) == 1  # a filled outline stays one piece
    assert len(list(dashed.iter(f"{ns}path"))) == 1
