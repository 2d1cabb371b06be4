"""Crisis detection and the response policy: help block first, a caring answer, unsafe model output never shown.

Detection has two signals. The rules are transparent: the message is folded into matching keys (NFC, joiners
and nukta/chandrabindu dropped, ী/ী and ু/ূ merged, digits Latin, Latin case-folded; a "rom" key and a phonetic
"phon" key fold romanised spellings, :mod:`bempathy.safety.romanised`) and matched against
:mod:`bempathy.safety.lexicon`: phrases, and concept rules combining word classes (death word + wish, means +
readiness, farewell + finality, harm verb + body part, violent act + "me"), each guarded against negation, figures
of speech, third person, topics and jokes. The learned signal (:mod:`bempathy.safety.learned`) reads the same
folded text and reaches paraphrase the word lists miss; :func:`combine` lets either raise the level. Together
about two milliseconds per message on a CPU, offline. Displayed text is never altered.

``python -m bempathy.safety --check FILE.jsonl [--json]`` measures recall and false alarms on a labelled set.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bempathy.paths import CONFIGS_DIR
from bempathy.safety import learned, levels
from bempathy.safety import lexicon as lex
from bempathy.text import language_of, words

CATEGORIES = ("suicidal_intent", "self_harm", "harm_from_others")
DEFAULT_CONFIG = CONFIGS_DIR / "safety.yaml"


@dataclass(frozen=True)
class Assessment:
    level: levels.Level  # "none", "concern" or "crisis"
    category: str | None  # one of CATEGORIES when level is not "none"
    evidence: tuple[str, ...]
    language: str
    about_other: bool = False  # someone else is at risk: the help is worded for helping another person
    context: str | None = None  # the explicit context that lowered a mention (fiction, news_awareness, idiom)
    learned_risk: float | None = None  # the classifier's P(concern or crisis); None when it was not asked
    raised_by: str = "rules"  # "rules", or "classifier" when the learned signal raised the rules' level

    @property
    def crisis(self) -> bool:
        return self.level == "crisis"

    @property
    def at_least_concern(self) -> bool:
        return self.level != "none"


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


def _guard_of(signal: lex.Signal, nfc: str, key: str, offs: list[int], start: int, end: int, joke: bool) -> str | None:
    """The guard that applies to this hit (NEG, FIG, THIRD, a topic, an accident, a joke ...), else None.

    A guard no longer cancels a hit: :func:`assess` turns it into a level (:data:`levels.GUARD_LEVEL`).

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
        return "NEG"
    if "FIG" in guards and (
        joke or rx["FIG_BEFORE"].search(_span(key[:start].split()[-3:])) or rx["FIG_AFTER"].search(after)
    ):
        return "FIG"
    if "THIRD" in guards and rx["THIRD"].search(_span(before[-6:])):
        return "THIRD"
    for name in ("TOPIC", "ACCIDENT", "TASK", "COURT", "PAST"):
        if name in guards and rx[name].search(near):
            return name
    # LOL: a joke mark only ("lol", 😂); JOKE: a mark or a hyperbole word (boss, deadline) anywhere in the message
    if ("LOL" in guards and joke) or ("JOKE" in guards and (joke or bool(rx["JOKE"].search(key)))):
        return "JOKE"
    return None


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


def _hits(keys: dict[str, tuple[str, list[int]]], nfc: str) -> list[tuple[str, str, str | None]]:
    """(category, evidence span, guard or None) of every signal that matched; one unguarded hit per signal."""
    joke = bool(lex.JOKE_MARK.search(keys["base"][0]) or lex.JOKE_EMOJI.search(nfc))
    hits: list[tuple[str, str, str | None]] = []
    for signal in lex.SIGNALS:
        key, offs = keys[signal.key]
        for m in signal.pattern.finditer(key):
            if m.end() <= m.start():
                continue
            lo, hi = max(0, m.start() - signal.window), m.end() + signal.window
            ok = all(p.search(key, lo, hi) for p in (signal.requires, *signal.also) if p is not None)  # any order
            if not ok or (signal.unless is not None and signal.unless.search(key, lo, hi)):
                continue
            guard = _guard_of(signal, nfc, key, offs, m.start(), m.end(), joke)
            span = nfc[offs[m.start()] : _word_end(nfc, offs[m.end() - 1] + 1)].strip()
            hits.append((signal.category, span, guard))
            if guard is None:
                break
    return hits


def _first(categories: set[str]) -> str | None:
    return next((c for c in CATEGORIES if c in categories), None)


def _guarded_level(guard: str | None, context: str | None, phon: str) -> levels.Level:
    """What a hit under this guard amounts to; only an explicit context lowers a figure or a topic to none."""
    if guard is None:
        return "crisis"
    if guard == "THIRD":  # someone else at risk, unless it is a story or the news
        return "none" if context in ("fiction", "news_awareness") else "crisis"
    if guard == "NEG" and levels.CANNOT_GO_ON.search(phon):
        return "crisis"  # "I don't want to live, I can't go on": a negated wish next to despair
    if guard in levels.GUARD_LEVEL:
        return levels.GUARD_LEVEL[guard]
    return "none" if context else "concern"


def assess(text: str, *, classifier: learned.Classifier | None = None, rules_only: bool = False) -> Assessment:
    """How much risk does this message show (``crisis``, ``concern`` or ``none``), of which kind, and why?

    The rules, then the learned signal (``classifier``, default the shared one), combined by :func:`combine`;
    ``rules_only`` leaves the classifier out (what ``--check --rules-only`` measures)."""
    found = assess_rules(text)
    if rules_only:
        return found
    level, risk = (classifier or learned.shared()).level(text)
    return combine(found, level, risk)


def combine(rules: Assessment, learned_level: levels.Level, risk: float) -> Assessment:
    """Either signal can raise the level; only an explicit context the rules found (fiction, news, an idiom)
    lowers the classifier's level, by one step (its crisis to concern, its concern to none). Recall first: the
    classifier never lowers what the rules found."""
    if rules.context is not None:
        learned_level = levels.LEVELS[max(0, levels.RANK[learned_level] - 1)]
    if levels.RANK[learned_level] <= levels.RANK[rules.level]:
        return replace(rules, learned_risk=risk)
    category = rules.category or "suicidal_intent"
    raised = {"level": learned_level, "category": category, "context": None, "raised_by": "classifier"}
    return replace(rules, **raised, learned_risk=risk)


def assess_rules(text: str) -> Assessment:
    """The rules' level alone (lexicon signals, guards, mentions, contexts, someone else at risk)."""
    nfc, keys = _keys(text)
    phon = keys["phon"][0]
    hits = _hits(keys, nfc)
    context = levels.context_of(phon)
    level: levels.Level = "none"
    category, about_other = None, False
    for hit_category, _, guard in hits:
        found = _guarded_level(guard, context, phon)
        if levels.RANK[found] > levels.RANK[level]:
            level, category, about_other = found, hit_category, guard == "THIRD"
        elif found == level == "crisis" and guard is None:  # a first-person crisis outranks one about another
            category, about_other = _first({category, hit_category} - {None}), False
    mention = levels.mention_of(phon)
    explained = any(guard in levels.GUARD_LEVEL and levels.GUARD_LEVEL[guard] == "none" for _, _, guard in hits)
    if mention and context is None and level == "none" and not explained:
        level, category = "concern", mention
    if level != "crisis" and context is None and mention != "harm_from_others" and levels.about_someone_else(phon):
        level, category, about_other = "crisis", category or "suicidal_intent", True
    if level == "none":
        category = None
    evidence = tuple(dict.fromkeys(span for _, span, guard in hits if span and (guard is None or level != "none")))
    return Assessment(level, category, evidence, _language(nfc), about_other, context if level == "none" else None)


def assess_turns(
    message: str, earlier: Sequence[str] = (), window: int = 3, *, classifier: learned.Classifier | None = None
) -> Assessment:
    """The message in its conversation: the last ``window`` user turns read together (a crisis told over several
    turns counts), and a conversation that reached ``crisis`` keeps it (the help stays visible)."""
    current = assess(message, classifier=classifier)
    if not earlier:
        return current
    joined = " । ".join([*earlier[-(window - 1) :], message])
    together = assess(joined, classifier=classifier) if window > 1 else current
    best = current if levels.RANK[current.level] >= levels.RANK[together.level] else together
    if not best.crisis:
        for turn in earlier:
            past = assess(turn, classifier=classifier)
            if past.crisis:
                return replace(past, language=current.language, evidence=())
    return best


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
