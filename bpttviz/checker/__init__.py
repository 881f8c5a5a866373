"""Check a student's own BPTT code against bpttviz's engine, step by step.

``check(lossFun)`` (or a file path, a module, or the dinosaur/cs231n function pairs as keyword
arguments) runs the student's code in a separate process with a time and a memory limit,
captures its per-timestep values, runs the engine on the same weights and inputs and returns a
:class:`~bpttviz.checker.report.CheckReport` naming the first place the two differ.

Modules: :mod:`.api` (``check``), :mod:`.styles` (the three code styles: detection and
calling conventions), :mod:`.sandbox` (the separate process), :mod:`.worker` (what runs in it),
:mod:`.capture` (per-timestep locals by tracing), :mod:`.problem` (the weights and inputs, the
engine's traces), :mod:`.observe` (the student's values as observations), :mod:`.compare`
(the first difference and which bug it is), :mod:`.report` (the report).  Nothing here imports
Qt.

This package imports nothing at import time: the worker process imports it too and must stay
light.
"""

__all__ = ["check", "CheckReport"]


def __getattr__(name):
    if name == "check":
        from .api import check
        return check
    if name == "CheckReport":
        from .report import CheckReport
        return CheckReport
    raise AttributeError(f"module 'bpttviz.checker' has no attribute {name!r}")
