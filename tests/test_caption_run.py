"""The captioning presets step through one caption with the same Trace interface as text."""
import numpy as np
import pytest

from bpttviz.engine.captioning import caption_loss
from bpttviz.session import Session


@pytest.fixture(params=["cs231n-captioning-rnn", "cs231n-captioning-lstm"])
def session(request, qapp):
    return Session(request.param)


def test_step_trace_equals_caption_loss_of_that_caption(session):
    tr = session.trace
    ds = session.run.dataset
    i = session.run.example
    loss, grads = caption_loss(session.params, ds.features[i:i + 1], ds.captions[i:i + 1],
                               cell=session.config.cell, null=ds.null)
    assert tr.loss == pytest.approx(loss, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(tr.grads_raw[k], grads[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(tr.inputs, ds.captions[i, :-1])
    np.testing.assert_array_equal(tr.targets, ds.captions[i, 1:])
    # Masked steps (target <NULL>) carry no loss and no output gradient.
    assert np.all(tr.losses[~tr.mask] == 0) and np.all(tr.dy[~tr.mask] == 0)


def test_step_contributions_sum_to_every_gradient(session):
    tr = session.trace
    for k in tr.grads_raw:
        total = sum(tr.step_grad(k, t) for t in range(tr.T))
        np.testing.assert_allclose(total, tr.grads_raw[k], atol=1e-13)
        np.testing.assert_allclose(tr.accumulated_grad(k, 0), tr.grads_raw[k], atol=1e-13)
    C = session.contributions()
    S = sum(C.part(t, k) for t in range(tr.T) for k in range(t + 1))
    # The parts have Wh's own (H, G*H) shape (issue 16: they used to sum to Wh.T).
    np.testing.assert_allclose(S, tr.grads_raw["Wh"], atol=1e-13)
    assert tr.recurrent_name == "Wh"


def test_gradient_check_and_training(session):
    assert max(e.rel_error for e in session.gradient_check().values()) < 1e-7
    start = np.mean([session.trace.loss])
    session.train(150)
    assert session.iteration == 150
    assert np.mean(session.run.history.loss[-10:]) < 0.5 * start
    assert "model:" in session.run.sample_text()


def test_save_open_roundtrip(session, tmp_path):
    session.train(3)
    session.set_event("backward:2")
    p = tmp_path / "cap.npz"
    session.save(p)
    other = Session("long-range")
    other.open(p)
    assert other.config == session.config and str(other.current_event) == "backward:2"
    assert other.trace.loss == session.trace.loss


def test_truncation_is_refused_with_a_reason(session):
    from bpttviz.session import SessionError
    with pytest.raises(SessionError, match="character models"):
        session.truncation()
