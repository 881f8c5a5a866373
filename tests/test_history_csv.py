"""loss_history.csv is formatted while training, and never from stale rows (issue 13: export
all after a long run no slower than at its start)."""
import numpy as np

from bpttviz.engine.run import History
from bpttviz.export import tables
from bpttviz.export.tables import HistoryCsv, history_csv, read_csv_table, save_loss_history_csv
from bpttviz.gui import training
from bpttviz.gui.training import TrainingWorker
from bpttviz.session import Session


def _table(s):
    h = s.run.history
    return np.column_stack([np.arange(len(h)) * float(h.stride), h.loss.values, h.smooth_loss.values,
                            h.grad_norm_before_clip.values, h.grad_norm_after_clip.values,
                            np.full(len(h), float(h.stride))])


def _count_formatted(monkeypatch):
    """Rows formatted by HistoryCsv from now on (a list with one running total)."""
    count = [0]
    real = tables._rows_text

    def counting(table):
        count[0] += len(table)
        return real(table)
    monkeypatch.setattr(tables, "_rows_text", counting)
    return count


def _train_in_worker(s, n):
    """n iterations through the window's training worker, run synchronously, a progress signal
    after every iteration; the worker is given the session's HistoryCsv as the window does."""
    with s.lend_run() as run:
        worker = TrainingWorker(run, limit=n, sample_interval=0, history_csv=history_csv(s))
        sent = _Signals()
        worker.sigProgress.connect(sent.record)
        worker.work()
    assert worker.reason == "limit"
    return sent.received


class _Signals:
    def __init__(self):
        self.received = []

    def record(self, *args):
        self.received.append(args)


def test_the_rows_training_sent_are_not_formatted_again_at_export(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "EMIT_INTERVAL", 0.0)
    s = Session("min-char-rnn")
    s.train(5)                      # recorded before the worker: formatted as it starts
    count = _count_formatted(monkeypatch)
    sent = _train_in_worker(s, 30)
    assert len(sent) >= 30          # a signal per iteration: the cache was fed in small pieces
    assert count[0] == 35           # every row formatted once, during training
    cols, table = read_csv_table(save_loss_history_csv(s, tmp_path))
    assert count[0] == 35           # ... and not again by the export
    # what was written is the history, to the last bit (independent of the cache's text)
    np.testing.assert_array_equal(table, _table(s))
    assert (tmp_path / "loss_history.csv").read_text() == \
        tables.table_csv(tables.HISTORY_COLUMNS, _table(s))


def test_a_compacted_history_is_formatted_again_and_right(tmp_path, monkeypatch):
    monkeypatch.setattr(training, "EMIT_INTERVAL", 0.0)
    s = Session("min-char-rnn")
    s.run.history = History(capacity=8)
    _train_in_worker(s, 37)         # compacted three times (stride 8), sent whole each time
    assert s.run.history.stride == 8
    count = _count_formatted(monkeypatch)
    cols, table = read_csv_table(save_loss_history_csv(s, tmp_path))
    assert count[0] == 0
    np.testing.assert_array_equal(table[:, 0], [0, 8, 16, 24])
    np.testing.assert_array_equal(table, _table(s))


def test_rows_of_another_history_are_never_reused(tmp_path):
    s = Session("min-char-rnn")
    s.train(12)
    save_loss_history_csv(s, tmp_path)          # the cache now holds these 12 rows
    # Same length, same stride, one value changed in the middle (as if another run with the
    # same length were loaded into the session): the export must show the new value.
    h = s.run.history
    changed = h.loss.values.copy()
    changed[5] = 123.25
    s.run.history = History(changed, h.smooth_loss.values, h.grad_norm_before_clip.values,
                            h.grad_norm_after_clip.values)
    cols, table = read_csv_table(save_loss_history_csv(s, tmp_path))
    assert table[5, 1] == 123.25
    np.testing.assert_array_equal(table, _table(s))
    # A shorter history than the rows held (a new run): no row of the old one is left.
    s.run.history = History(changed[:3], h.smooth_loss.values[:3], h.grad_norm_before_clip.values[:3],
                            h.grad_norm_after_clip.values[:3])
    cols, table = read_csv_table(save_loss_history_csv(s, tmp_path))
    assert table.shape == (3, 6)


def test_entries_that_skip_rows_are_not_trusted():
    cache = HistoryCsv()
    fields = dict(loss=[1.0, 2.0], smooth_loss=[1.0, 1.5], grad_norm_before_clip=[3.0, 4.0],
                  grad_norm_after_clip=[3.0, 4.0])
    cache.extend(dict(fields, start=0, stride=1))
    cache.extend(dict(fields, start=5, stride=1))   # rows 2-4 were never seen
    table = np.array([[i, 1.0 + i, 1.0, 3.0, 3.0, 1.0] for i in range(7)])
    text = cache.text(table)
    assert text == tables.table_csv(tables.HISTORY_COLUMNS, table)


def test_each_session_has_its_own_rows():
    a, b = Session("min-char-rnn"), Session("min-char-rnn")
    assert history_csv(a) is history_csv(a)
    assert history_csv(a) is not history_csv(b)


def test_an_export_while_training_keeps_the_rows_formatted_for_later(tmp_path, monkeypatch):
    """While training, the session shows the history as training began (shorter than what
    the worker has fed): exporting it must neither show the newer rows nor drop them."""
    cache = HistoryCsv()
    table = np.array([[i, 1.0 + i, 1.0, 3.0, 3.0, 1.0] for i in range(10)])
    fields = dict(loss=table[:, 1], smooth_loss=table[:, 2], grad_norm_before_clip=table[:, 3],
                  grad_norm_after_clip=table[:, 4])
    cache.extend(dict(fields, start=0, stride=1))
    assert cache.text(table[:4]) == tables.table_csv(tables.HISTORY_COLUMNS, table[:4])
    count = _count_formatted(monkeypatch)
    assert cache.text(table) == tables.table_csv(tables.HISTORY_COLUMNS, table)
    assert count[0] == 0
