"""Training runs: min-char-rnn's loop (Adagrad, pointer, carried state), the dinosaurs loop,
divergence handling, optimizers against their formulas, and every preset loading."""
import math

import numpy as np
import pytest

from bpttviz.engine import run_bptt
from bpttviz.engine.optim import Adagrad, Adam, SGD, make_optimizer
from bpttviz.engine.presets import list_presets, load_preset
from bpttviz.engine.train import CharRun, DivergenceError, RunConfig

TEXT = "the quick brown fox jumps over the lazy dog. " * 20


def test_min_char_rnn_loop_matches_a_hand_written_loop():
    """Three iterations of CharRun equal min-char-rnn's main loop written out here."""
    cfg = RunConfig(task="text", text=TEXT, hidden_size=8, seq_length=10, optimizer="adagrad",
                    lr=0.1, clip="value", clip_value=5.0, init_scale=0.3)
    run = CharRun(cfg)
    p = {k: v.copy() for k, v in run.params.items()}
    data = run.vocab.encode(TEXT)
    mem = {k: np.zeros_like(v) for k, v in p.items()}
    hprev, ptr = np.zeros(8), 0
    for _ in range(3):
        inputs, targets = data[ptr:ptr + 10], data[ptr + 1:ptr + 11]
        tr = run_bptt(p, inputs, targets, h0=hprev, clip="value", clip_value=5.0)
        for k in p:
            mem[k] += tr.grads[k] ** 2
            p[k] -= 0.1 * tr.grads[k] / np.sqrt(mem[k] + 1e-8)
        hprev, ptr = tr.h_last, ptr + 10
        run.update()
    for k in p:
        np.testing.assert_allclose(run.params[k], p[k], rtol=0, atol=1e-14)
    np.testing.assert_allclose(run.h, hprev)
    assert run.pointer == 30 and run.iteration == 3
    assert len(run.history.loss) == 3


def test_pointer_wraps_and_resets_state():
    cfg = RunConfig(task="text", text="abcdefghij" * 3, hidden_size=4, seq_length=10)
    run = CharRun(cfg)
    run.update()
    assert run.pointer == 10 and np.any(run.h != 0)
    run.update()  # 20 + 10 + 1 > 30: back to the start with a zero state
    assert run.pointer == 0 and np.all(run.h == 0)


def test_training_reduces_loss():
    run = CharRun(RunConfig(task="text", text=TEXT, hidden_size=32, seq_length=16))
    first = run.trace().loss
    run.train(300)
    assert run.smooth_loss < -math.log(1 / len(run.vocab)) * 16
    assert np.mean(run.history.loss[-20:]) < 0.6 * first


def test_divergence_keeps_last_good_params():
    run = CharRun(RunConfig(task="text", text=TEXT, hidden_size=8, seq_length=10,
                            optimizer="sgd", lr=1e308, clip=None, init_scale=1.0))
    with pytest.raises(DivergenceError) as exc:
        run.train(50)
    before = {k: v.copy() for k, v in run.params.items()}
    assert all(np.all(np.isfinite(v)) for v in run.params.values())
    assert "iteration" in str(exc.value) and exc.value.iteration >= 0
    with pytest.raises(DivergenceError):
        run.update()
    for k in before:
        np.testing.assert_array_equal(run.params[k], before[k])


def test_optimizers_follow_their_formulas():
    rng = np.random.default_rng(0)
    p0 = {"w": rng.standard_normal(5)}
    g = {"w": rng.standard_normal(5)}
    p = {"w": p0["w"].copy()}
    SGD(0.5).step(p, g)
    np.testing.assert_allclose(p["w"], p0["w"] - 0.5 * g["w"])
    p = {"w": p0["w"].copy()}
    opt = Adagrad(0.1)
    opt.step(p, g)
    opt.step(p, g)
    np.testing.assert_allclose(p["w"], p0["w"] - 0.1 * g["w"] / np.sqrt(g["w"] ** 2 + 1e-8)
                               - 0.1 * g["w"] / np.sqrt(2 * g["w"] ** 2 + 1e-8))
    p = {"w": p0["w"].copy()}
    Adam(0.01).step(p, g)
    # First Adam step: m̂ = g, v̂ = g², so the step is lr * sign(g) (up to eps).
    np.testing.assert_allclose(p["w"], p0["w"] - 0.01 * g["w"] / (np.abs(g["w"]) + 1e-8))
    with pytest.raises(ValueError, match="optimizer"):
        make_optimizer("rmsprop", 0.1)
    for bad in (0, -1, float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError, match="lr"):
            make_optimizer("sgd", bad)


def test_every_char_preset_builds_a_trace():
    names = list_presets()
    for required in ["notebook-one-step", "min-char-rnn", "dinosaurs", "cs231n-captioning-rnn",
                     "cs231n-captioning-lstm", "vanishing", "exploding", "long-range"]:
        assert required in names
    for name in names:
        pre = load_preset(name)
        assert pre.title and pre.teaches
        if pre.kind != "char":
            continue
        run = CharRun(pre.config, pre.weights)
        tr = run.trace()
        assert np.isfinite(tr.loss) and tr.T >= 1


def test_preset_settings_are_the_seeds():
    mc = load_preset("min-char-rnn").config
    assert (mc.hidden_size, mc.seq_length, mc.optimizer, mc.lr, mc.clip, mc.clip_value) == \
        (100, 25, "adagrad", 0.1, "value", 5.0)
    dino = load_preset("dinosaurs")
    run = CharRun(dino.config)
    assert len(run.vocab) == 27 and dino.config.hidden_size == 50
    assert (dino.config.optimizer, dino.config.lr, dino.config.clip_value) == ("sgd", 0.01, 5.0)
    ins, tgs = run.window()
    assert ins[0] == -1 and tgs[-1] == run.vocab.index["\n"]
    nb = load_preset("notebook-one-step")
    assert nb.weights["Wxh"].shape == (3, 4)
    run = CharRun(nb.config, nb.weights)
    assert run.trace().loss == pytest.approx(1.38604499354, abs=1e-9)


def test_vanishing_and_exploding_presets_sit_either_side_of_one():
    from bpttviz.engine.analysis import whh_spectrum
    v = CharRun(load_preset("vanishing").config)
    e = CharRun(load_preset("exploding").config)
    assert whh_spectrum(v.params).spectral_radius < 1 < whh_spectrum(e.params).spectral_radius


def test_long_range_truncation_fails_to_learn_but_full_bptt_does():
    """The long-range preset's point: with 4-step windows the delayed copy is not learnt."""
    pre = load_preset("long-range")
    cfg = pre.config
    from bpttviz.engine.analysis import truncated_bptt
    results = {}
    for window in (cfg.seq_length, 4):
        run = CharRun(cfg)
        for _ in range(800):
            ins, tgs = run.window()
            tb = truncated_bptt(run.params, ins, tgs, window, cell=cfg.cell)
            from bpttviz.engine.clipping import clip_gradients
            g, _ = clip_gradients(tb.grads_raw, "norm", 5.0)
            run.optimizer.step(run.params, g)
            run.iteration += 1
        # Accuracy on the delayed part of fresh sequences.
        correct = total = 0
        for s in range(20):
            run.iteration = 10_000 + s
            ins, tgs = run.window()
            tr = run_bptt(run.params, ins, tgs, cell=cfg.cell, clip=None)
            pred = tr.p.argmax(axis=1)
            correct += np.sum(pred[cfg.delay:] == tgs[cfg.delay:])
            total += tgs[cfg.delay:].size
        results[window] = correct / total
    assert results[cfg.seq_length] > 0.8
    assert results[4] < 0.4  # chance is 0.25
