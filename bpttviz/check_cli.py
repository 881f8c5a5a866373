"""``bpttviz check FILE.py [--style auto|minchar|dinos|cs231n] [--timeout S] [--seed N] [--T N]
[--hidden N] [--memory MB] [--no-capture]``: is my BPTT correct?

Runs the student's file in a separate process with a time and a memory limit, compares every
per-step quantity with bpttviz's engine and prints the report.  Exit 0 when everything matches
to 1e-8 relative, 1 when something differs, 2 when the file cannot be used (one line on
stderr: ``bpttviz: error: ...``; what the code printed, if anything, goes to stdout first).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

# The checker runs each engine window once: the numpy kernels are the readable reference and
# start instantly (the compiled ones would cost a second or more to load).
os.environ.setdefault("BPTTVIZ_NO_JIT", "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="bpttviz check", description=(
        "Check your own BPTT code against bpttviz's engine: min-char-rnn's lossFun, the dinosaur "
        "assignment's rnn_forward/rnn_backward, or cs231n's rnn/lstm step functions. Reports the "
        "first quantity and timestep where your numbers differ."))
    p.add_argument("file", metavar="FILE.py", help="the Python file with your functions")
    p.add_argument("--style", choices=("auto", "minchar", "dinos", "cs231n"), default="auto",
                   help="which assignment's conventions the file follows (default: detect)")
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds your code may run before it is stopped (default 10)")
    p.add_argument("--memory", type=float, default=1024, metavar="MB",
                   help="memory limit of your code's process in MB (default 1024)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="draws the test weights and "
                   "inputs (default 0)")
    p.add_argument("--T", type=int, default=None, metavar="N", help="timesteps (default 8)")
    p.add_argument("--hidden", type=int, default=None, metavar="N", help="hidden size (default 5)")
    p.add_argument("--no-capture", action="store_true", help="compare returned values only "
                   "(no tracing of your function's locals)")
    return p


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write("bpttviz: error: " + " ".join(str(message).split()) + "\n")
    return code


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as e:
        return _fail(e)
    if not 0 < args.timeout <= 3600:
        return _fail(f"--timeout must be from 0 to 3600 seconds; got {args.timeout:g}")
    if not 64 <= args.memory <= 1_000_000:
        return _fail(f"--memory must be from 64 to 1000000 MB; got {args.memory:g}")
    from .checker.api import check
    try:
        report = check(args.file, style=args.style, seed=args.seed, T=args.T, hidden=args.hidden,
                       timeout=args.timeout, memory_mb=args.memory, capture=not args.no_capture)
    except ValueError as e:
        return _fail(e)
    if not report.usable:
        if report.output:
            sys.stdout.write("your code printed:\n" + report.output.rstrip("\n") + "\n")
            sys.stdout.flush()
        return _fail(report.problem)
    try:
        print(report)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head
        pass
    return report.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
