"""Lessons are data: JSON files in ``resources/lessons/`` (and the teacher's own, recorded
from the window, in ``<data folder>/lessons/``), read and checked here.

Schema ``bpttviz-lesson``, version 1::

    {"format": "bpttviz-lesson", "version": 1,
     "title": "Vanishing and exploding gradients",
     "summary": "one line shown in the Lesson menu and by `bpttviz lesson --list`",
     "preset": "vanishing",                    # a preset name (bpttviz --list-presets)
     "settings": {"clip": "none"},             # optional config changes before step 1
     "steps": [
       {"title": "optional heading",
        "views": ["decay"],                    # one or more panel keys (or preset view names)
        "event": "forward:39",                 # forward:N, backward:N, clip, update, start, end
        "settings": {"whh_radius": 1.8},       # optional changes from this step on
        "narration": "<p>HTML, with formulas: h<sub>t</sub> = tanh(...)</p>",
        "question": "decay-sketch"}            # optional: a kind of bpttviz.teach.questions
     ]}

A setting changed by a step holds for the later steps too; going back to an earlier step
puts back the value it had there.  :func:`load_lesson` raises :class:`LessonError` with a
message naming the file, the field (``steps[2].event``) and, for broken JSON, the line.
No Qt here: the window, ``bpttviz lesson`` and the tests play lessons with
:func:`apply_step` on a :class:`~bpttviz.session.Session`.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from ..engine.presets import list_presets, load_preset
from ..resources_path import resources_dir
from ..timeline import parse_event
from .questions import KINDS

LESSON_FORMAT = "bpttviz-lesson"
LESSON_VERSION = 1
#: The shipped lessons in teaching order (others follow alphabetically).
ORDER = ("forward-by-hand", "dwhh-all-steps", "vanishing-exploding", "clipping",
         "truncated-bptt", "lstm-gates", "gradcheck-bug-hunt")
#: Panel keys a step may show, and the preset view names that stand for them.
VIEW_KEYS = ("unrolled", "hidden_states", "outputs", "dhnext_flow", "grad_norms", "code",
             "contrib", "decay", "clipping", "truncation", "gradcheck", "gates", "loss")
VIEW_ALIASES = {"hidden": "hidden_states", "dhnext": "dhnext_flow", "norms": "grad_norms",
                "training": "loss", "clip": "clipping"}
_CHOICES = {"cell": ("rnn", "lstm", "gru"), "clip": (None, "none", "value", "norm", "param-norm"),
            "optimizer": ("sgd", "adagrad", "adam")}
_INTS = ("hidden_size", "seq_length", "seed", "delay", "symbols")
_FLOATS = ("init_scale", "clip_value", "lr")
#: The settings a lesson may change (the text, inputs and vocabulary come from the preset).
SETTINGS = tuple(_CHOICES) + _INTS + _FLOATS + ("whh_radius", "truncation", "carry_state",
                                                 "backprop_bug")
_TOP_KEYS = {"format", "version", "title", "summary", "preset", "settings", "steps"}
_STEP_KEYS = {"title", "views", "event", "settings", "narration", "question"}


class LessonError(ValueError):
    """A lesson file cannot be used; the message names the file and the field or line."""


@dataclass
class Step:
    views: List[str]
    event: str
    narration: str
    title: str = ""
    settings: Dict[str, object] = field(default_factory=dict)
    question: Optional[str] = None

    def to_json(self) -> dict:
        out = {"title": self.title, "views": list(self.views), "event": self.event,
               "narration": self.narration}
        if self.settings:
            out["settings"] = dict(self.settings)
        if self.question:
            out["question"] = self.question
        return out


@dataclass
class Lesson:
    name: str
    title: str
    preset: str
    steps: List[Step]
    settings: Dict[str, object] = field(default_factory=dict)
    summary: str = ""
    path: Optional[str] = None

    def to_json(self) -> dict:
        return {"format": LESSON_FORMAT, "version": LESSON_VERSION, "title": self.title,
                "summary": self.summary, "preset": self.preset, "settings": dict(self.settings),
                "steps": [s.to_json() for s in self.steps]}


def _known_bugs():
    try:
        from ..engine.bugs import BUGS
        return tuple(BUGS)
    except ImportError:
        return ("forget-dhnext",)


def lessons_dir() -> Path:
    return resources_dir() / "lessons"


def user_lessons_dir(create: bool = False) -> str:
    from ..paths import data_dir
    folder = os.path.join(data_dir(), "lessons")
    if create:
        os.makedirs(folder, exist_ok=True)
    return folder


def list_lessons() -> List[str]:
    """The shipped lessons' names, in teaching order."""
    names = sorted(p.stem for p in lessons_dir().glob("*.json")) if lessons_dir().is_dir() else []
    return [n for n in ORDER if n in names] + [n for n in names if n not in ORDER]


def list_user_lessons() -> List[str]:
    folder = user_lessons_dir()
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.splitext(f)[0] for f in os.listdir(folder) if f.endswith(".json"))


def lesson_path(name: str) -> str:
    """The file of a lesson named ``name`` (shipped first, then the user's), or ``name``
    itself if it is a path to a file.  LessonError naming the lessons if there is none."""
    if name.endswith(".json") or os.sep in name:
        if os.path.isfile(name):
            return name
        raise LessonError(f"lesson file not found: {name}")
    shipped = lessons_dir() / f"{name}.json"
    if shipped.is_file():
        return str(shipped)
    mine = os.path.join(user_lessons_dir(), f"{name}.json")
    if os.path.isfile(mine):
        return mine
    known = list_lessons() + list_user_lessons()
    raise LessonError(f"unknown lesson {name!r}; choose one of: {', '.join(known)}")


def load_lesson(name_or_path: str) -> Lesson:
    """Read and check a lesson (see the module docstring); LessonError if it is unusable."""
    path = lesson_path(str(name_or_path))
    label = os.path.basename(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise LessonError(f"{label}: cannot read the lesson ({e})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise LessonError(f"{label}: line {e.lineno}, column {e.colno}: not valid JSON "
                          f"({e.msg})") from None
    return parse_lesson(raw, name=os.path.splitext(label)[0], label=label, path=path, text=text)


def _line_of(text: Optional[str], key: str, nth: int = 0) -> str:
    """' (line N)' for the nth occurrence of ``"key"`` in the file text, where it is found."""
    if not text:
        return ""
    hits = [m.start() for m in re.finditer(r'"%s"\s*:' % re.escape(key), text)]
    if nth < len(hits):
        return f" (line {text.count(chr(10), 0, hits[nth]) + 1})"
    return ""


def parse_lesson(raw, name: str = "lesson", label: str = "lesson", path: Optional[str] = None,
                 text: Optional[str] = None) -> Lesson:
    """Check a lesson's JSON data; LessonError naming the field for the first problem."""
    def fail(where, message, key=None, nth=0):
        line = _line_of(text, key, nth) if key else ""
        raise LessonError(f"{label}: {where}{line}: {message}")

    if not isinstance(raw, dict):
        fail("the file", "a lesson is a JSON object {...}")
    if raw.get("format") != LESSON_FORMAT:
        fail("format", f"must be {LESSON_FORMAT!r}; got {raw.get('format')!r}", "format")
    if raw.get("version") != LESSON_VERSION:
        fail("version", f"this bpttviz reads lesson version {LESSON_VERSION}; got "
                        f"{raw.get('version')!r}", "version")
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        fail(key, f"unknown field; a lesson has {', '.join(sorted(_TOP_KEYS))}", key)
    title = raw.get("title")
    if not isinstance(title, str) or not title.strip():
        fail("title", "must be a non-empty text", "title")
    summary = raw.get("summary", "")
    if not isinstance(summary, str):
        fail("summary", "must be a text", "summary")
    presets = list_presets()
    if raw.get("preset") not in presets:
        fail("preset", f"must be one of {', '.join(presets)}; got {raw.get('preset')!r}", "preset")
    preset = load_preset(raw["preset"])
    settings = _check_settings(raw.get("settings", {}), "settings", fail)
    steps_raw = raw.get("steps")
    if not isinstance(steps_raw, list) or not steps_raw:
        fail("steps", "must be a list of at least one step", "steps")
    cfg = preset.config
    merged = dict(settings)
    steps = []
    for i, s in enumerate(steps_raw):
        where = f"steps[{i}]"
        if not isinstance(s, dict):
            fail(where, "a step is a JSON object {...}")
        unknown = set(s) - _STEP_KEYS
        if unknown:
            key = sorted(unknown)[0]
            fail(f"{where}.{key}", f"unknown field; a step has {', '.join(sorted(_STEP_KEYS))}", key)
        views = s.get("views")
        if isinstance(views, str):
            views = [views]
        if not isinstance(views, list) or not views or not all(isinstance(v, str) for v in views):
            fail(f"{where}.views", "must be a list of one or more view names", "views", i)
        keys = []
        for v in views:
            key = VIEW_ALIASES.get(v, v)
            if key not in VIEW_KEYS:
                fail(f"{where}.views", f"unknown view {v!r}; views are {', '.join(VIEW_KEYS)}",
                     "views", i)
            keys.append(key)
        step_settings = _check_settings(s.get("settings", {}), f"{where}.settings", fail)
        merged.update(step_settings)
        event = s.get("event")
        if not isinstance(event, str):
            fail(f"{where}.event", "must be a text such as forward:3, backward:0, clip or update",
                 "event", i)
        T = _window_length(cfg, merged)
        try:
            parse_event(event, T)
        except ValueError as e:
            fail(f"{where}.event", str(e).replace("--at ", ""), "event", i)
        narration = s.get("narration")
        if not isinstance(narration, str) or not narration.strip():
            fail(f"{where}.narration", "must be a non-empty text (HTML)", "narration", i)
        question = s.get("question")
        if question is not None and question not in KINDS:
            fail(f"{where}.question", f"must be one of {', '.join(KINDS)}; got {question!r}",
                 "question")
        stitle = s.get("title", "")
        if not isinstance(stitle, str):
            fail(f"{where}.title", "must be a text")
        steps.append(Step(views=keys, event=event.strip(), narration=narration, title=stitle,
                          settings=step_settings, question=question))
    return Lesson(name=name, title=title.strip(), preset=raw["preset"], steps=steps,
                  settings=settings, summary=" ".join(summary.split()), path=path)


def _window_length(cfg, settings) -> int:
    if cfg is None:
        return 10 ** 6
    if cfg.task == "fixed":
        return len(cfg.inputs)
    if cfg.task == "names":
        return 10 ** 6  # a name's length varies: checked when the step is played
    return int(settings.get("seq_length", cfg.seq_length))


def _check_settings(values, where, fail) -> Dict[str, object]:
    if not isinstance(values, dict):
        fail(where, "must be an object {\"setting\": value, ...}")
    bugs = _known_bugs()
    for k, v in values.items():
        w = f"{where}.{k}"
        if k not in SETTINGS:
            fail(w, f"unknown setting; a lesson may set {', '.join(SETTINGS)}", k)
        if k in _CHOICES and v not in _CHOICES[k]:
            fail(w, f"must be one of {', '.join(map(str, _CHOICES[k]))}; got {v!r}", k)
        if k in _INTS and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            fail(w, f"must be a whole number >= 0; got {v!r}", k)
        if k in _FLOATS and (isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0):
            fail(w, f"must be a number > 0; got {v!r}", k)
        if k == "whh_radius" and v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            fail(w, f"must be a number or null; got {v!r}", k)
        if k == "truncation" and v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            fail(w, f"must be a whole number >= 1 or null; got {v!r}", k)
        if k == "carry_state" and not isinstance(v, bool):
            fail(w, f"must be true or false; got {v!r}", k)
        if k == "backprop_bug" and v is not None and v not in bugs:
            fail(w, f"must be null or one of {', '.join(bugs)}; got {v!r}", k)
    return dict(values)


# --- playing ---------------------------------------------------------------------------------
def settings_at(lesson: Lesson, index: int) -> Dict[str, object]:
    """The settings in force at step ``index``: every setting the lesson ever changes, at the
    value it has there (the preset's own value until the lesson changes it)."""
    cfg = load_preset(lesson.preset).config
    keys = set(lesson.settings).union(*(s.settings for s in lesson.steps))
    out = {k: getattr(cfg, k) for k in keys} if cfg is not None else {}
    out.update(lesson.settings)
    for s in lesson.steps[:index + 1]:
        out.update(s.settings)
    return out


def apply_step(session, lesson: Lesson, index: int) -> Step:
    """Bring ``session`` to step ``index`` of ``lesson``: the preset (loaded when the session
    is on another one), the settings in force there, then the event.  Returns the step.
    SessionError/LessonError if the session refuses a change (each change is all or nothing,
    so the session is left at the last change it accepted)."""
    from ..session import SessionError
    if not 0 <= index < len(lesson.steps):
        raise LessonError(f"{lesson.name} has steps 1 to {len(lesson.steps)}; got {index + 1}")
    step = lesson.steps[index]
    if session.preset is None or session.preset.name != lesson.preset:
        session.load_preset(lesson.preset)
    wanted = settings_at(lesson, index)
    cfg = session.config
    changes = {k: v for k, v in wanted.items() if getattr(cfg, k) != v}
    if changes:
        session.edit(f"lesson: {lesson.title}, step {index + 1}", **changes)
    try:
        session.set_event(step.event)
    except ValueError as e:
        raise SessionError(f"{lesson.name}, step {index + 1}: {e}") from None
    return step


# --- writing ---------------------------------------------------------------------------------
def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    return s or "my-lesson"


def recordable_settings(session) -> Dict[str, object]:
    """The session's settings that differ from its preset's, as a lesson stores them."""
    cfg = session.config
    base = session.preset.config if session.preset is not None else None
    out = {}
    for k in SETTINGS:
        v = getattr(cfg, k)
        if base is None or getattr(base, k) != v:
            out[k] = v
    return out


def save_lesson(lesson: Lesson, path: str) -> str:
    """Write ``lesson`` to ``path`` atomically (checked first: a lesson this module would
    refuse to read is never written)."""
    from ..session import atomic_write
    data = lesson.to_json()
    parse_lesson(json.loads(json.dumps(data)), name=lesson.name, label=os.path.basename(path))
    atomic_write(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    lesson.path = path
    return path
