"""Crisis detection and the response policy: help block first, a caring answer, unsafe model output never shown.

Detection is transparent (no model): the message is folded into matching keys (NFC, joiners and nukta/chandrabindu
dropped, ী/ী and ু/ূ merged, digits Latin, Latin case-folded; a "rom" key and a phonetic "phon" key fold romanised
spellings, :mod:`bempathy.safety_romanised`) and matched against :mod:`bempathy.safety_lexicon`: phrases, and
concept rules combining word classes (death word + wish, means + readiness, farewell + finality, harm verb + body
part, violent act + "me"), each guarded against negation, figures of speech, third person, topics and jokes; about
a millisecond per message on a CPU, offline. Displayed text is never altered.

``python -m bempathy.safety --check FILE.jsonl [--json]`` measures recall and false alarms on a labelled set.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, fields
from itertools import groupby
from pathlib import Path
from typing import Any

import yaml

from bempathy import safety_lexicon as lex
from bempathy.text import bengali_share, language_of, words

CATEGORIES = ("suicidal_intent", "self_harm", "harm_from_others")
DEFAULT_CONFIG = Path(__file__).parents[1] / "configs" / "safety.yaml"


@dataclass(frozen=True)
class Assessment:
    crisis: bool
    category: str | None
    evidence: tuple[str, ...]
    language: str


# -- detection -----------------------------------------------------------------------------------------------


def _keys(text: str) -> tuple[str, dict[str, tuple[str, list[int]]]]:
    nfc = unicodedata.normalize("NFC", text or "")
    base = lex.base_key(nfc)
    return nfc, {name: fold(*base) for name, fold in lex.KEY_FOLDS.items()}


def _span(tokens: list[str]) -> str:
    """Words joined the way keys are (space-padded), so the lexicon's word boundaries hold."""
    return " " + " ".join(tokens) + " "


def _clause_words(text: str, key_name: str) -> list[str]:
    return lex.KEY_FOLDS[key_name](*lex.base_key(text))[0].split()


def _guarded(signal: lex.Signal, nfc: str, key: str, offs: list[int], start: int, end: int, joke: bool) -> bool:
    """True when a guard cancels this hit (negated, figurative, someone else, a topic, an accident, a joke).

    Guards look only within the hit's clause ("I'm not okay, I want to die" is not negated), except a figurative
    cause just before it ("লজ্জায়, মরে যেতে ইচ্ছে করছিল").
    """
    guards, rx = signal.guards, lex.GUARDS[signal.key]
    head = nfc[: offs[start]]
    tail = nfc[_word_end(nfc, offs[end - 1] + 1) :]
    cut = lex.CLAUSE_BREAK.search(tail)
    before = _clause_words(lex.CLAUSE_BREAK.split(head)[-1], signal.key)
    after_words = _clause_words(tail[: cut.start()] if cut else tail, signal.key)
    after = _span(after_words)
    pre = _span(before[-4:])
    near = _span(before[-8:] + after_words[:8])
    if "NEG" in guards and (rx["NEG_BEFORE"].search(pre) or rx["NEG_AFTER"].search(after)):
        return True
    if "FIG" in guards and (
        joke or rx["FIG_BEFORE"].search(_span(key[:start].split()[-3:])) or rx["FIG_AFTER"].search(after)
    ):
        return True
    if "THIRD" in guards and rx["THIRD"].search(_span(before[-6:])):
        return True
    if any(name in guards and rx[name].search(near) for name in ("TOPIC", "ACCIDENT", "TASK", "COURT", "PAST")):
        return True
    # LOL: a joke mark only ("lol", 😂); JOKE: a mark or a hyperbole word (boss, deadline) anywhere in the message
    return ("LOL" in guards and joke) or ("JOKE" in guards and (joke or bool(rx["JOKE"].search(key))))


def _word_end(text: str, end: int) -> int:
    """Extend a span to the end of its word (the key drops nukta and joiners, so spans could stop short)."""
    while end < len(text) and (text[end] in lex.DROP or unicodedata.category(text[end])[0] in "LMN"):
        end += 1
    return end


def _language(text: str) -> str:
    lang = language_of(text)
    if lang != "en":
        return lang
    tokens = [t.casefold() for t in words(text)]
    rom = sum(t in lex.ROM_MARKERS for t in tokens)
    eng = sum(t.replace("'", "") in lex.EN_MARKERS for t in tokens)
    if rom and eng and min(rom, eng) / (rom + eng) >= 0.3:
        return "mixed"
    return "romanised" if rom > eng else "en"


def assess(text: str) -> Assessment:
    """Is this message a crisis (self-harm/suicide intent or danger from others), and why?"""
    nfc, keys = _keys(text)
    joke = bool(lex.JOKE_MARK.search(keys["base"][0]) or lex.JOKE_EMOJI.search(nfc))
    found: dict[str, list[str]] = {}
    for signal in lex.SIGNALS:
        key, offs = keys[signal.key]
        for m in signal.pattern.finditer(key):
            if m.end() <= m.start():
                continue
            lo, hi = max(0, m.start() - signal.window), m.end() + signal.window
            ok = all(p.search(key, lo, hi) for p in (signal.requires, *signal.also) if p is not None)  # any order
            if not ok or (signal.unless is not None and signal.unless.search(key, lo, hi)):
                continue
            if _guarded(signal, nfc, key, offs, m.start(), m.end(), joke):
                continue
            span = nfc[offs[m.start()] : _word_end(nfc, offs[m.end() - 1] + 1)].strip()
            found.setdefault(signal.category, []).append(span)
            break
    category = next((c for c in CATEGORIES if c in found), None)
    evidence = tuple(dict.fromkeys(s for c in CATEGORIES for s in found.get(c, ()) if s))
    return Assessment(category is not None, category, evidence, _language(nfc))


def check_answer(text: str) -> str | None:
    """Why a model answer must not be shown (it encourages harm or gives a method/dose), else None."""
    _, keys = _keys(text)
    key = keys["base"][0]
    for reason, pattern, requires in lex.ANSWER_SIGNALS:
        for m in pattern.finditer(key):
            if requires is not None and not requires.search(key, max(0, m.start() - 80), m.end() + 80):
                continue
            negated = lex.NEG_BEFORE.search(_span(key[: m.start()].split()[-3:])) or lex.NEG_AFTER.search(
                key[m.end() :]
            )
            if negated:
                continue
            return reason
    return None


def _advice(text: str, assessment: Assessment) -> str | None:
    if assessment.category in lex.CRISIS_FIRST:
        return None
    _, keys = _keys(text)
    for kind, pattern in (("medical", lex.MEDICAL), ("legal", lex.LEGAL)):
        if pattern.search(keys["base"][0]) or pattern.search(keys["rom"][0]):
            return kind
    return None


def advice_request(text: str) -> str | None:
    """ "medical" for dose/medication questions, "legal" for legal rulings, else None (crises come first)."""
    return _advice(text, assess(text))


# -- configuration -------------------------------------------------------------------------------------------


class SafetyConfigError(ValueError):
    """A safety config that cannot be used; the message names the file and the key."""


_FALLBACK_KEYS = (*CATEGORIES, "default")


@dataclass
class SafetyConfig:
    """Help block text and numbers, fallbacks per category, advice pointers, answer usability thresholds."""

    help_title: str = lex.DEFAULT_HELP_TITLE
    help_numbers: list[dict[str, str]] = field(default_factory=lambda: [dict(n) for n in lex.DEFAULT_HELP_NUMBERS])
    help_lines: list[str] = field(default_factory=lambda: list(lex.DEFAULT_HELP_LINES))
    help_english: str = lex.DEFAULT_HELP_ENGLISH
    fallbacks: dict[str, str] = field(default_factory=lambda: dict(lex.DEFAULT_FALLBACKS))
    advice_pointers: dict[str, str] = field(default_factory=lambda: dict(lex.DEFAULT_ADVICE_POINTERS))
    min_answer_letters: int = 30
    min_bengali_share: float = 0.5

    @classmethod
    def load(cls, path: str | Path | None = None) -> SafetyConfig:
        """Read a YAML config; None -> configs/safety.yaml, or the built-in defaults when that file is absent."""
        if path is None and not DEFAULT_CONFIG.exists():
            return cls()
        path = Path(path) if path is not None else DEFAULT_CONFIG
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise SafetyConfigError(f"{path}: cannot read: {error.strerror or error}") from error
        except yaml.YAMLError as error:
            raise SafetyConfigError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from error
        if raw is None:
            return cls()
        if not isinstance(raw, dict):
            raise SafetyConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
        return cls(**{k: _checked(path, k, v) for k, v in raw.items()})


def _checked(path: Path, key: Any, value: Any) -> Any:
    """Validate one top-level key; mappings are merged over the defaults so a config may override one text."""
    where = f"{path}: key {key!r}"
    names = {f.name for f in fields(SafetyConfig)}
    if key not in names:
        raise SafetyConfigError(f"{where}: unknown key (known: {', '.join(sorted(names))})")
    if key in ("help_title", "help_english"):
        if not isinstance(value, str) or not value.strip():
            raise SafetyConfigError(f"{where}: expected non-empty text, got {type(value).__name__}")
        return value.strip()
    if key == "help_lines":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SafetyConfigError(f"{where}: expected a list of text lines")
        return [v.strip() for v in value if v.strip()]
    if key == "help_numbers":
        ok = (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and set(v) == {"label", "number"} for v in value)
        )
        if not ok or not all(isinstance(v["label"], str) and isinstance(v["number"], str | int) for v in value):
            raise SafetyConfigError(f"{where}: expected a non-empty list of {{label: text, number: text}}")
        return [{"label": v["label"].strip(), "number": str(v["number"]).strip()} for v in value]
    if key in ("fallbacks", "advice_pointers"):
        allowed = _FALLBACK_KEYS if key == "fallbacks" else ("medical", "legal")
        defaults = getattr(SafetyConfig(), key)
        if not isinstance(value, dict):
            raise SafetyConfigError(f"{where}: expected a mapping of {', '.join(allowed)}")
        for sub, text in value.items():
            if sub not in allowed:
                raise SafetyConfigError(f"{where}.{sub}: unknown key (known: {', '.join(allowed)})")
            if not isinstance(text, str) or not text.strip():
                raise SafetyConfigError(f"{where}.{sub}: expected non-empty text, got {type(text).__name__}")
        return {**defaults, **{k: v.strip() for k, v in value.items()}}
    if key == "min_answer_letters":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SafetyConfigError(f"{where}: expected a non-negative integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SafetyConfigError(f"{where}: expected a number between 0 and 1, got {value!r}")
    return float(value)


# -- policy --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screen:
    user_text: str
    assessment: Assessment
    advice: str | None


@dataclass(frozen=True)
class Reply:
    text: str
    replaced: bool
    reason: str | None


def unusable(answer: str, config: SafetyConfig) -> str | None:
    """Why a finished answer cannot stand as the caring reply to a crisis (empty, short, not Bengali, looping)."""
    if not answer.strip():
        return "empty"
    letters = sum(1 for ch in answer if unicodedata.category(ch)[0] in "LM")
    if letters < config.min_answer_letters:
        return "too_short"
    if bengali_share(answer) < config.min_bengali_share:
        return "not_bengali"
    tokens = [w.casefold() for w in words(answer)]
    if len(tokens) >= 6:
        top = Counter(tokens).most_common(1)[0][1]
        longest_run = max(len(list(group)) for _, group in groupby(tokens))
        if top / len(tokens) > 0.4 or longest_run >= 4 or len(set(tokens)) / len(tokens) < 0.3:
            return "repetitive"
    return None


class SafetyPolicy:
    """Screens user messages and composes what is shown; keeps message counts (never text), thread-safe."""

    COUNT_KEYS = (
        "messages",
        "crisis",
        *(f"crisis_{c}" for c in CATEGORIES),
        "answers_replaced",
        "unsafe_answers",
        "unusable_answers",
        "advice_pointers",
    )

    def __init__(self, config: SafetyConfig | None = None) -> None:
        self.config = config if config is not None else SafetyConfig.load()
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.COUNT_KEYS, 0)
        c = self.config
        lines = [f"**{c.help_title}**"]
        lines += [f"- {n['label']}: **{n['number']}**" for n in c.help_numbers]
        lines += [f"- {line}" for line in c.help_lines]
        self._help = "\n".join(lines) + "\n\n" + c.help_english

    def help_block(self) -> str:
        return self._help

    def screen(self, user_text: str) -> Screen:
        assessment = assess(user_text)
        return Screen(user_text, assessment, _advice(user_text, assessment))

    def compose(self, screen: Screen, answer: str, *, final: bool, demo_model: bool = False) -> Reply:
        """The text to show for this (partial or final) answer; unsafe text is never returned."""
        answer = answer or ""
        crisis = screen.assessment.crisis
        unsafe = check_answer(answer) if answer.strip() else None
        reason = unsafe
        if reason is None and crisis and demo_model:
            reason = "demo_model"
        if reason is None and crisis and final:
            reason = unusable(answer, self.config)
        replaced = reason is not None
        fallbacks = self.config.fallbacks
        body = fallbacks.get(screen.assessment.category or "default", fallbacks["default"]) if replaced else answer
        parts = [self._help, body.strip()] if crisis else [body]
        if screen.advice:
            parts.append(self.config.advice_pointers[screen.advice])
        text = "\n\n".join(p for p in parts if p) if crisis or replaced or screen.advice else answer
        if final:
            with self._lock:
                n = self._counts
                n["messages"] += 1
                if crisis:
                    n["crisis"] += 1
                    n[f"crisis_{screen.assessment.category}"] += 1
                n["answers_replaced"] += replaced
                n["unsafe_answers"] += unsafe is not None
                n["unusable_answers"] += replaced and unsafe is None and reason != "demo_model"
                n["advice_pointers"] += screen.advice is not None
        return Reply(text, replaced, reason)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


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
        print(f"bempathy.safety: error: {args.check}: no such file", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError, ValueError) as error:
        print(f"bempathy.safety: error: {' '.join(str(error).split())}", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
