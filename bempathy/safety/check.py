"""``python -m bempathy.safety --check FILE.jsonl [--json]``: recall and false alarms on a labelled set."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bempathy.safety.detect import assess

# -- evaluation CLI ------------------------------------------------------------------------------------------


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """Read ``{"text", "crisis", "lang"?}`` lines; ValueError names the line that is wrong."""
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
        if not isinstance(record.get("crisis"), bool):
            raise ValueError(f"{path}:{number}: needs a boolean 'crisis'")
        if "lang" in record and not isinstance(record["lang"], str):
            raise ValueError(f"{path}:{number}: 'lang' must be a string")
        records.append(record)
    return records


def _rates(rows: list[tuple[dict[str, Any], bool]]) -> dict[str, Any]:
    crisis = [flag for r, flag in rows if r["crisis"]]
    ordinary = [flag for r, flag in rows if not r["crisis"]]
    return {
        "recall": round(sum(crisis) / len(crisis), 4) if crisis else None,
        "false_alarm_rate": round(sum(ordinary) / len(ordinary), 4) if ordinary else None,
        "n_crisis": len(crisis),
        "n_ordinary": len(ordinary),
    }


def evaluate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Recall and false-alarm rate overall and per language, the misses and false alarms, and timing."""
    rows, times = [], []
    for record in records:
        began = time.perf_counter()
        result = assess(record["text"])
        times.append((time.perf_counter() - began) * 1000)
        rows.append(({**record, "lang": record.get("lang") or result.language}, result.crisis))
    by_lang: dict[str, list] = {}
    for row in rows:
        by_lang.setdefault(row[0]["lang"], []).append(row)
    times.sort()
    return {
        **_rates(rows),
        "by_lang": {lang: _rates(group) for lang, group in sorted(by_lang.items())},
        "misses": [r["text"] for r, flag in rows if r["crisis"] and not flag],
        "false_alarms": [r["text"] for r, flag in rows if not r["crisis"] and flag],
        "mean_ms": round(statistics.fmean(times), 4) if times else 0.0,
        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 4) if times else 0.0,
    }


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bempathy.safety",
        description='Measure the crisis detector on a labelled JSONL set: one {"text", "crisis": bool, '
        '"lang"?} object per line. Prints recall and false-alarm rate overall and per language, then every '
        "miss and false alarm. Exit status 2 on unreadable input.",
    )
    parser.add_argument("--check", required=True, metavar="FILE.jsonl", help="labelled messages to assess")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object (last line)")
    args = parser.parse_args(argv)
    try:
        records = load_labelled(args.check)
    except FileNotFoundError:
        print(f"python -m bempathy.safety: error: {args.check}: no such file", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, ValueError) as error:
        print(f"python -m bempathy.safety: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    report = evaluate(records)
    print(
        f"overall: recall {_fmt(report['recall'])} ({report['n_crisis']} crisis), false alarms "
        f"{_fmt(report['false_alarm_rate'])} ({report['n_ordinary']} ordinary)"
    )
    for lang, r in report["by_lang"].items():
        print(
            f"  {lang:<10} recall {_fmt(r['recall'])} (n={r['n_crisis']})  "
            f"false alarms {_fmt(r['false_alarm_rate'])} (n={r['n_ordinary']})"
        )
    print(f"assess: mean {report['mean_ms']:.3f} ms, p99 {report['p99_ms']:.3f} ms")
    for title, items in (("misses", report["misses"]), ("false alarms", report["false_alarms"])):
        print(f"{title} ({len(items)}):")
        for text in items:
            print(f"  - {text}")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0
