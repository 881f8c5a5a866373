"""Questions generated from a trace, for predict mode, classroom votes and lessons.

A :class:`Question` is asked at one event of the timeline (``ask_at``), *before* the view
reveals its answer, and its truth becomes visible at a later event (``reveal_at``).  Every
answer is computed here from the trace and the engine's analyses — never typed in by hand:

``forward-argmax``   which character gets the highest probability at step t (four choices);
``dhnext-grow``      does ||dhnext|| grow or shrink going from step t to t-1;
``contrib-argmax``   which step k contributes most to dWhh (argmax of
                     :func:`bpttviz.engine.analysis.contributions` ``.by_step``);
``clip-direction``   will clipping change the gradient's direction (cosine < 1);
``clip-exceed``      which parameters exceed the clipping threshold (several may);
``decay-sketch``     sketch ||dh_t/dh_k|| against the distance t-k (scored against
                     :func:`~bpttviz.engine.analysis.jacobian_norms`);
``truncation``       which (loss, step) pairs lose their gradient with windows of k steps;
``gate-open``        (LSTM/GRU) is the forget (update) gate mostly open at step t;
``update-loss``      will this window's loss go down after the update (the update is applied
                     to a copy of the parameters and optimizer, and the window run again).

A *source* is anything with ``trace``, ``config`` and ``update_preview()`` (a
:class:`bpttviz.session.Session`, or a :class:`TraceSource` for a bare trace); the analyses
are taken from its cached methods when it has them (``contributions()``, ...).

Answers are logged by :class:`AnswerLog` as rows of ``answers.csv`` in the user's data
folder (:func:`bpttviz.paths.data_dir`).  No Qt here.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..engine import analysis
from ..engine.clipping import clip_gradients
from ..engine.model import PARAM_NAMES, run_bptt
from .answers import ANSWER_COLUMNS, AnswerLog, answers_path  # noqa: F401  (re-exported)

KINDS = ("forward-argmax", "dhnext-grow", "contrib-argmax", "clip-direction", "clip-exceed",
         "decay-sketch", "truncation", "gate-open", "update-loss")
#: What each kind of question is about, as the card names it to a class (its kind is an id)
KIND_TITLES = {"forward-argmax": "the next character", "dhnext-grow": "the gradient flowing back",
               "contrib-argmax": "where dWhh comes from", "clip-direction": "clipping's direction",
               "clip-exceed": "which gradients are clipped", "decay-sketch": "sketch the decay",
               "truncation": "what truncation cuts", "gate-open": "the forget gate",
               "update-loss": "after the update"}
LETTERS = "ABCDEFGH"
#: A sketch within this many decades (mean |log10 error|) of the true curve counts as right.
SKETCH_TOLERANCE_DECADES = 1.0


@dataclass
class Question:
    """One prediction to make.

    kind: one of :data:`KINDS`; prompt: the question (plain text);
    choices: the options (A, B, ...), empty for a sketch;
    answer: for choice questions the index of the right choice, for ``multi`` questions a
      frozenset of indices (every right choice), for a sketch the (D,) true curve;
    explanation: one line saying why the truth is what it is;
    ask_at / reveal_at: the events (``forward:3``) at which it is asked and revealed;
    multi: several choices may be right (the student ticks all of them);
    x (D,): for a sketch, the distances t-k the curve is drawn over;
    truth_text: the truth in words ("C: 'e'", "the curve drawn in black").
    """

    kind: str
    prompt: str
    choices: List[str]
    answer: object
    explanation: str
    ask_at: str
    reveal_at: str
    multi: bool = False
    x: Optional[np.ndarray] = None
    truth_text: str = ""
    details: Dict[str, object] = field(default_factory=dict)

    @property
    def is_sketch(self) -> bool:
        return self.kind == "decay-sketch"

    def score(self, response) -> float:
        """1.0 for a right answer, 0.0 for a wrong one; a sketch scores between 0 and 1
        (``1 / (1 + mean |log10 error|)``), a multi-choice the fraction of choices right."""
        if response is None:
            return 0.0
        if self.is_sketch:
            err = sketch_error(self.answer, response)
            return 1.0 / (1.0 + err)
        if self.multi:
            chosen = frozenset(int(i) for i in response)
            right = sum((i in chosen) == (i in self.answer) for i in range(len(self.choices)))
            return right / max(1, len(self.choices))
        return 1.0 if int(response) == int(self.answer) else 0.0

    def is_correct(self, response) -> bool:
        if response is None:
            return False
        if self.is_sketch:
            return sketch_error(self.answer, response) <= SKETCH_TOLERANCE_DECADES
        if self.multi:
            return frozenset(int(i) for i in response) == frozenset(self.answer)
        return int(response) == int(self.answer)

    def response_text(self, response) -> str:
        if response is None:
            return ""
        if self.is_sketch:
            return " ".join(f"{float(v):.3g}" for v in np.asarray(response, dtype=float))
        if self.multi:
            return "+".join(LETTERS[i] for i in sorted(int(i) for i in response)) or "none"
        return LETTERS[int(response)]

    def answer_text(self) -> str:
        if self.is_sketch:
            return " ".join(f"{float(v):.3g}" for v in self.answer)
        if self.multi:
            return "+".join(LETTERS[i] for i in sorted(self.answer)) or "none"
        return LETTERS[int(self.answer)]


def sketch_error(truth, sketch) -> float:
    """Mean |log10(sketch) - log10(truth)| over the distances, in decades (values floored at
    1e-30 so a vanished gradient is compared as a very small number, not as -inf)."""
    t = np.log10(np.maximum(np.asarray(truth, dtype=float), 1e-30))
    s = np.log10(np.maximum(np.asarray(sketch, dtype=float), 1e-30))
    if s.shape != t.shape:
        raise ValueError(f"a sketch has one value per distance ({t.size}); got {s.size}")
    return float(np.mean(np.abs(s - t)))


# --- sources --------------------------------------------------------------------------------
class TraceSource:
    """A bare trace as a question source: ``TraceSource(trace, config, optimizer)``; the
    analyses are computed (once) on demand."""

    def __init__(self, trace, config, optimizer=None):
        self.trace, self.config, self._optimizer = trace, config, optimizer
        self._cache: Dict[object, object] = {}

    def _cached(self, key, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def contributions(self):
        return self._cached("c", lambda: analysis.contributions(self.trace))

    def jacobian_norms(self):
        return self._cached("j", lambda: analysis.jacobian_norms(self.trace))

    def update_preview(self):
        if self._optimizer is None:
            raise ValueError("this source has no optimizer to preview the update with")
        params = {k: v.copy() for k, v in self.trace.params.items()}
        return copy.deepcopy(self._optimizer).step(params, self.trace.grads)


def _contributions(source):
    fn = getattr(source, "contributions", None)
    return fn() if fn is not None else analysis.contributions(source.trace)


def _vocab_labels(source) -> List[str]:
    vocab = getattr(source, "vocab", None)
    if vocab is None:
        return [str(i) for i in range(source.trace.p.shape[1])]
    words = getattr(vocab, "chars", None) or getattr(vocab, "symbols", None) or list(vocab)
    return [char_label(w) for w in words]


def char_label(c) -> str:
    c = str(c)
    return {" ": "space ␣", "\n": "newline ↵", "\t": "tab"}.get(c, c)


def _rng(trace, salt: int) -> np.random.Generator:
    """Deterministic per trace and question (the same window gives the same choices)."""
    seed = int(abs(float(trace.loss)) * 1e6) % (2 ** 31) + salt
    return np.random.default_rng(seed)


def _four_choices(correct: int, pool: Sequence[int], rng) -> (List[int], int):
    """Up to four distinct options from ``pool`` including ``correct``, shuffled."""
    others = [int(i) for i in pool if int(i) != int(correct)]
    rng.shuffle(others)
    opts = [int(correct)] + others[:3]
    rng.shuffle(opts)
    return opts, opts.index(int(correct))


# --- the generators ----------------------------------------------------------------------------
def forward_argmax(source, t: int) -> Optional[Question]:
    tr = source.trace
    if not 0 <= t < tr.T:
        return None
    p = tr.p[t]
    labels = _vocab_labels(source)
    top = int(np.argmax(p))
    # Plausible rivals: the next most likely characters and the target.
    order = [int(i) for i in np.argsort(-p)]
    pool = list(dict.fromkeys(order[1:6] + [int(tr.targets[t])]))
    opts, right = _four_choices(top, pool, _rng(tr, 11 + t))
    ask = f"forward:{t - 1}" if t > 0 else "forward:0"
    return Question(
        kind="forward-argmax",
        prompt=f"Step {t}: which character will get the highest probability p_{t}?",
        choices=[f"'{labels[i]}'" for i in opts], answer=right,
        explanation=(f"p_{t} = softmax(Why h_{t} + by) is largest for '{labels[top]}' "
                     f"({p[top]:.3f}); the target was '{labels[int(tr.targets[t])]}' "
                     f"({p[int(tr.targets[t])]:.3f})."),
        ask_at=ask, reveal_at=f"forward:{t}", truth_text=f"'{labels[top]}' (p = {p[top]:.3f})",
        details={"index": top})


def dhnext_grow(source, t: int) -> Optional[Question]:
    tr = source.trace
    if not 1 <= t < tr.T:
        return None
    now, then = float(np.linalg.norm(tr.dhnext[t])), float(np.linalg.norm(tr.dhnext[t - 1]))
    grows = then > now
    ratio = then / now if now > 0 else math.inf
    return Question(
        kind="dhnext-grow",
        prompt=(f"Step {t} sends dhnext back with ||dhnext|| = {now:.3g}. Going on to step "
                f"{t - 1}, will ||dhnext|| grow or shrink?"),
        choices=["grow", "shrink"], answer=0 if grows else 1,
        explanation=(f"||dhnext|| goes {now:.3g} → {then:.3g} (×{ratio:.3g}): each step multiplies "
                     f"by its Jacobian ({_jacobian_words(tr.cell)}) and adds its own loss gradient."),
        ask_at=f"backward:{t}", reveal_at=f"backward:{t - 1}",
        truth_text=("grows" if grows else "shrinks") + f" ({now:.3g} → {then:.3g})")


def _jacobian_words(cell: str) -> str:
    return {"rnn": "Whhᵀ diag(1 − h²)", "lstm": "through the gates and tanh(c)",
            "gru": "through z, r and n"}.get(cell, "the step's Jacobian")


def contrib_argmax(source) -> Optional[Question]:
    tr = source.trace
    if tr.T < 2:
        return None
    by_step = _contributions(source).by_step
    top = int(np.argmax(by_step))
    pool = [0, tr.T - 1, tr.T // 2, tr.T // 4, (3 * tr.T) // 4] + list(range(tr.T))
    pool = list(dict.fromkeys(pool))
    opts, right = _four_choices(top, pool, _rng(tr, 23))
    return Question(
        kind="contrib-argmax",
        prompt=("dWhh = Σ_k dhraw_k h_{k-1}ᵀ sums one part per step k. Which step's part "
                "will be the largest?"),
        choices=[f"step {k}" for k in opts], answer=right,
        explanation=(f"step {top}'s part has norm {by_step[top]:.3g} (the smallest is "
                     f"{by_step.min():.3g}): a step's part needs both a large gradient arriving "
                     "at it and a large h_{k-1}."),
        ask_at=f"forward:{tr.T - 1}", reveal_at="clip", truth_text=f"step {top}",
        details={"step": top})


def _clip_mode(source) -> str:
    return source.config.clip or "value"


def clip_direction(source) -> Optional[Question]:
    tr = source.trace
    mode, thr = _clip_mode(source), float(source.config.clip_value)
    _, report = clip_gradients(tr.grads_raw, mode, thr)
    changes = report.cosine < 1.0 - 1e-12
    what = {"value": f"each entry to ±{thr:g}", "norm": f"the global norm to {thr:g}",
            "param-norm": f"each parameter's norm to {thr:g}"}[mode]
    return Question(
        kind="clip-direction",
        prompt=f"Clipping ({mode}: {what}). Will clipping change the direction of the gradient?",
        choices=["yes, the direction changes", "no, the direction stays"],
        answer=0 if changes else 1,
        explanation=(f"cosine(raw, clipped) = {report.cosine:.6f}; "
                     + ("value clipping cut some entries and not others, which bends the vector."
                        if changes and mode == "value" else
                        "each parameter was scaled by its own factor, which bends the vector."
                        if changes else
                        "norm clipping only rescales the whole vector." if mode == "norm"
                        and report.grad_norm_before_clip > thr else
                        "no entry was changed, so nothing moved.")),
        ask_at="backward:0", reveal_at="clip",
        truth_text="changes" if changes else "stays the same",
        details={"cosine": report.cosine, "mode": mode})


def clip_exceed(source) -> Optional[Question]:
    tr = source.trace
    mode, thr = _clip_mode(source), float(source.config.clip_value)
    names = [n for n in PARAM_NAMES if n in tr.grads_raw]
    if mode == "norm":
        total = math.sqrt(sum(float(np.vdot(g, g)) for g in tr.grads_raw.values()))
        over = total > thr
        return Question(
            kind="clip-exceed",
            prompt=(f"Norm clipping at {thr:g}: will the global norm of the gradient (all "
                    "parameters together) exceed the threshold?"),
            choices=["yes, it exceeds it", "no, it stays below"], answer=0 if over else 1,
            explanation=f"the global norm is {total:.3g} against the threshold {thr:g}.",
            ask_at="backward:0", reveal_at="clip",
            truth_text=f"{'exceeds' if over else 'below'} ({total:.3g})",
            details={"norm": total})
    if mode == "value":
        measure = {n: float(np.max(np.abs(tr.grads_raw[n]))) for n in names}
        rule = f"has an entry beyond ±{thr:g}"
    else:
        measure = {n: float(np.linalg.norm(tr.grads_raw[n])) for n in names}
        rule = f"has a norm above {thr:g}"
    over = frozenset(i for i, n in enumerate(names) if measure[n] > thr)
    listed = ", ".join(f"{n} {measure[n]:.3g}" for n in names)
    return Question(
        kind="clip-exceed",
        prompt=(f"{mode.capitalize()} clipping at {thr:g}: which parameters' gradients "
                f"{rule}? Tick every one (none is possible)."),
        choices=names, answer=over, multi=True,
        explanation=(f"{'max |entry|' if mode == 'value' else 'norm'} per parameter: {listed}."),
        ask_at="backward:0", reveal_at="clip",
        truth_text=", ".join(names[i] for i in sorted(over)) or "none",
        details={"measure": measure})


def last_jacobian_row(trace, ord=2) -> np.ndarray:
    """(T,) ``||dh_{T-1} / dh_k||`` for k = 0 .. T-1: the last row of
    :func:`bpttviz.engine.analysis.jacobian_norms`, computed alone (T Jacobian products
    instead of T^2: the question is about the last step only)."""
    from ..engine.cells import step_backward
    T, H = trace.h.shape
    Wh = trace.recurrent_weights
    row = np.zeros(T)
    t = T - 1
    rows = np.eye(H)
    rows_c = np.zeros((H, H)) if trace.cell == "lstm" else None
    row[t] = 1.0
    for s in range(t, 0, -1):
        g = step_backward(trace.cell, rows, trace.caches[s], Wh, rows_c)
        rows, rows_c = g.dh_prev, g.dc_prev
        row[s - 1] = np.linalg.norm(rows, ord=ord)
    return row


def decay_sketch(source) -> Optional[Question]:
    tr = source.trace
    if tr.T < 3:
        return None
    t = tr.T - 1
    d = np.arange(tr.T)
    row = last_jacobian_row(tr)
    truth = np.array([row[t - k] for k in d])
    last = truth[-1]
    return Question(
        kind="decay-sketch",
        prompt=(f"How much of a change in h_k is still felt at step {t}? Sketch ||dh_{t}/dh_k|| "
                f"against the distance {t}−k: drag the mouse over the plot (log scale)."),
        choices=[], answer=truth, x=d.astype(float),
        explanation=(f"||dh_{t}/dh_k|| is a product of {t}-k step Jacobians ({_jacobian_words(tr.cell)}): it went from 1 at "
                     f"distance 0 to {last:.2g} at distance {tr.T - 1}."),
        # asked before the forward pass is drawn: the decay view fills in as the steps run
        ask_at="forward:0", reveal_at=f"forward:{t}", truth_text="the black curve")


def truncation(source, window: Optional[int] = None) -> Optional[Question]:
    tr = source.trace
    if tr.T < 3 or getattr(source.config, "task", "text") == "captioning":
        return None
    k = int(window or source.config.truncation or max(2, tr.T // 4))
    k = max(1, min(k, tr.T - 1))
    comp = None
    fn = getattr(source, "truncation", None)
    if fn is not None:
        comp = fn(k)
    else:
        comp = analysis.compare_truncation(tr.params, tr.inputs, tr.targets, k, h0=tr.h0,
                                           cell=tr.cell, c0=tr.c0)
    reach = comp.truncated.reach
    rng = _rng(tr, 37)
    pairs = []
    t_last = tr.T - 1
    # two pairs that cross a window boundary and two that do not, when there are any
    cross = [(t, s) for t in range(tr.T) for s in range(t + 1) if t - s > reach[t]]
    inside = [(t, s) for t in range(tr.T) for s in range(t) if t - s <= reach[t]]
    for group in (cross, inside):
        if group:
            idx = rng.choice(len(group), size=min(2, len(group)), replace=False)
            pairs += [group[i] for i in idx]
    if len(pairs) < 2:
        pairs = [(t_last, 0), (t_last, t_last - 1)]
    rng.shuffle(pairs)
    lost = frozenset(i for i, (t, s) in enumerate(pairs) if t - s > reach[t])
    return Question(
        kind="truncation",
        prompt=(f"BPTT truncated to windows of {k} steps (0–{k - 1}, {k}–{2 * k - 1}, …). "
                "Which of these paths lose their gradient? Tick every one."),
        choices=[f"loss at step {t} → step {s}" for t, s in pairs], answer=lost, multi=True,
        explanation=(f"a loss reaches back only to the start of its own window of {k}: a path "
                     "that crosses a window boundary is cut, however strong it was."),
        ask_at=f"forward:{tr.T - 1}", reveal_at="clip",
        truth_text=", ".join(f"{pairs[i][0]}→{pairs[i][1]}" for i in sorted(lost)) or "none",
        details={"window": k, "pairs": pairs})


def gate_open(source, t: int) -> Optional[Question]:
    tr = source.trace
    if tr.cell not in ("lstm", "gru") or not 0 <= t < tr.T:
        return None
    name = "f" if tr.cell == "lstm" else "z"
    mean = float(np.mean(tr.gates[name][t]))
    is_open = mean > 0.5
    what = ("forget gate f (1 = keep the cell state c_{t-1})" if tr.cell == "lstm" else
            "update gate z (1 = keep h_{t-1}; h = (1−z)·n + z·h_{t-1})")
    return Question(
        kind="gate-open",
        prompt=f"Step {t}: is the {what} mostly open (mean over the units above 0.5)?",
        choices=["yes, mostly open", "no, mostly closed"], answer=0 if is_open else 1,
        explanation=(f"mean {name}_{t} = {mean:.3f}" + (
            ": the old memory mostly flows through to this step." if is_open else
            ": this step mostly overwrites the old memory.")),
        ask_at=f"forward:{t - 1}" if t > 0 else "forward:0", reveal_at=f"forward:{t}",
        truth_text=f"{'open' if is_open else 'closed'} (mean {mean:.3f})", details={"mean": mean})


def loss_after_update(source) -> float:
    """This window's loss with the updated parameters (the update applied to copies)."""
    tr = source.trace
    preview = source.update_preview()
    params = {k: tr.params[k] + preview[k] for k in tr.params}
    return float(run_bptt(params, tr.inputs, tr.targets, h0=tr.h0, c0=tr.c0, cell=tr.cell,
                          clip=None).loss)


def update_loss(source) -> Optional[Question]:
    tr = source.trace
    if getattr(source.config, "task", "text") == "captioning":
        return None
    try:
        after = loss_after_update(source)
    except (ValueError, TypeError, KeyError):
        return None
    down = after < tr.loss
    return Question(
        kind="update-loss",
        prompt=(f"This window's loss is {tr.loss:.4f}. After the update, run on the same window, "
                "will the loss go down?"),
        choices=["yes, it goes down", "no, it goes up (or stays)"], answer=0 if down else 1,
        explanation=(f"the same window with the updated parameters has loss {after:.4f} "
                     f"({after - tr.loss:+.2g}): " + (
                         "a small step against the gradient lowers the loss it was computed on."
                         if down else "the step was too large (or the gradient wrong) for this "
                         "window.")),
        ask_at="clip", reveal_at="update", truth_text=f"{after:.4f}",
        details={"before": float(tr.loss), "after": after})


def make_question(kind: str, source, t: Optional[int] = None) -> Optional[Question]:
    """The question ``kind`` about the source's trace (``t``: the step it is about, where the
    kind has one; default a step near the middle).  None if the kind does not apply here
    (e.g. gates for a plain RNN).  ValueError naming the kinds for an unknown kind."""
    if kind not in KINDS:
        raise ValueError(f"question kind must be one of {', '.join(KINDS)}; got {kind!r}")
    T = source.trace.T
    mid = max(1, T // 2) if T > 1 else 0
    t = mid if t is None else int(t)
    return {"forward-argmax": lambda: forward_argmax(source, t),
            "dhnext-grow": lambda: dhnext_grow(source, t),
            "contrib-argmax": lambda: contrib_argmax(source),
            "clip-direction": lambda: clip_direction(source),
            "clip-exceed": lambda: clip_exceed(source),
            "decay-sketch": lambda: decay_sketch(source),
            "truncation": lambda: truncation(source),
            "gate-open": lambda: gate_open(source, t),
            "update-loss": lambda: update_loss(source)}[kind]()


def kinds_at(event: str, T: int, cell: str = "rnn") -> List[tuple]:
    """The questions that can be asked at ``event`` (about what comes next) as
    ``(kind, t)`` pairs, in the order predict mode offers them."""
    phase, _, num = str(event).partition(":")
    out: List[tuple] = []
    if phase == "forward":
        t = int(num)
        if t + 1 < T:
            out.append(("forward-argmax", t + 1))
            if cell in ("lstm", "gru"):
                out.append(("gate-open", t + 1))
        if t == 0 and T >= 3:
            out.append(("decay-sketch", None))
        if t == T - 1:
            out += [("contrib-argmax", None), ("truncation", None)]
    elif phase == "backward":
        t = int(num)
        if t >= 1:
            out.append(("dhnext-grow", t))
        if t == 0:
            out += [("clip-direction", None), ("clip-exceed", None)]
    elif phase == "clip":
        out.append(("update-loss", None))
    return out


def question_at(kind: str, source, event=None) -> Optional[Question]:
    """The question ``kind`` as asked at ``event`` (default: the source's current event):
    about what comes *next* where the kind is about one step (a lesson step at
    ``forward:5`` asks about step 6's prediction, a step at ``backward:8`` about 8 -> 7)."""
    ev = event if event is not None else getattr(source, "current_event", None)
    t = getattr(ev, "t", None)
    if kind in ("forward-argmax", "gate-open") and t is not None and t + 1 < source.trace.T:
        t = t + 1
    return make_question(kind, source, t)
