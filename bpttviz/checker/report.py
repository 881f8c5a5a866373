"""The result of a check: :class:`CheckReport` (text with ``str()``, a small table with
``_repr_html_`` in Jupyter, and a PNG of ||dhnext_t|| student vs engine)."""
from __future__ import annotations

import base64
import html
import io
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

RTOL = 1e-8
_WEIGHTS = {"dWxh", "dWhh", "dWhy", "dbh", "dby", "dWax", "dWaa", "dWya", "db", "dWx", "dWh"}

#: Bug-gallery name -> what the mistake is and how to fix it.  (Kept here, not read from the
#: engine's gallery, so the checker works whatever the engine knows.)
HINTS = {
    "forget-dhnext": "dh must add the gradient coming back from the future: "
                     "dh = Why^T dy + dhnext. Without dhnext every step only learns from its own "
                     "output (no backpropagation *through time*).",
    "no-tanh-derivative": "the gradient must go through tanh's derivative: "
                          "dhraw = (1 - h_t**2) * dh, not dh itself.",
    "h-instead-of-hprev": "dWhh multiplies dhraw_t by the state the step STARTED from: "
                          "dWhh += dhraw · h_{t-1}^T (hs[t-1]), not h_t (hs[t]).",
    "dy-without-minus-one": "the softmax/cross-entropy gradient is dy = p_t with 1 subtracted at "
                            "the target: dy[targets[t]] -= 1.",
    "dhnext-from-dh": "what flows back to h_{t-1} is Whh^T dhraw (after the tanh derivative), "
                      "not Whh^T dh.",
    "no-carry-state": "the forward pass must start from hprev (the state carried from the "
                      "previous window), not from zeros: hs[-1] = np.copy(hprev).",
    "lstm-drop-dc": "the LSTM's cell-state gradient dnext_c from step t+1 must be added to the "
                    "gradient at c_t: dc = dnext_c + dnext_h * o * (1 - tanh(c)^2).",
    "in-place-clip": "the gradients are clipped in place while they are still being summed "
                     "(the clip loop indented into the backward loop, or the raw gradient "
                     "overwritten), so the raw gradient and its norm are never seen: clip once, "
                     "after the backward loop, into a copy if you need the raw norm.",
}
#: Quantity -> what a difference there usually means when no known bug reproduces it.
QUANTITY_HINTS = {
    "h": "the forward step differs: h_t = tanh(Wxh x_t + Whh h_{t-1} + bh), starting from hprev.",
    "c": "the LSTM cell update differs: c_t = f * c_{t-1} + i * g (gates in the order i, f, o, g).",
    "p": "the softmax differs: p_t = exp(y_t) / sum(exp(y_t)) with y_t = Why h_t + by.",
    "loss": "the loss is the SUM over t of -log p_t[target_t].",
    "h_last": "lossFun must return the last hidden state hs[len(inputs)-1].",
    "dy": "dy_t = p_t - onehot(target_t).",
    "dh": "dh_t = Why^T dy_t + dhnext (the gradient from step t+1).",
    "dhraw": "dhraw_t = (1 - h_t**2) * dh_t.",
    "dx": "dx = dhraw · Wx^T.",
    "dhnext": "what goes back to h_{t-1} is Whh^T dhraw_t.",
    "dcnext": "what goes back to c_{t-1} is dc_t * f_t.",
    "dWxh": "dWxh sums dhraw_t · x_t^T over t.", "dWhh": "dWhh sums dhraw_t · h_{t-1}^T over t.",
    "dWhy": "dWhy sums dy_t · h_t^T over t.", "dbh": "dbh sums dhraw_t over t.",
    "dby": "dby sums dy_t over t.",
    "clipped": "min-char-rnn clips each gradient to [-5, 5] once, after the backward loop.",
}


@dataclass
class Row:
    """One compared quantity.  ``t``: its timestep (for a weight gradient, the first step of
    the backward loop at which its running sum differs; None if it never does or was not
    captured).  max_abs, max_rel: largest absolute difference and that over the engine's
    largest magnitude."""

    section: str
    quantity: str
    t: Optional[int]
    name: str
    match: bool
    max_abs: float
    max_rel: float
    engine: str = ""
    student: str = ""

    @property
    def where(self) -> str:
        sec = f"[{self.section}] " if self.section else ""
        return sec + self.quantity + (f" at t={self.t}" if self.t is not None else "")


@dataclass
class CheckReport:
    """What :func:`bpttviz.check` found.

    usable: False when the code could not be checked (``problem`` says why in one line).
    matches: everything compared agrees to 1e-8 relative.  first: the first differing row in
    timeline order.  rows: every comparison.  bug / bug_evidence: the bug-gallery name that
    explains the difference ("engine": the engine run with that bug reproduces all the
    student's numbers; "pattern": the first difference has that bug's exact form) and hint.
    output: what the student's code printed.  capture_worked: per-step values were compared.
    """

    file: str
    style: str
    usable: bool = True
    problem: str = ""
    matches: bool = False
    first: Optional[Row] = None
    rows: List[Row] = field(default_factory=list)
    output: str = ""
    output_dropped: int = 0
    capture_worked: bool = False
    capture_notes: List[str] = field(default_factory=list)
    bug: Optional[str] = None
    bug_evidence: str = ""
    hint: str = ""
    settings: Dict[str, object] = field(default_factory=dict)
    skipped_lines: List[int] = field(default_factory=list)
    dhnext_engine: Optional[np.ndarray] = None  # (T,) ||dhnext_t|| of the engine
    dhnext_student: Optional[np.ndarray] = None  # (T,) the student's (NaN where not captured)
    #: (T, H) dhnext_t of the engine and of the student (NaN rows where not captured), first
    #: sequence: for a side-by-side view.
    dhnext_engine_steps: Optional[np.ndarray] = None
    dhnext_student_steps: Optional[np.ndarray] = None
    #: The engine's Trace of the checked window (first sequence), e.g. to step it in the
    #: window: ``bpttviz.notebook.session_for_trace(report.engine_trace)``.
    engine_trace: object = field(default=None, repr=False)

    def rows_at(self, t: int) -> List[Row]:
        """The per-step rows of timestep ``t`` (forward and backward), in timeline order."""
        return [r for r in self.rows if r.t == t and r.quantity not in _WEIGHTS]

    def row(self, quantity: str, t: Optional[int] = None, section: str = "") -> Optional[Row]:
        """The row of ``quantity`` (at ``t`` for a per-step one), or None if not compared."""
        for r in self.rows:
            if r.quantity == quantity and r.section == section and (
                    r.t == t or quantity in _WEIGHTS or quantity.startswith("clipped")):
                return r
        return None

    @property
    def exit_code(self) -> int:
        return 2 if not self.usable else (0 if self.matches else 1)

    # --- text ---------------------------------------------------------------------------
    def headline(self) -> str:
        if not self.usable:
            return self.problem
        if self.matches:
            return (f"{self.file}: your BPTT matches bpttviz's engine ({len(self.rows)} "
                    f"quantities agree to {RTOL:g} relative)")
        f = self.first
        return (f"{self.file}: first difference: {f.where} ({f.name}): max abs diff "
                f"{f.max_abs:.3g}, rel {f.max_rel:.3g}")

    def __str__(self) -> str:
        from .styles import STYLE_TITLES
        lines = [self.headline()]
        if not self.usable:
            lines += self._output_lines()
            return "\n".join(lines)
        s = self.settings
        lines.append(f"style: {STYLE_TITLES.get(self.style, self.style)}; T={s.get('T')}, "
                     f"hidden={s.get('hidden')}, vocab={s.get('vocab')}, seed={s.get('seed')}"
                     + (f", batch={s['batch']}" if s.get("batch", 1) > 1 else ""))
        lines.append("per-step capture: " + ("yes" if self.capture_worked else
                                             "no -- only returned values were compared"))
        lines += [f"  note: {n}" for n in self.capture_notes]
        if not self.matches and self.first is not None:
            f = self.first
            lines += ["", f"first difference: {f.where}  (your {f.name})",
                      f"  engine : {f.engine}", f"  yours  : {f.student}"]
            if f.quantity in _WEIGHTS and f.t is not None:
                lines.append(f"  (its running sum first differs after backward step t={f.t}; "
                             "every per-step quantity before it matches)")
            if self.bug:
                how = ("the engine run with this bug reproduces every number of yours"
                       if self.bug_evidence == "engine" else "your numbers have this bug's exact form")
                lines.append(f"  this is the bug-gallery mistake \"{self.bug}\" ({how}):")
            else:
                lines.append("  what this usually means:")
            lines.append(f"    {self.hint}")
        lines += ["", f"{'quantity':30s} {'yours':22s} {'rows':>5s} {'max rel':>9s}  result"]
        for g in self.groups():
            lines.append(f"{g['where'][:30]:30s} {g['name'][:22]:22s} {g['count']:5d} "
                         f"{g['max_rel']:9.2e}  {g['result']}")
        lines += self._output_lines()
        return "\n".join(lines)

    def groups(self) -> List[dict]:
        """The rows summarised per quantity (one entry per section and quantity, in timeline
        order): how many were compared, the largest relative difference, and the result."""
        out: Dict[tuple, dict] = {}
        for r in self.rows:
            g = out.setdefault((r.section, r.quantity), {
                "where": (f"[{r.section}] " if r.section else "") + r.quantity,
                "name": re.sub(r"\[-?\d+\]$", "", r.name), "count": 0, "max_rel": 0.0, "bad": []})
            g["count"] += 1
            g["max_rel"] = max(g["max_rel"], r.max_rel)
            if not r.match:
                g["bad"].append(r.t)
        for g in out.values():
            bad = g.pop("bad")
            if not bad:
                g["result"] = "ok"
            elif bad[0] is None:
                g["result"] = "DIFFERS"
            else:
                g["result"] = f"DIFFERS at t={bad[0]}" + (f" (+{len(bad) - 1} more)" if len(bad) > 1 else "")
        return list(out.values())

    def _output_lines(self) -> List[str]:
        if not self.output:
            return []
        text = self.output if len(self.output) <= 2000 else self.output[:2000] + "\n..."
        more = f" ({self.output_dropped} more characters not kept)" if self.output_dropped else ""
        return ["", f"your code printed{more}:"] + ["  " + ln for ln in text.splitlines()]

    # --- Jupyter -------------------------------------------------------------------------
    def _repr_html_(self) -> str:
        esc = html.escape
        color = "#1a7f37" if self.matches else "#cf222e"
        parts = [f"<div><p style='color:{color};font-weight:bold'>{esc(self.headline())}</p>"]
        if self.usable and not self.matches and self.first is not None:
            f = self.first
            parts.append(f"<p>engine: <code>{esc(f.engine)}</code><br>yours: "
                         f"<code>{esc(f.student)}</code><br>"
                         + (f"bug-gallery match: <b>{esc(self.bug)}</b> " if self.bug else "")
                         + f"{esc(self.hint)}</p>")
        if self.usable:
            if not self.capture_worked:
                parts.append("<p><i>per-step capture did not work: only returned values were "
                             "compared</i></p>")
            png = self.dhnext_png()
            if png:
                parts.append("<img src='data:image/png;base64,"
                             + base64.b64encode(png).decode() + "'/>")
            parts.append("<table><tr><th>quantity</th><th>yours</th><th>rows</th>"
                         "<th>max rel</th><th>result</th></tr>")
            for g in self.groups():
                style = "" if g["result"] == "ok" else " style='background:#ffebe9'"
                parts.append(f"<tr{style}><td>{esc(g['where'])}</td><td><code>{esc(g['name'])}"
                             f"</code></td><td>{g['count']}</td><td>{g['max_rel']:.2e}</td>"
                             f"<td>{esc(g['result'])}</td></tr>")
            parts.append("</table>")
        if self.output:
            parts.append(f"<pre>{esc(self.output[:2000])}</pre>")
        return "".join(parts) + "</div>"

    def dhnext_png(self, width: int = 360, height: int = 160) -> Optional[bytes]:
        """A small PNG (Pillow, no Qt): ||dhnext_t|| of the engine (blue line) and the student
        (orange dots) against t.  None without data or Pillow."""
        if self.dhnext_engine is None or self.dhnext_student is None:
            return None
        try:
            from PIL import Image, ImageDraw
        except ImportError:
            return None
        e, s = np.asarray(self.dhnext_engine, float), np.asarray(self.dhnext_student, float)
        T = e.size
        vals = np.concatenate([e, s[np.isfinite(s)]])
        top = float(vals.max()) if vals.size and np.isfinite(vals).all() and vals.max() > 0 else 1.0
        img = Image.new("RGB", (width, height), "white")
        d = ImageDraw.Draw(img)
        m = 24

        def xy(t, v):
            x = m + (width - 2 * m) * (t / max(1, T - 1))
            return x, height - m - (height - 2 * m) * min(v, top) / top
        d.line([(m, height - m), (width - m, height - m)], fill="gray")
        d.line([(m, m), (m, height - m)], fill="gray")
        d.text((m + 2, 2), "||dhnext_t||: engine (line), yours (dots)", fill="black")
        d.text((m, height - m + 4), "t=0", fill="black")
        d.text((width - m - 30, height - m + 4), f"t={T - 1}", fill="black")
        d.line([xy(t, e[t]) for t in range(T)], fill=(31, 119, 180), width=2)
        for t in range(T):
            if np.isfinite(s[t]):
                x, y = xy(t, s[t])
                d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(255, 127, 14))
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()


def excerpt(a: np.ndarray, n: int = 5) -> str:
    """The first ``n`` numbers of an array, for side-by-side display."""
    flat = np.asarray(a, dtype=float).reshape(-1)
    body = ", ".join(f"{v:.6g}" for v in flat[:n])
    return f"[{body}{', ...' if flat.size > n else ''}] (shape {np.shape(a)})"
