"""The header's words say what the event really does (issue 12: numbers and words that never
mislead)."""
from bpttviz.explain import describe
from bpttviz.session import Session
from bpttviz.timeline import Event


def test_the_last_backward_step_gets_nothing_from_the_future():
    words, _ = describe(Event("backward", 9), T=10)
    assert "from the future)" not in words and "nothing comes from the future" in words
    words, _ = describe(Event("backward", 4), T=10)
    assert "from the future" in words and "nothing" not in words
    words, _ = describe(Event("backward", 0), T=10)
    assert "h_-1" not in words


def test_the_first_forward_step_names_the_starting_state():
    words, _ = describe(Event("forward", 0), T=10)
    assert "h_-1" not in words and "starts from" in words


def test_clip_words_follow_the_mode():
    assert "rescale every gradient by c / norm" in describe(Event("clip"), clip="norm")[0]
    assert "cut every gradient entry" in describe(Event("clip"), clip="value")[0]
    assert "each parameter" in describe(Event("clip"), clip="param-norm")[0]
    assert "no clipping" in describe(Event("clip"), clip=None)[0]


def test_update_words_follow_the_task():
    s = Session("cs231n-captioning-rnn")
    s.set_event("update")
    words, _ = s.describe_event()
    assert "minibatch" in words and str(s.config.batch_size) in words
    s = Session("min-char-rnn")
    s.set_event("update")
    assert "last h" in s.describe_event()[0]
    s = Session("dinosaurs")  # the assignment carries a_prev from one name to the next
    s.set_event("update")
    assert s.config.carry_state and "last h" in s.describe_event()[0]
    s = Session("long-range")  # a fresh copy task every window
    s.set_event("update")
    assert "h = 0" in s.describe_event()[0]


def test_a_last_step_loss_run_does_not_claim_each_steps_own_loss():
    s = Session("vanishing")
    assert s.config.loss_steps == "last"
    s.set_event("backward:5")
    words = s.describe_event()[0]
    assert "future only" in words and "from loss 5" not in words


def test_forward_words_count_steps_from_zero_and_follow_the_loss_option():
    """'step 7 of 24' stood beside '25 steps' in every view: the steps are t = 0..T-1, said
    so; and with only the last step's loss, a forward step does not promise 'the loss of
    step 7'."""
    words, _ = describe(Event("forward", 7), T=25)
    assert "step 7 of 0\u201324" in words and "the loss of step 7" in words
    words, _ = describe(Event("forward", 7), T=25, loss_steps="last")
    assert "the loss of step 7" not in words and "only the last step" in words
    words, _ = describe(Event("forward", 24), T=25, loss_steps="last")
    assert "the loss of step 24" in words
    s = Session("vanishing")
    s.set_event("forward:3")
    assert "only the last step" in s.describe_event()[0]


def test_header_equations_break_only_between_equations():
    from bpttviz.gui.timeline_bar import unbroken_parts
    eq = "h_t = tanh(Wxh·x_t + Whh·h_{t-1} + bh);  p_t = softmax(y_t);  loss_t = -log p_t[target_t]"
    parts = unbroken_parts(eq).split(";  ")
    assert len(parts) == 3 and all(" " not in p for p in parts)  # no break inside a part
    assert "-" not in unbroken_parts(eq)  # Qt breaks after a hyphen-minus: a minus sign
    assert unbroken_parts(eq).replace("\u00a0", " ").replace("\u2212", "-") == eq  # same text
    long = "x" * 40 + " " + "y" * 40
    assert unbroken_parts(long) == long  # too long to keep whole: may wrap


def test_a_one_step_window_has_no_range_of_steps():
    """The notebook's single step read "Forward, step 0 of 0–0"."""
    words, _ = describe(Event("forward", 0), T=1)
    assert "0–0" not in words and words.startswith("Forward, step 0, the only one:")
    assert "step 3 of 0–9" in describe(Event("forward", 3), T=10)[0]


def test_step_ranges_of_one_step_say_one_step():
    """The first backward step read "steps 24–24 added", the notebook's window "0–0"."""
    from bpttviz.explain import step_of, steps
    assert steps(3, 24) == "steps 3\u201324" and steps(24, 24) == "step 24"
    assert step_of(3, 25) == "step 3 of 0\u201324" and step_of(0, 1) == "step 0, the only one"


def test_views_say_one_step_where_one_is_summed(qtbot):
    from bpttviz.gui.panels.contrib import ContributionsPanel
    from bpttviz.gui.panels.gradnorms import GradNormsPanel
    from bpttviz.session import Session
    s = Session("min-char-rnn")
    contrib, norms = ContributionsPanel(s), GradNormsPanel(s)
    for p in (contrib, norms):
        qtbot.addWidget(p)
    s.set_event("backward:24")
    contrib.redraw()
    norms.redraw()
    assert "step 24 added" in contrib.note.text().replace("&nbsp;", " ")
    assert "over step 24 so far" in norms.info.text()
    s.set_event("backward:10")
    contrib.redraw()
    assert "steps 10\u201324 added" in contrib.note.text().replace("&nbsp;", " ")
    one = Session("notebook-one-step")
    p = ContributionsPanel(one)
    qtbot.addWidget(p)
    p.redraw()
    assert "(step 0, the only one)" in p.note.text() and "0\u20130" not in p.note.text()
