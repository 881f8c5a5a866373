"""``check(...)``: the one entry point of the checker (the command line and notebooks).

    check("my_rnn.py")                       # a file, in any of the three styles
    check(lossFun)                           # a function from a notebook (its source is used)
    check(rnn_forward=f, rnn_backward=g)     # the dinosaur pair (or cs231n's step functions)
    check(my_module)                         # an imported module (its file)

The student's code always runs in a separate process (see :mod:`bpttviz.checker.sandbox`).
Returns a :class:`~bpttviz.checker.report.CheckReport`; code that cannot be checked gives a
report with ``usable=False`` and a one-line ``problem``.
"""
from __future__ import annotations

import inspect
import os
import textwrap
import types
from typing import Optional

import numpy as np

from . import styles
from .report import CheckReport
from .sandbox import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT, run_student

#: Globals the checker itself sets (never copied from the caller's namespace).
_SET_BY_CHECKER = {"Wxh", "Whh", "Why", "bh", "by", "vocab_size", "hidden_size", "seq_length",
                   "learning_rate", "xrange"}
_KNOWN = ("lossFun", "rnn_forward", "rnn_backward", "clip", "softmax") + styles.CS231N_FUNCS


class _Unusable(Exception):
    def __init__(self, message: str, output: str = ""):
        super().__init__(message)
        self.output = output


def check(target=None, *, style: str = "auto", seed: int = 0, T: Optional[int] = None,
          hidden: Optional[int] = None, timeout: float = DEFAULT_TIMEOUT,
          memory_mb: float = DEFAULT_MEMORY_MB, capture: bool = True, **functions) -> CheckReport:
    """Check a student's BPTT against the engine.  ``target``: a path, a module or a function;
    ``functions``: functions by the name the style uses (``rnn_forward=...``).  ``style``:
    auto, minchar, dinos or cs231n.  ``T``, ``hidden``: window length and hidden size of the
    test problem (defaults 8 and 5); ``seed`` draws its weights and inputs.  ``timeout``
    (seconds) and ``memory_mb`` limit the student's process."""
    from .problem import DEFAULT_HIDDEN, DEFAULT_T
    T = DEFAULT_T if T is None else T
    hidden = DEFAULT_HIDDEN if hidden is None else hidden
    for name, v, lo, hi in (("T", T, 1, 200), ("hidden", hidden, 1, 64)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
            raise ValueError(f"{name} must be a whole number from {lo} to {hi}; got {v!r}")
    if style not in ("auto",) + styles.STYLES:
        raise ValueError(f"style must be auto, {', '.join(styles.STYLES)}; got {style!r}")
    if not (isinstance(timeout, (int, float)) and 0 < timeout <= 3600):
        raise ValueError(f"timeout must be a number of seconds from 0 to 3600; got {timeout!r}")
    label = "your code"
    try:
        source, filename, label, student_dir = _source_of(target, functions)
        return _check_source(source, filename, label, student_dir, style, int(seed), int(T),
                             int(hidden), float(timeout), memory_mb, capture)
    except _Unusable as e:
        return CheckReport(file=label, style=style, usable=False, problem=str(e),
                           output=e.output)


def _source_of(target, functions):
    """(source, filename used for compiling, label for messages, folder for imports)."""
    if target is None and not functions:
        raise TypeError("check() needs a file, a module or functions (e.g. check(lossFun))")
    if isinstance(target, (str, os.PathLike)):
        path = os.fspath(target)
        if not os.path.exists(path):
            raise _Unusable(f"no such file: {path}")
        if os.path.isdir(path):
            raise _Unusable(f"{path} is a folder, not a Python file")
        try:
            with open(path, encoding="utf-8") as f:
                source = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise _Unusable(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
        full = os.path.abspath(path)
        return source, full, path, os.path.dirname(full)
    if isinstance(target, types.ModuleType):
        path = getattr(target, "__file__", None)
        if not path:
            raise _Unusable(f"module {target.__name__} has no source file")
        return _source_of(path, {})
    funcs = dict(functions)
    if target is not None:
        if not callable(target):
            raise TypeError(f"check() takes a path, a module or a function; got "
                            f"{type(target).__name__}")
        name = target.__name__ if target.__name__ in _KNOWN else "lossFun"
        funcs.setdefault(name, target)
    return _source_from_functions(funcs) + (None,)


def _source_from_functions(funcs: dict):
    """A module's source rebuilt from functions: their imports (modules they use), plain
    constants, the functions they call from the same namespace, then aliases for functions
    passed under another name."""
    imports, consts, bodies, done = [], [], [], set()
    queue = list(funcs.values())
    while queue:
        fn = queue.pop(0)
        fn = inspect.unwrap(fn)
        if not isinstance(fn, types.FunctionType) or fn.__name__ in done:
            continue
        done.add(fn.__name__)
        try:
            src = textwrap.dedent(inspect.getsource(fn))
        except (OSError, TypeError):
            raise _Unusable(f"cannot read the source of {fn.__name__} (define it in a file or "
                            "a notebook cell)") from None
        bodies.append(src)
        for name in _names(fn.__code__):
            if name in _SET_BY_CHECKER or name not in fn.__globals__:
                continue
            g = fn.__globals__[name]
            if isinstance(g, types.ModuleType):
                line = f"import {g.__name__} as {name}" if g.__name__ != name else f"import {name}"
                if line not in imports:
                    imports.append(line)
            elif isinstance(g, types.FunctionType):
                queue.append(g)
            elif isinstance(g, (int, float, str, bool)) and not isinstance(g, type):
                line = f"{name} = {g!r}"
                if line not in consts:
                    consts.append(line)
    aliases = [f"{key} = {fn.__name__}" for key, fn in funcs.items()
               if getattr(fn, "__name__", key) != key]
    source = "\n".join(imports + consts) + "\n\n" + "\n\n".join(bodies) + "\n" + "\n".join(aliases) + "\n"
    label = ", ".join(funcs)
    return source, f"<check: {label}>", label


def _names(code) -> set:
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _names(c)
    return names


def _check_source(source, filename, label, student_dir, style, seed, T, hidden, timeout,
                  memory_mb, capture) -> CheckReport:
    from .compare import run_comparison
    from .observe import OBSERVERS, Unusable
    from .problem import BATCH, VOCAB, make_problem, student_arrays

    try:
        info = styles.parse_source(source, filename)
    except SyntaxError as e:
        raise _Unusable(f"syntax error in {label} at line {e.lineno}: {e.msg}") from None
    aliases = {}
    for line in source.splitlines():  # "rnn_forward = my_forward" from _source_from_functions
        parts = [p.strip() for p in line.split("=")]
        if len(parts) == 2 and parts[0] in _KNOWN and parts[1] in info.functions:
            aliases[parts[0]] = info.functions[parts[1]]
    functions = dict(info.functions, **aliases)
    found = styles.detect_style(functions)
    if style == "auto":
        if found is None:
            names = ", ".join(sorted(info.functions)) or "no functions"
            raise _Unusable(f"{label} defines none of the functions bpttviz checks: "
                            f"{styles.LOOKED_FOR}; it defines {names}")
        style = found
    else:
        missing = styles.missing_for(style, functions)
        if missing:
            raise _Unusable(f"{label} has no {missing} (needed by --style {style})")
    cells = styles.cs231n_cells(functions) if style == "cs231n" else ["rnn"]
    prob = make_problem(style, seed=seed, T=T, H=hidden, cells=cells)
    res = run_student(style, source, filename, student_arrays(prob), timeout=timeout,
                      memory_mb=memory_mb, capture=capture, student_dir=student_dir)
    what = "lossFun" if style == "minchar" else f"{label}"
    out = res.output
    if res.status == "timeout":
        raise _Unusable(f"{what} did not finish within {timeout:g} s — an infinite loop?", out)
    if res.status == "memory":
        raise _Unusable(f"{what} ran out of memory (the limit is {memory_mb:g} MB)", out)
    if res.status == "raised":
        where = f" at line {res.line} of {label}" if res.line else ""
        code = f": {res.line_text}" if res.line_text else ""
        msg = f": {res.exc_message}" if res.exc_message else ""
        raise _Unusable(f"your code raised {res.exc_type}{msg}{where}{code}", out)
    if res.status in ("bad_return", "crashed") or res.values is None:
        raise _Unusable(res.message or f"{what} could not be run", out)
    report = CheckReport(file=label, style=style, output=res.output,
                         output_dropped=res.output_dropped, skipped_lines=res.skipped)
    try:
        observed = OBSERVERS[style](res, prob, info.tree)
    except Unusable as e:
        report.usable, report.problem = False, str(e)
        return report
    rows, first, bug, evidence, hint = run_comparison(prob, observed)
    report.rows, report.first, report.matches = rows, first, first is None
    report.bug, report.bug_evidence, report.hint = bug, evidence, hint
    report.capture_worked = observed.backward_captured or (
        observed.forward_captured and style != "cs231n")
    notes = list(observed.notes)
    if res.capture_failed:
        notes.insert(0, res.capture_failed)
    report.capture_notes = notes
    report.settings = {"T": T, "hidden": hidden, "vocab": VOCAB, "seed": seed,
                       "batch": BATCH if style == "cs231n" else 1}
    tr = prob.traces[prob.cells[0]][0]
    report.engine_trace = tr
    report.dhnext_engine_steps = tr.dhnext.copy()
    report.dhnext_engine = np.linalg.norm(tr.dhnext, axis=1)
    if observed.dhnext:
        steps = np.full(tr.dhnext.shape, np.nan)
        for t, v in observed.dhnext.items():
            if v.size == steps.shape[1]:
                steps[t] = v
        report.dhnext_student_steps = steps
        report.dhnext_student = np.linalg.norm(steps, axis=1)  # NaN rows stay NaN
    return report
