"""Run bpttviz from a source checkout: ``python main.py``."""

if __name__ == "__main__":
    from bpttviz.cli import main

    raise SystemExit(main())
