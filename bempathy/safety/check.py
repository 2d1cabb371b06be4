"""``python -m bempathy.safety --check FILE.jsonl [--rules-only] [--json]``: recall and false alarms per level on a
labelled set; ``--cv``: the combined screen cross-validated on the classifier's own training data."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from bempathy.safety import learned
from bempathy.safety.detect import assess, assess_rules, combine
from bempathy.safety.labelled import load_labelled
from bempathy.safety.levels import LEVELS

# -- evaluation CLI ------------------------------------------------------------------------------------------


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _rates(rows: list[tuple[dict[str, Any], str]]) -> dict[str, Any]:
    """Crisis recall, and crisis false alarms among ordinary lines (``none``; ``crisis: false`` in the older
    format); with levels also recall and false alarms at concern-or-above."""
    crisis = [level == "crisis" for r, level in rows if r["crisis"]]
    ordinary = [level == "crisis" for r, level in rows if r.get("level", "none" if not r["crisis"] else "") == "none"]
    risky = [level != "none" for r, level in rows if r.get("level") in ("crisis", "concern")]
    calm = [level != "none" for r, level in rows if r.get("level") == "none"]
    return {
        "recall": _share(crisis),
        "false_alarm_rate": _share(ordinary),
        "n_crisis": len(crisis),
        "n_ordinary": len(ordinary),
        "recall_concern_or_above": _share(risky),
        "false_alarm_rate_concern_or_above": _share(calm),
        "n_risky": len(risky),
        "n_none": len(calm),
    }


def evaluate(records: list[dict[str, Any]], *, rules_only: bool = False) -> dict[str, Any]:
    """Recall and false alarms overall, per input kind and per category, a confusion table (labelled x assessed),
    the misses and false alarms, and timing."""
    rows, times = [], []
    if not rules_only:
        learned.shared()  # built or loaded once, outside the timing
    for record in records:
        began = time.perf_counter()
        result = assess(record["text"], rules_only=rules_only)
        times.append((time.perf_counter() - began) * 1000)
        kind = record.get("lang") or record.get("kind") or result.language
        rows.append(({**record, "lang": kind}, result.level))
    return summarise(rows, times)


def summarise(rows: list[tuple[dict[str, Any], str]], times: list[float] = ()) -> dict[str, Any]:
    """The figures of :func:`evaluate` from (record, assessed level) pairs."""
    times = sorted(times)
    by_lang: dict[str, list] = {}
    for row in rows:
        by_lang.setdefault(row[0]["lang"], []).append(row)
    confusion: dict[str, dict[str, int]] = {}
    for record, level in rows:
        label = record.get("level") or ("crisis" if record["crisis"] else "not_crisis")
        confusion.setdefault(label, dict.fromkeys(LEVELS, 0))[level] += 1
    by_category: dict[str, list] = {}
    for row in rows:
        by_category.setdefault(f"{row[0].get('level', '?')}/{row[0].get('category') or '-'}", []).append(row)
    return {
        **_rates(rows),
        "by_lang": {lang: _rates(group) for lang, group in sorted(by_lang.items())},
        "by_category": {
            name: {"n": len(group), "found": sum(_found(record, level) for record, level in group)}
            for name, group in sorted(by_category.items())
        },
        "confusion": confusion,
        "misses": [
            {"text": r["text"], "label": r.get("level", "crisis"), "assessed": level, "category": r.get("category")}
            for r, level in rows
            if (r["crisis"] and level != "crisis") or (r.get("level") == "concern" and level == "none")
        ],
        "false_alarms": [
            {"text": r["text"], "label": r.get("level", "none"), "assessed": level, "category": r.get("category")}
            for r, level in rows
            if (not r["crisis"] and level == "crisis") or (r.get("level") == "none" and level != "none")
        ],
        "mean_ms": round(statistics.fmean(times), 4) if times else 0.0,
        "p99_ms": round(times[min(len(times) - 1, int(0.99 * len(times)))], 4) if times else 0.0,
    }


def _found(record: dict[str, Any], level: str) -> bool:
    """Whether a line's level was met: crisis at crisis, concern at concern or above, none at none."""
    label = record.get("level") or ("crisis" if record["crisis"] else "none")
    return level == "none" if label == "none" else level == "crisis" if label == "crisis" else level != "none"


def cross_validate(folds: int = 5) -> dict[str, Any]:
    """The combined screen (rules + classifier) on the classifier's training data, each line scored by a model
    trained on the other folds: the development figure (the blind rounds and the frozen test are reported apart)."""
    texts, _, probabilities = learned.out_of_fold(folds=folds)
    records = load_labelled(learned.TRAIN_FILE)  # the same lines, with their kind and category
    rows = []
    for record, text, p in zip(records, texts, probabilities, strict=True):
        level, risk = learned.decide(p)
        rows.append(({**record, "lang": record.get("kind", "?")}, combine(assess_rules(text), level, risk).level))
    return summarise(rows)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _line(name: str, r: dict[str, Any]) -> str:
    text = (
        f"{name:<12} crisis recall {_fmt(r['recall'])} (n={r['n_crisis']}), crisis false alarms "
        f"{_fmt(r['false_alarm_rate'])} (n={r['n_ordinary']})"
    )
    if r["n_risky"] or r["n_none"]:
        text += (
            f"; concern+ recall {_fmt(r['recall_concern_or_above'])} (n={r['n_risky']}), concern+ false alarms "
            f"{_fmt(r['false_alarm_rate_concern_or_above'])} (n={r['n_none']})"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bempathy.safety",
        description='Measure the crisis screen on a labelled JSONL set: one {"text", "level": '
        'crisis|concern|none, "kind"?} (or older {"text", "crisis": bool, "lang"?}) object per line. Prints crisis '
        "recall and false alarms, and with levels recall and false alarms at concern-or-above, overall and per "
        "input kind; a confusion table; then every miss and false alarm. Exit status 2 on unreadable input.",
    )
    parser.add_argument("--check", metavar="FILE.jsonl", help="labelled messages to assess")
    parser.add_argument("--rules-only", action="store_true", help="leave the learned signal out (the rules alone)")
    parser.add_argument(
        "--cv", action="store_true", help="instead: the combined screen, 5-fold cross-validated on its training data"
    )
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object (last line)")
    args = parser.parse_args(argv)
    if bool(args.check) == args.cv:
        parser.error("give one of --check FILE.jsonl or --cv")
    try:
        records = None if args.cv else load_labelled(args.check)
        report = cross_validate() if args.cv else evaluate(records, rules_only=args.rules_only)
    except FileNotFoundError:
        print(f"python -m bempathy.safety: error: {args.check}: no such file", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, ValueError, learned.ClassifierError) as error:
        print(f"python -m bempathy.safety: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    print(_line("overall", report))
    for lang, r in report["by_lang"].items():
        print(_line(f"  {lang}", r))
    print("labelled \\ assessed   " + "  ".join(f"{level:>7}" for level in LEVELS))
    for label, row in report["confusion"].items():
        print(f"  {label:<18} " + "  ".join(f"{row[level]:>7}" for level in LEVELS))
    print("found per labelled category (level/category: found of n):")
    print("  " + ", ".join(f"{name} {c['found']}/{c['n']}" for name, c in report["by_category"].items()))
    if not args.cv:
        print(f"assess: mean {report['mean_ms']:.3f} ms, p99 {report['p99_ms']:.3f} ms")
    for title, items in (("misses", report["misses"]), ("false alarms", report["false_alarms"])):
        print(f"{title} ({len(items)}):")
        for item in items:
            print(f"  - [{item['label']} -> {item['assessed']}] {item['text']}")
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    return 0
