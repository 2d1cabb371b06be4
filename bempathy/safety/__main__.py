"""``python -m bempathy.safety --check FILE.jsonl [--json]``."""

import sys

from bempathy.safety.lexicon_yaml import LexiconError

try:
    from bempathy.safety.check import main
except LexiconError as error:  # a mistake in configs/safety_lexicon/ is one line, not a traceback
    print(f"python -m bempathy.safety: error: {error}", file=sys.stderr)
    raise SystemExit(2) from None

raise SystemExit(main())
