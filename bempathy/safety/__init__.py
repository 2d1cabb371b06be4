"""Crisis detection and the response policy; ``python -m bempathy.safety --check FILE.jsonl``."""
