"""Live training in a worker thread, without copying the run and without races.

Ownership rule: the controller borrows the run through ``session.lend_run()``; while the loan
lasts the worker thread is the only code that touches the run (it calls ``run.train(...)``,
the engine's one training loop, so live training makes exactly the updates stepping makes), the session refuses every change
(SessionError) and its readers see the trace published when training began.  The GUI thread
only receives what the worker sends in its signals (plain numbers and the *new* history
entries).  When training stops (pause, stop-after-N, divergence) the controller joins the
thread and ends the loan: the session publishes the trace at the paused iteration (cursor at
the start, one ``sigTraceChanged``), and the regular timeline can be stepped from there.

The window owns the one controller of its session and hands it to the panels that need it.

Because nothing is copied, training speed is the engine's; the GUI's cost is limited to one
signal per ~33 ms (``EMIT_INTERVAL``) carrying only the entries added since the last one.
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Dict, Optional

from PyQt5.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from ..engine.run import HISTORY_FIELDS
from ..engine.train import DivergenceError
from ..export.tables import history_csv

#: Seconds between progress signals (about 30 per second: the panel redraws no faster).
EMIT_INTERVAL = 1.0 / 30.0
#: Iterations per ``run.train`` call when training until paused (the clock is checked and
#: the stop flag polled after every iteration; this only bounds the loop's bookkeeping).
MAX_CHUNK = 100_000
#: Seconds between two text samples taken by the worker (0 disables).
SAMPLE_INTERVAL = 1.0
#: Characters per sample.
SAMPLE_LENGTH = 200


class TrainingWorker(QObject):
    """The training loop; lives in a QThread while it runs (see the module docstring).

    sigProgress(iteration, smooth_loss, new_entries): ``new_entries`` maps each history field
    to a float64 array (a copy) of the values appended since the previous signal (only new
    entries are sent), "start" to the history index of the first of them (so a receiver
    can ignore stale ones) and "stride" to the iterations each entry stands for.  When the
    history has been compacted (its stride doubled) the whole history is sent, with start 0.
    sigSample(iteration, temperature, text): text sampled from the model (seeded by the
    iteration, so the run's own random state is not consumed).
    sigFinished(reason): "paused", "limit" (stop-after-N reached), "diverged" or "error".

    ``history_csv`` (a :class:`~bpttviz.export.tables.HistoryCsv`, optional) is handed the
    same new entries, so the rows of ``loss_history.csv`` are formatted while training (a few
    dozen a signal) rather than all at once when the user exports.
    """

    sigProgress = pyqtSignal(int, float, object)
    sigSample = pyqtSignal(int, float, str)
    sigFinished = pyqtSignal(str)

    def __init__(self, run, limit: Optional[int] = None, temperature: float = 1.0,
                 sample_interval: float = SAMPLE_INTERVAL, history_csv=None):
        super().__init__()
        self.run = run
        self.history_csv = history_csv
        self.limit = limit            # iterations to do in this run (None: until paused)
        self.temperature = float(temperature)  # read by the worker; a float store is atomic
        self.sample_interval = sample_interval
        self.stop_event = threading.Event()
        self.done = 0
        self.error = None             # sys.exc_info() of an unexpected exception
        self.reason = None            # why the loop ended (set before sigFinished)
        self.divergence = None        # (iteration, message) if it diverged
        self._sent = len(run.history.loss)
        self._stride = run.history.stride
        self._last_emit = self._last_sample = 0.0

    def request_stop(self):
        self.stop_event.set()

    def _new_entries(self) -> Dict[str, object]:
        h, n = self.run.history, self._sent
        if h.stride != self._stride:  # compacted since the last signal: send it all again
            n = 0
            self._stride = h.stride
        out = {k: getattr(h, k)[n:] for k in HISTORY_FIELDS}  # float64 array copies
        out["start"], out["stride"] = n, h.stride
        self._sent = len(h.loss)
        return out

    def _emit_progress(self):
        entries = self._new_entries()
        if self.history_csv is not None:
            self.history_csv.extend(entries)
        self.sigProgress.emit(self.run.iteration, float(self.run.smooth_loss), entries)

    def _sample(self):
        if not hasattr(self.run, "sample_text"):
            return
        text = self.run.sample_text(SAMPLE_LENGTH, self.temperature, seed=self.run.iteration)
        self.sigSample.emit(self.run.iteration, self.temperature, text)

    def on_batch_end(self, run):
        """Called by ``run.train`` after every iteration (in the worker thread): count it,
        and send progress every EMIT_INTERVAL and a sample every sample_interval."""
        self.done += 1
        now = time.perf_counter()
        if now - self._last_emit >= EMIT_INTERVAL:
            self._last_emit = now
            self._emit_progress()
        if self.sample_interval and now - self._last_sample >= self.sample_interval:
            self._last_sample = now
            self._sample()

    @pyqtSlot()
    def work(self):
        run, stop = self.run, self.stop_event
        reason = "paused"
        try:
            if self.history_csv is not None:
                self.history_csv.warm(run.history)
            self._last_emit = self._last_sample = time.perf_counter()
            while not stop.is_set():
                if self.limit is not None and self.done >= self.limit:
                    break
                chunk = MAX_CHUNK if self.limit is None else self.limit - self.done
                run.train(chunk, should_stop=stop.is_set, on_batch_end=self.on_batch_end)
            if self.limit is not None and self.done >= self.limit:
                reason = "limit"
        except DivergenceError as e:
            self._emit_progress()
            self.divergence = (int(e.iteration), str(e))
            self.reason = "diverged"
            self.sigFinished.emit("diverged")
            return
        except Exception:  # surfaced in the GUI thread by the controller
            self.error = sys.exc_info()
            self.reason = "error"
            self.sigFinished.emit("error")
            return
        self._emit_progress()
        self.reason = reason
        self.sigFinished.emit(reason)


class TrainingController(QObject):
    """Starts and stops a :class:`TrainingWorker` for a session (one thread per run).

    sigRunningChanged(bool): training started / stopped (the session's ``sigBusyChanged``
    says the same about the run; widgets that edit the session follow that one).
    sigProgress, sigSample: forwarded from the worker (queued to the GUI thread).
    sigStopped(reason): after the thread is joined and the run is back with the session (its
    new trace published), reason as in ``TrainingWorker.sigFinished``.
    sigDiverged(iteration, message): after the session has been reset, before
    sigStopped("diverged"); the run kept the parameters from before the failed update.
    """

    sigRunningChanged = pyqtSignal(bool)
    sigProgress = pyqtSignal(int, float, object)
    sigSample = pyqtSignal(int, float, str)
    sigDiverged = pyqtSignal(int, str)
    sigStopped = pyqtSignal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.thread: Optional[QThread] = None
        self.worker: Optional[TrainingWorker] = None
        self._loan = None
        self.temperature = 1.0
        self.sample_interval = SAMPLE_INTERVAL
        self.last_reason: Optional[str] = None
        self.divergence: Optional[tuple] = None   # (iteration, message) of the last divergence
        self.started_at_iteration = 0
        self.start_time = 0.0
        from PyQt5.QtWidgets import QApplication
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    # --- state --------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.worker is not None

    def set_temperature(self, value: float):
        self.temperature = float(value)
        if self.worker is not None:
            self.worker.temperature = float(value)

    # --- control ------------------------------------------------------------------------
    def start(self, limit: Optional[int] = None) -> bool:
        """Train in the background until paused, or for ``limit`` iterations. Returns False
        if already running (or limit is 0)."""
        if self.running or (limit is not None and limit <= 0):
            return False
        from ..session import SessionError
        loan = self.session.lend_run()
        try:
            run = loan.__enter__()
        except SessionError:
            return False
        self._loan = loan
        self.divergence = None
        self.started_at_iteration = run.iteration
        self.start_time = time.perf_counter()
        worker = TrainingWorker(run, limit, self.temperature, self.sample_interval,
                                history_csv(self.session))
        thread = QThread()
        thread.setObjectName("bpttviz-training")
        worker.moveToThread(thread)
        worker.sigProgress.connect(self.sigProgress)
        worker.sigSample.connect(self.sigSample)
        worker.sigFinished.connect(self._on_finished)
        thread.started.connect(worker.work)
        self.worker, self.thread = worker, thread
        self.sigRunningChanged.emit(True)
        thread.start()
        return True

    def pause(self):
        """Ask the worker to stop after the current update (returns at once; ``sigStopped``
        follows). Use :meth:`stop` to block until it has stopped."""
        if self.worker is not None:
            self.worker.request_stop()

    def stop(self, timeout_ms: int = 10_000):
        """Stop and wait: when this returns, the GUI may read the session again."""
        if self.worker is None:
            return
        self.worker.request_stop()
        self.thread.quit()  # the thread's event loop ends once work() returns
        self.thread.wait(timeout_ms)
        # The worker's sigFinished is queued to us; handle it now rather than later.
        self._on_finished(self.worker.reason or "paused")

    def shutdown(self):
        """Stop and give the run back without waiting for anyone (application exit)."""
        if self.worker is None:
            return
        self.worker.request_stop()
        self.thread.quit()
        self.thread.wait(10_000)
        self._cleanup()
        self._return_run()

    def _return_run(self):
        loan, self._loan = self._loan, None
        if loan is not None:
            loan.end()

    # --- from the worker ----------------------------------------------------------------
    def _on_diverged(self, iteration: int, message: str):
        # Called from _on_finished (GUI thread), after the thread is joined.
        self.divergence = (iteration, message)
        self.sigDiverged.emit(iteration, message)

    def _cleanup(self):
        worker, thread = self.worker, self.thread
        self.worker = self.thread = None
        if thread is not None:
            thread.quit()
            thread.wait()  # work() has returned (or returns after one update): a short join
        return worker

    def _on_finished(self, reason: str):
        if self.worker is None:  # already handled (stop() joined first)
            return
        if self.sender() is not None and self.sender() is not self.worker:
            return  # a late signal from an older worker
        worker = self._cleanup()
        reason = worker.reason or reason
        self.last_reason = reason
        # The run goes back to the session, which publishes its trace (cursor at the start).
        self._return_run()
        self.sigRunningChanged.emit(False)
        if worker.divergence is not None:
            self._on_diverged(*worker.divergence)
        self.sigStopped.emit(reason)
        if worker.error is not None:
            sys.excepthook(*worker.error)  # a bug: report it like any GUI exception

    # --- rate -----------------------------------------------------------------------------
    def rate(self, iteration: int) -> float:
        """Iterations per second since ``start`` (for a read-out)."""
        dt = time.perf_counter() - self.start_time
        return (iteration - self.started_at_iteration) / dt if dt > 0 else 0.0
