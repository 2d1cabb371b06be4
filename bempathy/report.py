"""``python -m bempathy.report``: the command; the report itself is :mod:`bempathy.eval.report`."""

from bempathy.eval.report import main

if __name__ == "__main__":
    raise SystemExit(main())
