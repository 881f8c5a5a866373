"""``bpttviz check`` / ``bpttviz.check``: a student's own BPTT code against the engine.

The student files are under tests/student_code/.  Where a test needs the expected first
difference it reasons from the bug (at t = T-1 dhnext is still zero, so forgetting it first
shows at T-2) or recomputes it with the seed's own loop written out here -- never with the
checker.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CODE = ROOT / "tests" / "student_code"
T, H = 8, 5  # the checker's defaults (the CLI tests below rely on them)


@functools.lru_cache(maxsize=None)
def _check_cached(name, items):
    from bpttviz.checker.api import check as _check
    return _check(str(CODE / name), **dict(items))


def check(name, **kw):
    """The report for a student file (each distinct check runs once per test session)."""
    kw.setdefault("timeout", 5)
    return _check_cached(name, tuple(sorted(kw.items())))


def cli(*args, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(ROOT), BPTTVIZ_NO_JIT="1")
    return subprocess.run([sys.executable, "-m", "bpttviz", "check", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_line_error(r):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("bpttviz: error: "), r.stderr
    return lines[0]


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace(".py", ""), CODE / name)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- correct code matches ----------------------------------------------------------------
def test_seed_lossfun_matches_exit_0():
    r = cli(str(CODE / "minchar_seed.py"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "matches bpttviz's engine" in r.stdout
    assert "per-step capture: yes" in r.stdout


@pytest.mark.parametrize("name,style", [("dinos_seed.py", "dinos"), ("cs231n_rnn.py", "cs231n"),
                                        ("cs231n_lstm.py", "cs231n"),
                                        ("dinos_from_utils.py", "dinos"),
                                        ("minchar_own_style.py", "minchar")])
def test_reference_styles_match(name, style):
    rep = check(name)
    assert rep.usable, rep.problem
    assert rep.style == style
    assert rep.matches and rep.exit_code == 0, str(rep)
    assert rep.capture_worked
    per_step = [r for r in rep.rows if r.quantity == "dhnext" and r.t is not None]
    assert {r.t for r in per_step} == set(range(T))  # every backward step compared
    if name == "minchar_own_style.py":
        assert {r.name for r in per_step} == {"dh_prev"}  # the local that is sent back
        assert not any(r.quantity.startswith("clipped") for r in rep.rows)  # it does not clip
    if name == "cs231n_lstm.py":
        assert {r.t for r in rep.rows if r.quantity == "dcnext"} == set(range(T))
        assert any(r.quantity == "dhraw" for r in rep.rows)  # the traced dA


def test_seed_captures_every_per_step_quantity():
    rep = check("minchar_seed.py")
    for q in ("h", "p", "dy", "dh", "dhraw", "dhnext"):
        assert sorted(r.t for r in rep.rows if r.quantity == q) == list(range(T)), q
    # raw gradients (captured after the loop) and the clipped ones lossFun returns
    for q in ("dWxh", "dWhh", "dWhy", "dbh", "dby"):
        assert any(r.quantity == q for r in rep.rows)
        assert any(r.quantity == f"clipped {q}" for r in rep.rows)


# --- each bug found at its quantity and step ---------------------------------------------
def test_forget_dhnext_first_differs_at_dh_T_minus_2():
    r = cli(str(CODE / "minchar_forget_dhnext.py"))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"first difference: dh at t={T - 2}" in r.stdout
    assert "forget-dhnext" in r.stdout
    rep = check("minchar_forget_dhnext.py")
    assert (rep.first.quantity, rep.first.t) == ("dh", T - 2)
    assert rep.bug == "forget-dhnext" and rep.bug_evidence == "engine"
    # everything at step T-1 still matched; at T-2 dy still does, dh does not
    assert all(r.match for r in rep.rows_at(T - 1))
    assert rep.row("dy", T - 2).match and not rep.row("dh", T - 2).match


def test_missing_tanh_derivative_first_differs_at_dhraw_T_minus_1():
    rep = check("minchar_no_tanh_derivative.py")
    assert rep.exit_code == 1
    assert (rep.first.quantity, rep.first.t) == ("dhraw", T - 1)
    assert rep.bug == "no-tanh-derivative"


def test_h_for_hprev_differs_in_dWhh_only():
    rep = check("minchar_h_for_hprev.py")
    assert rep.exit_code == 1
    assert (rep.first.quantity, rep.first.t) == ("dWhh", T - 1)
    differing = {r.quantity for r in rep.rows if not r.match}
    assert differing <= {"dWhh", "clipped dWhh"} and "dWhh" in differing
    assert all(r.match for r in rep.rows if r.t is not None and r.quantity != "dWhh")
    assert rep.bug == "h-instead-of-hprev"


def test_dy_without_minus_one_at_T_minus_1():
    rep = check("minchar_dy_no_minus_one.py")
    assert (rep.first.quantity, rep.first.t) == ("dy", T - 1)
    assert rep.first.max_abs == pytest.approx(1.0)  # exactly the missing one
    assert rep.bug == "dy-without-minus-one"


def test_lstm_dropping_dnext_c_first_differs_at_T_minus_2():
    # At T-1 nothing comes from the future, so the first wrong number is the gate gradient
    # (the traced dA) of step T-2.
    rep = check("cs231n_lstm_drop_dc.py")
    assert rep.exit_code == 1
    assert (rep.first.quantity, rep.first.t, rep.first.name) == ("dhraw", T - 2, "dA")
    assert all(r.match for r in rep.rows if r.t == T - 1)
    assert rep.bug == "lstm-drop-dc"


def _first_clipping_step():
    """Seed 000's backward loop on the checker's weights: the first step (t = T-1 down) after
    which some running gradient has an entry beyond ±5 -- where clipping inside the loop
    first changes a number -- and which gradients those are."""
    from bpttviz.checker.problem import make_problem, student_arrays
    a = student_arrays(make_problem("minchar"))
    Wxh, Whh, Why, bh, by = (a[k] for k in ("Wxh", "Whh", "Why", "bh", "by"))
    V = Why.shape[0]
    xs, hs, ps = {}, {-1: a["h0"].reshape(-1, 1)}, {}
    for t, ix in enumerate(a["inputs"]):
        xs[t] = np.zeros((V, 1))
        xs[t][ix] = 1
        hs[t] = np.tanh(Wxh @ xs[t] + Whh @ hs[t - 1] + bh)
        y = Why @ hs[t] + by
        ps[t] = np.exp(y) / np.exp(y).sum()
    g = {k: np.zeros_like(v) for k, v in (("dWxh", Wxh), ("dWhh", Whh), ("dWhy", Why),
                                          ("dbh", bh), ("dby", by))}
    dhnext = np.zeros_like(hs[0])
    for t in reversed(range(len(a["inputs"]))):
        dy = ps[t].copy()
        dy[a["targets"][t]] -= 1
        g["dWhy"] += dy @ hs[t].T
        g["dby"] += dy
        dhraw = (1 - hs[t] ** 2) * (Why.T @ dy + dhnext)
        g["dbh"] += dhraw
        g["dWxh"] += dhraw @ xs[t].T
        g["dWhh"] += dhraw @ hs[t - 1].T
        dhnext = Whh.T @ dhraw
        over = [k for k, v in g.items() if np.abs(v).max() > 5]
        if over:
            return t, over
    return None, []


def test_in_place_clip_found_where_the_running_sum_first_exceeds_5():
    t_clip, over = _first_clipping_step()
    assert t_clip is not None and t_clip > 0, "the test weights must make clipping bite mid-loop"
    rep = check("minchar_inplace_clip.py")
    assert rep.exit_code == 1
    assert rep.first.quantity in over and rep.first.t == t_clip, str(rep)
    assert rep.bug == "in-place-clip"
    # every per-step quantity still matches: only the sums were clipped
    assert all(r.match for r in rep.rows if r.t is not None and r.quantity in ("dy", "dh", "dhnext"))


def test_without_capture_only_returned_values_are_compared():
    rep = check("minchar_forget_dhnext.py", capture=False)
    assert not rep.capture_worked and rep.exit_code == 1
    assert rep.first.quantity.startswith("clipped ")
    assert not any(r.quantity == "dhnext" for r in rep.rows)
    assert "only returned values were compared" in str(rep)


# --- files that cannot be used: one clear line, exit 2 -----------------------------------
def test_infinite_loop_is_stopped_within_the_time_limit():
    start = time.monotonic()
    r = cli(str(CODE / "loops_forever.py"), "--timeout", "2", timeout=30)
    elapsed = time.monotonic() - start
    line = one_line_error(r)
    assert "did not finish within 2 s" in line and "infinite loop" in line
    assert elapsed < 2 + 3, elapsed


def test_exception_names_type_message_and_line():
    r = cli(str(CODE / "raises.py"))
    line = one_line_error(r)
    assert "IndexError" in line and "list assignment index out of range" in line
    assert "line 10" in line and "hs[t + 1]" in line
    assert "starting lossFun with 8 inputs" in r.stdout  # what it printed is shown


def test_syntax_error_gives_its_line():
    rep = check("syntax_error.py")
    assert rep.exit_code == 2
    assert "syntax error" in rep.problem and "line 7" in rep.problem


@pytest.mark.parametrize("name,words", [
    ("wrong_shapes.py", ["dWxh with shape (6, 5)", "(5, 6)"]),
    ("wrong_arity.py", ["returned 6 values", "7", "hprev"]),
    ("no_function.py", ["lossFun", "rnn_forward", "rnn_step_forward", "it defines train"]),
    ("memory_hog.py", ["out of memory"]),
    ("does_not_exist.py", ["no such file"]),
])
def test_unusable_files(name, words):
    rep = check(name)
    assert not rep.usable and rep.exit_code == 2
    for w in words:
        assert w in rep.problem, rep.problem
    assert "\n" not in rep.problem


def test_bad_arguments():
    assert "--timeout" in one_line_error(cli(str(CODE / "minchar_seed.py"), "--timeout", "0"))
    rep = check("dinos_seed.py", style="minchar")
    assert rep.exit_code == 2 and "lossFun" in rep.problem and "--style minchar" in rep.problem


# --- notebook use ---------------------------------------------------------------------------
def test_check_a_function_object_and_a_dinos_pair():
    mod = load("minchar_forget_dhnext.py")  # imports and defs only: safe to import here
    rep = check_obj(mod.lossFun)  # its source is read with inspect and run in the sandbox
    assert rep.style == "minchar" and (rep.first.quantity, rep.first.t) == ("dh", T - 2)
    dinos = load("dinos_seed.py")
    # rnn_forward calls rnn_step_forward and softmax from its module: they come along
    rep = check_obj(rnn_forward=dinos.rnn_forward, rnn_backward=dinos.rnn_backward)
    assert rep.style == "dinos" and rep.matches, str(rep)


def check_obj(*a, **kw):
    from bpttviz import check as _check
    return _check(*a, timeout=5, **kw)


def test_report_gives_both_dhnext_series_for_a_side_by_side_view():
    rep = check("minchar_forget_dhnext.py")
    eng, mine = rep.dhnext_engine_steps, rep.dhnext_student_steps
    assert eng.shape == mine.shape == (T, H)
    np.testing.assert_allclose(eng, rep.engine_trace.dhnext)
    # the last step agrees (nothing came from the future yet), every earlier one differs
    np.testing.assert_allclose(mine[T - 1], eng[T - 1], rtol=1e-10)
    assert all(np.abs(mine[t] - eng[t]).max() > 1e-3 for t in range(T - 1))


def test_report_text_and_html():
    rep = check("minchar_no_tanh_derivative.py")
    text = str(rep)
    assert f"first difference: dhraw at t={T - 1}" in text
    assert "engine :" in text and "yours  :" in text and "no-tanh-derivative" in text
    html = rep._repr_html_()
    assert "<table" in html and "data:image/png;base64," in html and "dhraw" in html
    png = rep.dhnext_png()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_check_and_show_in_a_plain_process_without_display():
    code = (
        "import sys, bpttviz\n"
        "assert 'numpy' not in sys.modules and 'PyQt5' not in sys.modules\n"
        f"r = bpttviz.check({str(CODE / 'minchar_seed.py')!r}, timeout=5)\n"
        "assert r.matches, str(r)\n"
        "from bpttviz.engine.model import init_params, run_bptt\n"
        "tr = run_bptt(init_params('rnn', 4, 3, scale=0.5), [0, 1, 2], [1, 2, 3])\n"
        "v = bpttviz.show(tr, at='backward:1', views=['dhnext_flow'], width=320)\n"
        "assert [x.key for x in v] == ['dhnext_flow']\n"
        "assert all(x.png[:8] == b'\\x89PNG\\r\\n\\x1a\\n' for x in v) and v[0].event == 'backward:1'\n"
        "assert 'data:image/png' in v._repr_html_()\n"
        "assert callable(bpttviz.show) and callable(bpttviz.check)  # still the functions\n"
        "print('OK')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY",
                                                            "QT_QPA_PLATFORM")}
    env.update(PYTHONPATH=str(ROOT), BPTTVIZ_NO_JIT="1")  # (only to start faster)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stdout + r.stderr
