"""Run a student's code in a separate process with a wall-time and a memory limit.

:func:`run_student` writes a job folder, starts ``python -m bpttviz.checker.worker`` (the same
interpreter and the same bpttviz), waits at most ``timeout`` seconds (plus a little for the
interpreter to start; the worker's own alarm fires at ``timeout``) and kills it after that.
What comes back is plain JSON and npz arrays read with ``allow_pickle=False``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 1024
#: Seconds allowed beyond ``timeout`` for the interpreter and numpy to start.
STARTUP_GRACE = 2.0


@dataclass
class SandboxResult:
    """status: ok, raised, bad_return, timeout, memory, crashed.
    values: what the style's driver returned (arrays as numpy arrays); records: the tracer's
    records (see :class:`~bpttviz.checker.capture.Tracer`); output: what the code printed."""

    status: str
    message: str = ""
    output: str = ""
    output_dropped: int = 0
    values: Optional[dict] = None
    records: list = field(default_factory=list)
    capture_failed: Optional[str] = None
    exc_type: str = ""
    exc_message: str = ""
    line: Optional[int] = None
    line_text: str = ""
    skipped: list = field(default_factory=list)


def unpack(obj, arrays):
    """Inverse of :func:`bpttviz.checker.worker.pack`."""
    if isinstance(obj, dict):
        if "__a__" in obj:
            return arrays[f"a{obj['__a__']}"]
        if "__d__" in obj:
            return {k: unpack(v, arrays) for k, v in obj["__d__"]}
        if "__l__" in obj:
            return [unpack(v, arrays) for v in obj["__l__"]]
        if "__o__" in obj:
            return Unsupported(obj["__o__"])
    return obj


@dataclass(frozen=True)
class Unsupported:
    """Something the student returned that is not numbers/arrays/dicts/lists (its type)."""

    type_name: str


def _package_root() -> str:
    # bpttviz/checker/sandbox.py -> the folder holding the bpttviz package
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_student(style: str, source: str, filename: str, arrays: dict,
                timeout: float = DEFAULT_TIMEOUT, memory_mb: float = DEFAULT_MEMORY_MB,
                capture: bool = True, student_dir: Optional[str] = None) -> SandboxResult:
    """Run the style's driver on the student's source in a child process."""
    jobdir = tempfile.mkdtemp(prefix="bpttviz-check-")
    try:
        with open(os.path.join(jobdir, "job.json"), "w", encoding="utf-8") as f:
            json.dump({"style": style, "source": source, "filename": filename,
                       "timeout": float(timeout), "memory_mb": memory_mb, "capture": capture,
                       "student_dir": student_dir}, f)
        np.savez(os.path.join(jobdir, "job.npz"), **arrays)
        env = dict(os.environ)
        root = _package_root()
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = "1"  # BLAS thread pools reserve memory the limit would count
        with open(os.path.join(jobdir, "stdout"), "wb") as out, \
                open(os.path.join(jobdir, "stderr"), "wb") as err:
            proc = subprocess.Popen([sys.executable, "-m", "bpttviz.checker.worker", jobdir],
                                    cwd=jobdir, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err)
            try:
                proc.wait(timeout=float(timeout) + STARTUP_GRACE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                return SandboxResult(status="timeout", output=_tail(jobdir, "stdout"))
        return _read(jobdir, proc.returncode)
    finally:
        shutil.rmtree(jobdir, ignore_errors=True)


def _tail(jobdir, name, limit=4000) -> str:
    try:
        with open(os.path.join(jobdir, name), "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def _read(jobdir: str, returncode: int) -> SandboxResult:
    try:
        with open(os.path.join(jobdir, "result.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        err = _tail(jobdir, "stderr")
        if "MemoryError" in err:
            return SandboxResult(status="memory")
        if returncode is not None and returncode < 0:
            import signal as _signal
            try:
                name = _signal.Signals(-returncode).name
            except ValueError:
                name = f"signal {-returncode}"
            if name == "SIGXCPU":
                return SandboxResult(status="timeout")
            return SandboxResult(status="crashed", message=f"the process was killed by {name}")
        last = [ln for ln in err.strip().splitlines() if ln.strip()][-1:] or ["no output"]
        return SandboxResult(status="crashed", message=f"the checker's worker failed: {last[0]}")
    arrays = {}
    path = os.path.join(jobdir, "result.npz")
    if os.path.exists(path):
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    res = SandboxResult(status=meta.get("status", "crashed"), message=meta.get("message", ""),
                        output=meta.get("output", ""), output_dropped=meta.get("output_dropped", 0),
                        exc_type=meta.get("exc_type", ""), exc_message=meta.get("exc_message", ""),
                        line=meta.get("line"), line_text=meta.get("line_text", ""),
                        skipped=meta.get("skipped", []))
    if "values" in meta:
        res.values = unpack(meta["values"], arrays)
    cap = meta.get("capture")
    if cap is not None:
        res.capture_failed = cap.get("failed")
        res.records = unpack(cap["records"], arrays)
    else:
        res.capture_failed = "per-step capture was off"
    return res
