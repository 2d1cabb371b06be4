"""Crisis detection and the response policy: help block first, a caring answer, unsafe model output never shown.

Detection is transparent (no model): the message is folded into matching keys (NFC, joiners and nukta/chandrabindu
dropped, ী/ী and ু/ূ merged, digits Latin, Latin case-folded; a "rom" key and a phonetic "phon" key fold romanised
spellings, :mod:`bempathy.safety.romanised`) and matched against :mod:`bempathy.safety.lexicon`: phrases, and
concept rules combining word classes (death word + wish, means + readiness, farewell + finality, harm verb + body
part, violent act + "me"), each guarded against negation, figures of speech, third person, topics and jokes; about
a millisecond per message on a CPU, offline. Displayed text is never altered.

``python -m bempathy.safety --check FILE.jsonl [--json]`` measures recall and false alarms on a labelled set.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from bempathy.paths import CONFIGS_DIR
from bempathy.safety import lexicon as lex
from bempathy.text import language_of, words

CATEGORIES = ("suicidal_intent", "self_harm", "harm_from_others")
DEFAULT_CONFIG = CONFIGS_DIR / "safety.yaml"


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
