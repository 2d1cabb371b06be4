"""``python -m bempathy.memory``: the command; the estimates are :mod:`bempathy.train.gpu_memory`."""

from bempathy.train.gpu_memory import main

if __name__ == "__main__":
    raise SystemExit(main())
