"""The compiled rnn kernels agree with their numpy references, and the engine falls back to
numpy whenever Numba is missing, switched off or still loading."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bpttviz.engine import init_params, kernels, run_bptt, sample
from bpttviz.engine.clipping import clip_gradients

ROOT = Path(__file__).resolve().parents[1]
JIT = kernels._compiled()


def test_numba_kernels_load():
    assert JIT is not None and JIT.compiled, "Numba is a dependency; its kernels must load"


def _forward_both(inputs, Wxh, bh, Whh, h0):
    """(numpy outputs, compiled outputs): each a tuple x, preact, h_prev, h."""
    T, V, H = inputs.size, Wxh.shape[1], Whh.shape[0]
    results = []
    for k in (kernels.NUMPY_KERNELS, JIT):
        out = (np.zeros((T, V)), np.empty((T, H)), np.empty((T, H)), np.empty((T, H)))
        k.rnn_forward(inputs, Wxh, bh, Whh, h0, *out)
        results.append(out)
    return results


def _backward_both(dh_from_output, dy, h, Whh, inputs, carry):
    """(numpy outputs, compiled outputs): dh, dh_from_future, dhraw, dhnext, dWxh, dbh, dby."""
    T, H = h.shape
    V = dy.shape[1]
    results = []
    for k in (kernels.NUMPY_KERNELS, JIT):
        # Garbage in the outputs: the kernels must write every entry they own.
        out = [np.full((T, H), 7.0) for _ in range(4)] + [np.zeros((H, V)), np.zeros(H), np.zeros(V)]
        k.rnn_backward(dh_from_output, dy, h, Whh, inputs, *out, carry)
        results.append(out)
    return results


CASES = [  # T, V, H: H below, at and off multiples of the kernels' 4-row blocks; T = 1
    (1, 1, 1), (2, 3, 3), (7, 5, 4), (25, 65, 100), (13, 9, 7), (40, 27, 50),
]


@pytest.mark.parametrize("T,V,H", CASES)
@pytest.mark.parametrize("carry", [True, False])
def test_compiled_rnn_kernels_match_numpy(T, V, H, carry):
    rng = np.random.default_rng(T * 1000 + V * 10 + H)
    inputs = rng.integers(-1, V, T).astype(np.intp)  # -1: the dinosaurs' zero input
    Wxh, Whh = rng.standard_normal((H, V)) * 0.5, rng.standard_normal((H, H)) * 0.9 / np.sqrt(H)
    bh, h0 = rng.standard_normal(H) * 0.1, np.tanh(rng.standard_normal(H))
    ref, jit = _forward_both(inputs, Wxh, bh, Whh, h0)
    for name, a, b in zip(("x", "preact", "h_prev", "h"), ref, jit):
        np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-14, err_msg=name)
    assert np.array_equal(ref[0], jit[0])  # the one-hot rows are exact
    h = ref[3]
    dh_from_output, dy = rng.standard_normal((T, H)), rng.standard_normal((T, V))
    ref_b, jit_b = _backward_both(dh_from_output, dy, h, Whh, inputs, carry)
    names = ("dh", "dh_from_future", "dhraw", "dhnext", "dWxh", "dbh", "dby")
    for name, a, b in zip(names, ref_b, jit_b):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-14, err_msg=name)
    if not carry:
        assert not ref_b[1].any() and not jit_b[1].any()
        np.testing.assert_array_equal(jit_b[0], dh_from_output)


def test_kernels_follow_the_seed_formulas_directly():
    """Independent of both implementations: h_t = tanh(Wxh x_t + Whh h_{t-1} + bh) and the
    seed's backward loop written out with np.dot on column vectors."""
    rng = np.random.default_rng(5)
    T, V, H = 6, 4, 5
    inputs = np.array([0, 3, -1, 2, 2, 1], dtype=np.intp)
    Wxh, Whh = rng.standard_normal((H, V)), rng.standard_normal((H, H)) * 0.4
    bh, h0 = rng.standard_normal(H), rng.standard_normal(H) * 0.2
    dho, dy = rng.standard_normal((T, H)), rng.standard_normal((T, V))
    hs, prev = [], h0
    for t in range(T):
        x = np.zeros(V)
        if inputs[t] >= 0:
            x[inputs[t]] = 1
        prev = np.tanh(np.dot(Wxh, x) + np.dot(Whh, prev) + bh)
        hs.append(prev)
    hs = np.array(hs)
    dWxh, dbh, dhnext, dhnexts = np.zeros((H, V)), np.zeros(H), np.zeros(H), [None] * T
    for t in reversed(range(T)):
        dhraw = (1 - hs[t] ** 2) * (dho[t] + dhnext)
        dbh += dhraw
        if inputs[t] >= 0:
            dWxh[:, inputs[t]] += dhraw
        dhnext = np.dot(Whh.T, dhraw)
        dhnexts[t] = dhnext
    for k in (kernels.NUMPY_KERNELS, JIT):
        h = np.empty((T, H))
        k.rnn_forward(inputs, Wxh, bh, Whh, h0, np.zeros((T, V)), np.empty((T, H)), np.empty((T, H)), h)
        np.testing.assert_allclose(h, hs, rtol=1e-12, atol=1e-14)
        out = [np.empty((T, H)) for _ in range(4)] + [np.zeros((H, V)), np.zeros(H), np.zeros(V)]
        k.rnn_backward(dho, dy, hs, Whh, inputs, *out, True)
        np.testing.assert_allclose(out[3], np.array(dhnexts), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[4], dWxh, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[5], dbh, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[6], dy.sum(axis=0), rtol=1e-12, atol=1e-14)


def test_compiled_tanh_is_as_accurate_as_numpy():
    from bpttviz.engine._compiled_kernels import _tanh

    rng = np.random.default_rng(0)
    for scale in (1e-12, 1e-6, 1e-3, 0.1, 0.6, 0.625, 1.0, 3.0, 20.0, 400.0):
        x = rng.standard_normal(2000) * scale
        got = np.array([_tanh(v) for v in x])
        want = np.tanh(x)
        rel = np.abs(got - want) / np.maximum(np.abs(want), 1e-300)
        assert rel.max() < 1e-15, (scale, rel.max())
    assert _tanh(np.inf) == 1.0 and _tanh(-np.inf) == -1.0 and _tanh(0.0) == 0.0
    assert np.isnan(_tanh(np.nan))


def test_nan_weights_propagate_through_the_compiled_recurrence():
    """A diverged run must show NaN, not a number the fast tanh made up."""
    T, V, H = 3, 2, 4
    Whh = np.eye(H)
    Whh[0, 0] = np.nan
    ref, jit = _forward_both(np.zeros(T, dtype=np.intp), np.ones((H, V)), np.zeros(H), Whh, np.ones(H))
    assert np.isnan(jit[3][:, 0]).all() and np.isnan(ref[3][:, 0]).all()
    np.testing.assert_array_equal(np.isnan(jit[3]), np.isnan(ref[3]))


@pytest.mark.parametrize("spread", [1.0, 50.0, 2000.0])
def test_softmax_kernels_match_a_direct_formula(spread):
    rng = np.random.default_rng(int(spread))
    T, V = 9, 11
    logits = rng.standard_normal((T, V)) * spread
    targets = rng.integers(0, V, T).astype(np.intp)
    shifted = logits - logits.max(axis=1, keepdims=True)
    # Direct, in long double where the platform has it, so it is independent of both.
    ld = logits.astype(np.longdouble)
    want_p = np.exp(ld - ld.max(axis=1, keepdims=True))
    want_p /= want_p.sum(axis=1, keepdims=True)
    want_loss = -np.log(np.maximum(want_p[np.arange(T), targets], np.finfo(np.longdouble).tiny))
    for k in (kernels.NUMPY_KERNELS, JIT):
        p, dy, losses = np.exp(shifted), np.empty((T, V)), np.empty(T)
        k.softmax_xent(shifted, targets, p, dy, losses)
        np.testing.assert_allclose(p, want_p.astype(float), rtol=1e-12, atol=1e-300)
        onehot = np.zeros((T, V))
        onehot[np.arange(T), targets] = 1
        np.testing.assert_allclose(dy, p - onehot, rtol=0, atol=0)
        assert np.all(np.isfinite(losses))
        finite = want_p[np.arange(T), targets] > 1e-300
        np.testing.assert_allclose(losses[finite], want_loss[finite].astype(float), rtol=1e-12,
                                   atol=1e-15)  # -log p near p = 1 is limited by p's ulp


def test_value_clip_kernels_report_what_they_did():
    g = np.array([0.5, -7.0, 6.0, 5.0, -5.0, np.nan, 0.0])
    for k in (kernels.NUMPY_KERNELS, JIT):
        out = np.empty_like(g)
        sq, changed, dot, sq_out = k.value_clip(g, 5.0, out)
        np.testing.assert_array_equal(out[:5], [0.5, -5.0, 5.0, 5.0, -5.0])
        assert np.isnan(out[5]) and out[6] == 0.0
        assert changed == 3  # -7, 6 and the NaN (as numpy's out != g counts it)
        assert np.isnan(sq) and np.isnan(dot) and np.isnan(sq_out)
        finite = g[np.isfinite(g)]
        out2 = np.empty_like(finite)
        sq, changed, dot, sq_out = k.value_clip(finite, 5.0, out2)
        clipped = np.clip(finite, -5, 5)
        assert changed == 2
        assert sq == pytest.approx(float(finite @ finite), rel=1e-15)
        assert dot == pytest.approx(float(finite @ clipped), rel=1e-15)
        assert sq_out == pytest.approx(float(clipped @ clipped), rel=1e-15)


@pytest.mark.parametrize("clip", [None, "value", "norm", "param-norm"])
def test_run_bptt_is_the_same_with_either_kernel_set(monkeypatch, clip):
    params = init_params("rnn", 30, 40, seed=3, scale=0.3)
    rng = np.random.default_rng(3)
    inputs, targets = rng.integers(-1, 30, 20), rng.integers(0, 30, 20)
    traces = []
    for k in (kernels.NUMPY_KERNELS, JIT):
        monkeypatch.setattr(kernels, "_KERNELS", k)
        traces.append(run_bptt(params, inputs, targets, h0=np.full(40, 0.3), clip=clip,
                               clip_value=0.5))
    a, b = traces
    for name in ("h", "preact", "p", "losses", "dy", "dh", "dhnext", "dax", "dh_from_future"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-11, atol=1e-14,
                                   err_msg=name)
    for name in a.grads:
        np.testing.assert_allclose(b.grads_raw[name], a.grads_raw[name], rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=1e-11, atol=1e-14)
    assert b.clip.fraction_clipped == a.clip.fraction_clipped
    assert b.clip.cosine == pytest.approx(a.clip.cosine, rel=1e-12)


def test_value_clipping_report_is_the_same_with_either_kernel_set(monkeypatch):
    rng = np.random.default_rng(8)
    grads = {"a": rng.standard_normal((6, 4)) * 3, "b": rng.standard_normal(5), "c": np.zeros(0)}
    reports = []
    for k in (kernels.NUMPY_KERNELS, JIT):
        monkeypatch.setattr(kernels, "_KERNELS", k)
        clipped, report = clip_gradients(grads, "value", 2.0)
        for name, g in grads.items():
            np.testing.assert_array_equal(clipped[name], np.clip(g, -2, 2))
            assert clipped[name] is not g
        reports.append(report)
    a, b = reports
    assert a.fraction_clipped == b.fraction_clipped
    assert a.fraction_clipped["a"] == np.mean(np.abs(grads["a"]) > 2)
    assert b.cosine == pytest.approx(a.cosine, rel=1e-14) and a.cosine < 1.0
    assert b.grad_norm_after_clip == pytest.approx(a.grad_norm_after_clip, rel=1e-14)


def test_sampled_text_fed_back_through_forward_retraces_the_same_states():
    """sample() and forward() share the kernel, so even a chaotic Whh (which amplifies any
    rounding difference) gives the same argmax at every step at a near-zero temperature."""
    from bpttviz.engine import forward, sample

    params = init_params("rnn", 12, 16, seed=4, scale=1.0)
    h = np.tanh(np.random.default_rng(4).standard_normal(16))
    out = sample(params, h, 2, 400, temperature=1e-3, rng=np.random.default_rng(1))
    fw = forward(params, [2] + out[:-1], out, h0=h)
    assert np.array_equal(np.argmax(fw.logits, axis=1), out)


# --------------------------------------------------------------------------------------
# Falling back, deferring and preloading (fresh interpreters: the choice is per process)
# --------------------------------------------------------------------------------------
def _run(code: str, **env) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), capture_output=True,
                         text=True, timeout=120, env=dict(os.environ, **env))
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


RUN_ONE = ("from bpttviz.engine import init_params, run_bptt, kernels\n"
           "t = run_bptt(init_params('rnn', 5, 6), [0, 1, -1], [1, 2, 3])\n"
           "print(kernels.get().compiled, round(t.loss, 9))\n")


def test_numpy_kernels_when_jit_is_switched_off():
    compiled, loss = _run(RUN_ONE).split()
    off, loss_off = _run(RUN_ONE, BPTTVIZ_NO_JIT="1").split()
    assert (compiled, off) == ("True", "False")
    assert loss_off == loss


def test_numpy_kernels_when_numba_cannot_be_imported():
    block = ("import sys\n"
             "class Block:\n"
             "    def find_spec(self, name, path=None, target=None):\n"
             "        if name.split('.')[0] in ('numba', 'llvmlite'):\n"
             "            raise ImportError('numba blocked for this test')\n"
             "sys.meta_path.insert(0, Block())\n")
    compiled, loss = _run(block + RUN_ONE).split()
    assert compiled == "False" and float(loss) > 0


def test_engine_import_does_not_load_numba():
    """Importing the engine stays cheap; Numba loads on the first rnn pass (or preload)."""
    assert _run("import sys, bpttviz.engine; print('numba' in sys.modules)") == "False"


def test_deferred_kernels_serve_numpy_until_preloaded():
    code = ("from bpttviz.engine import kernels, init_params, run_bptt\n"
            "kernels.defer_loading()\n"
            "run_bptt(init_params('rnn', 5, 6), [0, 1], [1, 2])\n"
            "before = kernels.get().compiled\n"
            "thread = kernels.preload()\n"
            "thread.join(120)\n"
            "print(before, kernels.get().compiled, kernels.preload() is None)\n")
    assert _run(code) == "False True True"


def test_window_loads_the_compiled_kernels_after_its_first_paint(qtbot, monkeypatch):
    from bpttviz.gui.app import make_session
    from bpttviz.gui.main_window import MainWindow

    monkeypatch.setattr(kernels, "_KERNELS", None)
    monkeypatch.setattr(kernels, "_DEFERRED", True)  # what prepare_runtime(interactive=True) does
    session = make_session("notebook-one-step")
    assert not kernels.get().compiled  # the window's first trace came from numpy
    window = MainWindow(session, remember=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: kernels._KERNELS is not None, timeout=30_000)
    assert kernels.get().compiled
    window.close()


def test_keep_freed_memory_applies_on_linux():
    from bpttviz.engine.allocator import keep_freed_memory

    if not sys.platform.startswith("linux"):
        assert keep_freed_memory() is False
        return
    # In a fresh process: once applied, repeated traces reuse the same pages.
    code = ("import resource\n"
            "from bpttviz.engine.allocator import keep_freed_memory\n"
            "from bpttviz.engine import init_params, run_bptt\n"
            "ok = keep_freed_memory()\n"
            "p = init_params('rnn', 65, 100)\n"
            "for _ in range(20): run_bptt(p, list(range(25)), list(range(1, 26)))\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "for _ in range(200): run_bptt(p, list(range(25)), list(range(1, 26)))\n"
            "after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
            "print(ok, (after - before) / 200)\n")
    ok, faults = _run(code).split()
    assert ok == "True"
    assert float(faults) < 5, f"{faults} page faults per trace: freed memory went back to the OS"


def test_interactive_start_defers_the_kernels_and_keeps_freed_memory():
    code = ("import bpttviz.cli as cli\n"
            "from bpttviz.engine import kernels\n"
            "cli.prepare_runtime(interactive=True)\n"
            "print(kernels._DEFERRED, kernels.get().compiled, 'numba' in __import__('sys').modules)\n")
    assert _run(code) == "True False False"


def test_window_start_defers_the_kernels_without_an_x11_probe(monkeypatch):
    """On macOS, Windows or Wayland there is no display probe; the window must still get its
    kernels after the first paint instead of loading Numba before it."""
    import bpttviz.cli as cli
    import bpttviz.gui.app as app

    monkeypatch.setattr(kernels, "_KERNELS", None)
    monkeypatch.setattr(kernels, "_DEFERRED", False)
    monkeypatch.setattr(cli, "start_probe", lambda: None)
    seen = {}
    monkeypatch.setattr(app, "make_session", lambda *a, **k: seen.setdefault("deferred", kernels._DEFERRED))
    monkeypatch.setattr(app, "run_app", lambda args, session: 0)
    assert cli.main(["--preset", "min-char-rnn"]) == 0
    assert seen["deferred"] is True


def test_read_only_or_fortran_parameters_do_not_compile_new_kernels(monkeypatch):
    monkeypatch.setattr(kernels, "_KERNELS", JIT)
    params = init_params("rnn", 7, 9, seed=2, scale=0.5)
    run_bptt(params, [0, 1, -1], [1, 2, 3], h0=np.zeros(9))
    sample(params, np.zeros(9), 0, 3, rng=np.random.default_rng(0))
    counts = {name: len(getattr(JIT, name).signatures) for name in kernels.KERNEL_NAMES}
    frozen = {k: np.asfortranarray(v) for k, v in params.items()}
    for v in frozen.values():
        v.setflags(write=False)
    h0 = np.full(9, 0.1)
    h0.setflags(write=False)
    a = run_bptt(frozen, [0, 1, -1], [1, 2, 3], h0=h0)
    sample(frozen, h0, 0, 3, rng=np.random.default_rng(0))
    grads = {k: v.copy() for k, v in a.grads_raw.items()}
    for v in grads.values():
        v.setflags(write=False)
    clip_gradients(grads, "value", 0.01)
    assert {name: len(getattr(JIT, name).signatures) for name in kernels.KERNEL_NAMES} == counts
    b = run_bptt(params, [0, 1, -1], [1, 2, 3], h0=np.full(9, 0.1))
    np.testing.assert_array_equal(a.grads["Whh"], b.grads["Whh"])


def test_a_diverged_window_spreads_nan_like_the_seed(monkeypatch):
    """The seed's dWxh += dhraw·xᵀ turns one NaN in dhraw into NaN in every column
    (NaN·0 = NaN); the kernels' column add must not leave the other columns looking finite."""
    params = init_params("rnn", 4, 3, seed=0, scale=0.5)
    params["Whh"][0, 1] = np.nan
    for k in (kernels.NUMPY_KERNELS, JIT):
        monkeypatch.setattr(kernels, "_KERNELS", k)
        tr = run_bptt(params, [0, 1, 2], [1, 2, 3], h0=np.full(3, 0.5), clip=None)
        want = tr.dax.T @ tr.x
        np.testing.assert_array_equal(np.isnan(tr.grads_raw["Wxh"]), np.isnan(want))
        assert np.isnan(tr.grads_raw["Wxh"]).all()
        total = sum(tr.step_grad("Wxh", t) for t in range(tr.T))
        np.testing.assert_array_equal(np.isnan(total), np.isnan(tr.grads_raw["Wxh"]))


def test_cosine_of_a_non_finite_gradient_is_nan_not_minus_one():
    _, report = clip_gradients({"a": np.array([np.inf, 1.0]), "b": np.ones(2)}, "value", 5.0)
    assert np.isnan(report.cosine)
    _, report = clip_gradients({"a": np.array([7.0, 1.0])}, "value", 5.0)
    assert 0 < report.cosine < 1


def test_status_says_which_kernels_run_and_why(monkeypatch):
    import numba

    monkeypatch.setattr(kernels, "_KERNELS", JIT)
    assert kernels.status() == f"compiled with Numba {numba.__version__}"
    monkeypatch.setattr(kernels, "_KERNELS", None)
    monkeypatch.setattr(kernels, "_DEFERRED", True)
    assert "loading" in kernels.status()
    monkeypatch.setenv("BPTTVIZ_NO_JIT", "1")
    monkeypatch.setattr(kernels, "_KERNELS", kernels._compiled() or kernels.NUMPY_KERNELS)
    assert kernels.status() == "numpy (BPTTVIZ_NO_JIT is set)"


def test_a_failed_compile_is_logged_and_numpy_runs(monkeypatch, caplog):
    import bpttviz.engine._compiled_kernels as jit

    def broken(*_a):
        raise RuntimeError("LLVM said no")

    monkeypatch.setattr(jit, "rnn_forward", broken)
    monkeypatch.setattr(kernels, "_WHY_NUMPY", "")
    with caplog.at_level("WARNING", logger="bpttviz.engine.kernels"):
        assert kernels._compiled() is None
    assert "LLVM said no" in caplog.text and "using numpy" in caplog.text
    monkeypatch.setattr(kernels, "_KERNELS", kernels.NUMPY_KERNELS)
    assert kernels.status() == "numpy (RuntimeError: LLVM said no)"
