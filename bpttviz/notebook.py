"""``bpttviz.show(trace_or_session, at="backward:3", views=None)`` (this module: its home, named
so it does not shadow the function): the stepping views as PNG images, for a notebook -- drawn
offscreen with the export code, no window and no display.

Returns a :class:`Views` (a list of :class:`ViewImage`); Jupyter shows it as the images side by
side (``_repr_html_``), each image on its own has ``_repr_png_``, ``.png`` (bytes) and
``.save(path)``.
"""
from __future__ import annotations

import base64
import html
import os
from typing import Optional, Sequence

#: Keeps the QApplication this module created alive (Qt needs exactly one, for good).
_APP = []


class ViewImage:
    """One rendered view: ``key`` (panel key), ``title``, ``event``, ``png`` (PNG bytes)."""

    def __init__(self, key: str, title: str, event: str, png: bytes):
        self.key, self.title, self.event, self.png = key, title, event, png

    def _repr_png_(self) -> bytes:
        return self.png

    def save(self, path: str) -> None:
        from .session import atomic_write
        atomic_write(path, self.png)

    def __repr__(self) -> str:
        return f"<ViewImage {self.key} at {self.event}: {len(self.png)} bytes of PNG>"


class Views(list):
    """The rendered views (a list of ViewImage) with an HTML view for Jupyter."""

    def _repr_html_(self) -> str:
        parts = []
        for v in self:
            data = base64.b64encode(v.png).decode()
            parts.append(f"<figure style='display:inline-block;margin:4px'><img width='480' "
                         f"src='data:image/png;base64,{data}'/><figcaption>{html.escape(v.title)}"
                         f" — {html.escape(v.event)}</figcaption></figure>")
        return "<div>" + "".join(parts) + "</div>"


def _qt_app():
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before Qt is imported
    from PyQt5.QtWidgets import QApplication
    app = QApplication.instance()
    if app is None:
        from .export import quiet_qt_messages
        quiet_qt_messages()
        app = QApplication(["bpttviz-show"])
        _APP.append(app)
    return app


def session_for_trace(trace):
    """A Session showing exactly ``trace`` (a fixed-window run with the trace's parameters)."""
    from .engine.model import Trace
    from .engine.train import RunConfig, make_run
    from .session import Session
    if not isinstance(trace, Trace):
        raise TypeError(f"show() takes a bpttviz Trace (from run_bptt) or a Session; got "
                        f"{type(trace).__name__}")
    config = RunConfig(task="fixed", cell=trace.cell, hidden_size=trace.hidden_size,
                       inputs=tuple(int(i) for i in trace.inputs),
                       targets=tuple(int(i) for i in trace.targets),
                       vocab=tuple(str(i) for i in range(trace.vocab_size)),
                       clip=trace.clip.mode, clip_value=trace.clip.threshold,
                       backprop_bug=trace.backprop_bug, seq_length=max(2, trace.T))
    run = make_run(config, trace.params)
    # A fixed window always restarts from zeros; the trace may carry a state: show the
    # trace itself (the run's cached trace is what every panel reads).
    run._trace = trace
    session = Session(None)
    session.run = run
    return session


def show(trace_or_session, at: str = "backward:0", views: Optional[Sequence[str]] = None,
         width: int = 960) -> Views:
    """Render the views (panel keys; default the stepping views: unrolled, hidden, outputs,
    dhnext, gradnorms, code) at event ``at`` (forward:N, backward:N, clip, update, start,
    end) as PNG images ``width`` pixels wide.  A Session's cursor is put back afterwards."""
    _qt_app()
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice
    from PyQt5.QtWidgets import QApplication

    from .export import PANEL_SIZE, render_image
    from .gui.panels import CORE_PANELS, PANELS
    from .session import Session

    session = trace_or_session if isinstance(trace_or_session, Session) else \
        session_for_trace(trace_or_session)
    known = {cls.key: cls for cls in PANELS}
    keys = list(views) if views else [cls.key for cls in CORE_PANELS]
    bad = [k for k in keys if k not in known]
    if bad:
        raise ValueError(f"views must be panel keys from {', '.join(known)}; got {', '.join(bad)}")
    start = session.cursor
    out = Views()
    try:
        session.set_event(at)
        event = str(session.current_event)
        for key in keys:
            panel = known[key](session)
            panel.resize(*PANEL_SIZE)
            panel.show()
            QApplication.processEvents()
            panel.refresh()
            QApplication.processEvents()
            img = render_image(panel.export_widget(), width)
            ba = QByteArray()
            buf = QBuffer(ba)
            buf.open(QIODevice.WriteOnly)
            img.save(buf, "PNG")
            buf.close()
            out.append(ViewImage(key, panel.title, event, bytes(ba)))
            panel.close()
            panel.deleteLater()
        QApplication.processEvents()
    finally:
        if session is trace_or_session:
            session.set_cursor(start)
    return out

