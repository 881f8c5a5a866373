"""Lessons (issue 14): every shipped lesson loads, plays to its end through the session (and
back, settings restored), exports as slides — in process for all of them, through the
command line in a subprocess for one; malformed files get a message naming the field/line."""
import json
import os
import subprocess
import sys

import pytest

from bpttviz.session import Session
from bpttviz.teach import lessons as L
from bpttviz.teach.questions import question_at
from bpttviz.timeline import parse_event

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUIRED = {"forward-by-hand", "dwhh-all-steps", "vanishing-exploding", "clipping",
            "truncated-bptt", "lstm-gates", "gradcheck-bug-hunt"}


def run_cli(*args, timeout=240):
    env = dict(os.environ, PYTHONPATH=ROOT, QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "bpttviz", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_the_shipped_lessons_are_there():
    names = L.list_lessons()
    assert REQUIRED <= set(names) and len(names) >= 6
    assert names[0] == "forward-by-hand"
    notebook = L.load_lesson("forward-by-hand")
    assert notebook.preset == "notebook-one-step"
    text = " ".join(s.narration for s in notebook.steps)
    for number in ("-0.00454387", "0.25006235", "1.38604499", "-0.00604377", "0.00762842"):
        assert number.replace("-", "−") in text or number in text, number
    assert "depend" in L.load_lesson("dwhh-all-steps").title


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_lesson_plays_to_its_end_and_back(qapp, name):
    lesson = L.load_lesson(name)
    s = Session(None)
    for i, step in enumerate(lesson.steps):
        L.apply_step(s, lesson, i)
        assert s.preset.name == lesson.preset
        assert s.current_event == parse_event(step.event, s.trace.T)
        for k, v in L.settings_at(lesson, i).items():
            assert getattr(s.config, k) == v, (i, k)
        if step.question:
            q = question_at(step.question, s)
            assert q is not None, (name, i, step.question)
    first = L.settings_at(lesson, 0)
    L.apply_step(s, lesson, 0)  # back to the start: every later change is undone
    for k, v in first.items():
        assert getattr(s.config, k) == v
    assert s.current_event == parse_event(lesson.steps[0].event, s.trace.T)


def test_a_step_setting_holds_until_changed_back(qapp):
    lesson = L.load_lesson("gradcheck-bug-hunt")
    assert L.settings_at(lesson, 0)["backprop_bug"] is None
    assert L.settings_at(lesson, 1)["backprop_bug"] == "forget-dhnext"
    assert L.settings_at(lesson, 2)["backprop_bug"] == "forget-dhnext"
    assert L.settings_at(lesson, 3)["backprop_bug"] is None


def write(tmp_path, data, name="broken.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return str(path)


def good():
    return {"format": "bpttviz-lesson", "version": 1, "title": "T", "preset": "long-range",
            "steps": [{"views": ["unrolled"], "event": "forward:0", "narration": "<p>a</p>"},
                      {"views": ["decay"], "event": "clip", "narration": "<p>b</p>"}]}


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(format="other"), "format"),
    (lambda d: d.update(version=2), "version"),
    (lambda d: d.update(preset="nope"), "preset"),
    (lambda d: d["steps"][1].update(views=["nope"]), "steps[1].views"),
    (lambda d: d["steps"][1].update(event="forward:99"), "steps[1].event"),
    (lambda d: d["steps"][0].update(event="sideways"), "steps[0].event"),
    (lambda d: d["steps"][0].pop("narration"), "steps[0].narration"),
    (lambda d: d["steps"][1].update(question="guess"), "steps[1].question"),
    (lambda d: d["steps"][1].update(settings={"hidden": 3}), "steps[1].settings.hidden"),
    (lambda d: d["steps"][0].update(settings={"lr": -1}), "steps[0].settings.lr"),
    (lambda d: d.update(steps=[]), "steps"),
    (lambda d: d.update(extra=1), "extra"),
])
def test_malformed_lessons_name_the_field(tmp_path, change, message):
    data = good()
    L.parse_lesson(json.loads(json.dumps(data)))  # the base is fine
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(L.LessonError) as e:
        L.load_lesson(path)
    text = str(e.value)
    assert text.startswith(f"broken.json: {message}") and "\n" not in text


def test_broken_json_names_the_line(tmp_path):
    text = json.dumps(good(), indent=2).replace('"event": "clip",', '"event": "clip"', 1)
    with pytest.raises(L.LessonError, match=r"broken.json: line (\d+), column \d+: not valid JSON") as e:
        L.load_lesson(write(tmp_path, text))
    line = int(str(e.value).split("line ")[1].split(",")[0])
    assert '"narration": "<p>b</p>"' in text.splitlines()[line - 1]


def test_a_field_error_names_its_line(tmp_path):
    data = good()
    data["steps"][1]["views"] = ["nope"]
    path = write(tmp_path, data)
    with pytest.raises(L.LessonError) as e:
        L.load_lesson(path)
    line = int(str(e.value).split("(line ")[1].split(")")[0])
    lines = open(path).read().splitlines()
    views = [i + 1 for i, text in enumerate(lines) if '"views"' in text]
    assert line == views[1]  # the second step's views, not the first's


def test_unknown_lesson_names_the_known_ones():
    with pytest.raises(L.LessonError, match="unknown lesson 'nope'; choose one of: forward-by-hand"):
        L.load_lesson("nope")


def test_every_lesson_exports_a_slide_per_step_and_a_deck(qapp, tmp_path):
    from PIL import Image

    from bpttviz.lesson_cli import SlideMaker, export_lesson
    maker = SlideMaker()  # as `bpttviz lesson all` does: one set of panels for every lesson
    for name in L.list_lessons():
        lesson = L.load_lesson(name)
        files = export_lesson(lesson, str(tmp_path), ("png", "pdf"), width=480, maker=maker)
        pngs = [f for f in files if f.endswith(".png")]
        assert len(pngs) == len(lesson.steps)
        for f in pngs:
            with Image.open(f) as im:
                assert im.size == (480, 270)
                # not blank: the title bar is drawn, and the views area has ink
                assert im.convert("RGB").getpixel((5, 5)) == (31, 59, 99)
                assert len(set(im.convert("L").crop((180, 60, 470, 260)).get_flattened_data())) > 20
        pdf = open(os.path.join(str(tmp_path), f"{name}.pdf"), "rb").read()
        assert pdf.startswith(b"%PDF")
        assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + pdf.count(b"/Type /Page>") \
            == len(lesson.steps)
    maker.close()


def test_lesson_cli_list_and_export(tmp_path):
    r = run_cli("lesson", "--list", timeout=60)
    assert r.returncode == 0, r.stderr
    firsts = [line.split()[0] for line in r.stdout.splitlines() if line and not line[0].isspace()]
    assert firsts == L.list_lessons() + L.list_user_lessons()
    out = tmp_path / "slides"
    r = run_cli("lesson", "forward-by-hand", "--export", str(out), "--format", "png,pdf",
                "--width", "480")
    assert r.returncode == 0, r.stderr
    n = len(L.load_lesson("forward-by-hand").steps)
    names = sorted(os.listdir(out))
    assert names == [f"forward-by-hand-step{i:02d}.png" for i in range(1, n + 1)] + ["forward-by-hand.pdf"]


def test_lesson_cli_bad_input_is_one_line_exit_2(tmp_path):
    r = run_cli("lesson", "nope", "--export", str(tmp_path), timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("bpttviz: error: unknown lesson 'nope'")
    assert len(r.stderr.strip().splitlines()) == 1
    r = run_cli("lesson", "clipping", "--export", str(tmp_path), "--format", "gif", timeout=60)
    assert r.returncode == 2 and "--format must be" in r.stderr
    bad = write(tmp_path, "{\n  \"format\": \"bpttviz-lesson\",\n  oops\n}")
    r = run_cli("lesson", bad, "--export", str(tmp_path / "x"), timeout=60)
    assert r.returncode == 2 and "broken.json: line 3" in r.stderr
    assert not (tmp_path / "x").exists()  # nothing written for a refused lesson
