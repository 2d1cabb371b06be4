"""Labelled messages (JSONL): what ``--check`` measures and what the classifier learns from, read one way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bempathy.safety.levels import LEVELS


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Read ``{"text", "level"}`` lines (``crisis``/``concern``/``none``) or, in the older format,
    ``{"text", "crisis": bool}``; ``lang`` or ``kind`` names the input kind. ValueError names the wrong line."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number}: not valid JSON ({error.msg})") from error
        if not isinstance(record, dict) or not isinstance(record.get("text"), str):
            raise ValueError(f"{path}:{number}: needs a string 'text'")
        if "level" in record:
            if record["level"] not in LEVELS:
                raise ValueError(f"{path}:{number}: 'level' must be one of {', '.join(LEVELS)}")
            record["crisis"] = record["level"] == "crisis"
        elif not isinstance(record.get("crisis"), bool):
            raise ValueError(f"{path}:{number}: needs a 'level' ({', '.join(LEVELS)}) or a boolean 'crisis'")
        for key in ("lang", "kind", "category"):
            if key in record and not isinstance(record[key], str):
                raise ValueError(f"{path}:{number}: '{key}' must be a string")
        records.append(record)
    return records
