"""``python -m bpttviz``: the command line."""
from bpttviz.cli import main

raise SystemExit(main())
