"""``python -m bempathy.safety --check FILE.jsonl [--json]``."""

from bempathy.safety.check import main

raise SystemExit(main())
