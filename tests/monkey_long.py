"""The long GUI monkey (issue 16): run it before every release.

    python tests/monkey_long.py --actions 10000            # seed 12345
    python tests/monkey_long.py --actions 10000 --seed 4242

It runs ``tests/test_monkey.py::test_monkey`` (the same actions and invariants as the short seed
in the test suite: theme and presentation changes, live training with edits, preset switches
and undo/redo refused during it, docks closed and floated during play, save/open, resizes up
to 3840x2160, garbage collection on) with more actions, offscreen, and exits 0 only if every
action kept the invariants with no exception.  A failure prints the seed and the last actions.
Not collected by pytest (its name does not start with ``test_``); expect ~15-60 minutes for
10,000 actions on a laptop.
"""
from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--actions", type=int, default=10_000, help="number of actions (default 10000)")
    p.add_argument("--seed", type=int, default=12345, help="random seed (default 12345)")
    args = p.parse_args(argv)
    if args.actions < 1:
        p.error("--actions must be at least 1")
    here = os.path.dirname(os.path.abspath(__file__))
    os.environ["BPTTVIZ_MONKEY_ACTIONS"] = str(args.actions)
    os.environ["BPTTVIZ_MONKEY_SEED"] = str(args.seed)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    root = os.path.dirname(here)
    os.environ["PYTHONPATH"] = root + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, root)
    import pytest
    return int(pytest.main(["-q", "-x", "-s", "-n", "0", "-p", "no:cacheprovider", "--rootdir", root,
                            os.path.join(here, "test_monkey.py") + "::test_monkey"]))


if __name__ == "__main__":
    sys.exit(main())
