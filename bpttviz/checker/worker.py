"""The separate process a student's code runs in: ``python -m bpttviz.checker.worker JOBDIR``.

JOBDIR holds ``job.json`` (style, source, file name, limits) and ``job.npz`` (the weights and
inputs, written by the checker).  The worker limits its own memory (RLIMIT_AS) and CPU time,
arms a wall-time alarm, runs the safe part of the student's file (imports, definitions and
constants), calls the style's functions under the tracer and writes ``result.json`` (status,
message, printed output, the structure of what came back) and ``result.npz`` (every array in
it).  Nothing from the student crosses the process boundary as a pickle: plain JSON and npz
arrays only, read back with ``allow_pickle=False``.
"""
from __future__ import annotations

import io
import json
import os
import signal
import sys
import traceback

MAX_OUTPUT = 20_000  # characters of the student's printed output kept


class TimeLimitExceeded(BaseException):
    """Raised by the alarm; a BaseException so ``except Exception`` in student code lets it by."""


class _CappedText(io.TextIOBase):
    """A stdout/stderr stand-in keeping the first MAX_OUTPUT characters (a print loop cannot
    fill the memory or the pipe)."""

    def __init__(self, shared):
        self.shared = shared

    def writable(self):
        return True

    def write(self, s):
        s = str(s)
        room = MAX_OUTPUT - len(self.shared["text"])
        if room > 0:
            self.shared["text"] += s[:room]
        self.shared["dropped"] += max(0, len(s) - max(room, 0))
        return len(s)


def _limit(memory_mb: float, timeout: float) -> None:
    try:
        import resource
        if memory_mb:
            b = int(memory_mb * 1024 * 1024)
            resource.setrlimit(resource.RLIMIT_AS, (b, b))
        cpu = int(timeout) + 5
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        # Output written straight to the file descriptors (not through print) is bounded too.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))
    except (ImportError, ValueError, OSError, AttributeError):
        pass  # not on this platform: the parent's wall-time kill still applies


def _on_alarm(signum, frame):
    raise TimeLimitExceeded()


def pack(obj, arrays: list, depth: int = 0):
    """A JSON-able description of ``obj``; arrays go into ``arrays`` (referenced by index)."""
    import numpy as np
    if depth > 6:
        return {"__o__": type(obj).__name__}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float, np.integer, np.floating)):
        return obj.item() if isinstance(obj, np.generic) else obj  # json keeps nan/inf
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "fiub":
            return {"__o__": f"ndarray of {obj.dtype}"}
        arrays.append(np.ascontiguousarray(obj))
        return {"__a__": len(arrays) - 1}
    if isinstance(obj, dict):
        return {"__d__": [[k if isinstance(k, (str, int)) and not isinstance(k, bool) else str(k),
                           pack(v, arrays, depth + 1)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__l__": [pack(v, arrays, depth + 1) for v in obj]}
    return {"__o__": type(obj).__name__}


def _student_line(tb, filename: str, source: str):
    """(line number, text) of the deepest traceback frame in the student's file."""
    found = None
    for fs in traceback.extract_tb(tb):
        if fs.filename == filename:
            found = fs.lineno
    if found is None:
        return None, ""
    lines = source.splitlines()
    text = lines[found - 1].strip() if 0 < found <= len(lines) else ""
    return found, text


def run(jobdir: str) -> dict:
    with open(os.path.join(jobdir, "job.json"), encoding="utf-8") as f:
        job = json.load(f)
    _limit(job.get("memory_mb", 1024), job.get("timeout", 10))
    import numpy as np
    from . import capture, styles
    with np.load(os.path.join(jobdir, "job.npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    filename, source = job["filename"], job["source"]
    out = {"text": "", "dropped": 0}
    result = {"status": "ok", "message": "", "capture": None, "skipped": []}
    tracer = None
    values = None
    old_out, old_err = sys.stdout, sys.stderr
    if job.get("student_dir"):
        sys.path.insert(0, job["student_dir"])
    if job["style"] == "dinos" and not os.path.exists(
            os.path.join(job.get("student_dir") or "", "utils.py")):
        sys.modules["utils"] = styles.dinos_utils_module()
    alarm = hasattr(signal, "setitimer")  # not on Windows: the parent's kill still applies
    if alarm:
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, float(job.get("timeout", 10)))
    try:
        info = styles.parse_source(source, filename)
        result["skipped"] = info.skipped
        ns = {"__name__": "student_code", "__file__": filename, "__builtins__": __builtins__}
        sys.stdout = sys.stderr = _CappedText(out)
        exec(styles.runnable_code(info), ns)
        tracer = capture.Tracer(filename, info.tree) if job.get("capture", True) else None
        driver = styles.DRIVERS[job["style"]]
        if tracer is not None:
            with tracer:
                values = driver(ns, arrays, tracer)
        else:
            values = driver(ns, arrays, capture.Tracer(filename, info.tree))
    except TimeLimitExceeded:
        result.update(status="timeout", message="")
    except MemoryError:
        result.update(status="memory", message="")
    except styles.DriverError as e:
        result.update(status="bad_return", message=str(e))
    except BaseException as e:  # noqa: BLE001 -- whatever the student's code raises
        line, text = _student_line(e.__traceback__, filename, source)
        result.update(status="raised", exc_type=type(e).__name__,
                      exc_message=" ".join(str(e).split())[:300], line=line, line_text=text)
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
        sys.settrace(None)
        sys.stdout, sys.stderr = old_out, old_err
    result["output"] = out["text"]
    result["output_dropped"] = out["dropped"]
    packed = []
    if values is not None:
        result["values"] = pack(values, packed)
        if tracer is not None:
            result["capture"] = {"failed": tracer.failed,
                                 "records": pack(tracer.records, packed)}
    np.savez(os.path.join(jobdir, "result.npz"), **{f"a{i}": a for i, a in enumerate(packed)})
    with open(os.path.join(jobdir, "result.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)
    return result


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        run(argv[0])
    except MemoryError:
        with open(os.path.join(argv[0], "result.json"), "w", encoding="utf-8") as f:
            json.dump({"status": "memory", "message": "", "output": ""}, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
