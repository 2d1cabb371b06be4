"""The crisis lexicon as data: ``configs/safety_lexicon/*.yaml`` read, every reference checked, patterns compiled.

:mod:`bempathy.safety.lexicon` calls :func:`load` once at import and publishes what it returns (``SIGNALS``,
``GUARDS``, ``CONCEPTS`` ...); the folding that turns pattern text into regexes stays Python
(:mod:`bempathy.safety.folding`). The files of the folder:

* ``pieces.yaml``: shared pattern pieces, written ``{NAME}`` in any pattern (``{gN}``: up to N words);
* ``concepts.yaml``: word classes, written ``@NAME`` in concept rules, ``unless`` lists and other concepts;
* ``signals.yaml``: ``phrase_signals`` (on the base and rom keys) and ``concept_signals`` (on the phon key);
* ``guards.yaml``: the clause break, the guard word lists, the joke marks;
* ``answers.yaml``: model answers that are never shown, and the medical and legal advice requests;
* ``markers.yaml``: the romanised and English marker words of the language guess.

Everything is checked while loading: unknown fields, categories, keys, guards, pieces and concepts, a name given
twice, a loop of pieces or concepts, a pattern that does not compile. The first problem is a
:class:`LexiconError` whose one line names the file, the line, the entry and what is wrong::

    configs/safety_lexicon/signals.yaml:49: phrase_signals[5] bn_want_die: guards: unknown guard 'NEGG' (known: ...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import regex

from bempathy.paths import CONFIGS_DIR
from bempathy.safety.folding import rom_source, rx, strict
from bempathy.safety.lexicon_yaml import (
    CONCEPT_REF,
    File,
    LexiconError,
    Map,
    check_concept_refs,
    expand_concepts,
    fill_pieces,
    load_concepts,
    load_pieces,
)
from bempathy.safety.romanised import phon_source

__all__ = ["CATEGORIES", "KEYS", "LEXICON_DIR", "SIGNAL_GUARDS", "Lexicon", "LexiconError", "Signal", "load"]

LEXICON_DIR = CONFIGS_DIR / "safety_lexicon"
CATEGORIES = ("suicidal_intent", "self_harm", "harm_from_others")
KEYS = ("base", "rom", "phon")
# The guards a signal may name (bempathy/safety/detect.py applies them, so the names are fixed there) and the
# word lists of guards.yaml that each one reads.
SIGNAL_GUARDS: dict[str, tuple[str, ...]] = {
    "NEG": ("NEG_BEFORE", "NEG_AFTER"),
    "FIG": ("FIG_BEFORE", "FIG_AFTER"),
    "THIRD": ("THIRD",),
    "TOPIC": ("TOPIC",),
    "ACCIDENT": ("ACCIDENT",),
    "TASK": ("TASK",),
    "COURT": ("COURT",),
    "PAST": ("PAST",),
    "LOL": (),
    "JOKE": ("JOKE",),
}
WORD_LISTS = tuple(dict.fromkeys(name for lists in SIGNAL_GUARDS.values() for name in lists))
_PHRASE_FIELDS = ("name", "category", "key", "source", "guards", "requires", "unless", "window")
_RULE_FIELDS = ("name", "category", "key", "source", "guards", "also", "unless", "window")
_NAME = regex.compile(r"[A-Za-z][A-Za-z0-9_]*")
_rx_long = partial(rx, loose="long")


@dataclass(frozen=True)
class Signal:
    """One crisis cue: a pattern on one key, its category, the guards that can cancel it, optional context."""

    name: str
    category: str
    key: str  # "base" (Bengali + English), "rom" (romanised Bengali) or "phon" (phonetic, for concept rules)
    pattern: regex.Pattern
    guards: frozenset[str]
    requires: regex.Pattern | None = None  # must also match within `window` characters of the hit
    window: int = 80
    also: tuple[regex.Pattern, ...] = ()  # each must match within the window too (concepts in any order)
    unless: regex.Pattern | None = None  # a match within the window cancels the hit (a context word list)


@dataclass(frozen=True)
class Lexicon:
    """Everything the folder holds, checked and compiled."""

    pieces: dict[str, str]
    concepts: dict[str, str]  # name -> pattern text, ``@NAME`` references left in
    phrase_signals: tuple[Signal, ...]
    concept_signals: tuple[Signal, ...]
    guards: dict[str, dict[str, regex.Pattern]]  # key -> word list name -> pattern ("rom" shares "base")
    clause_break: regex.Pattern
    joke_mark: regex.Pattern
    joke_emoji: regex.Pattern
    answer_signals: tuple[tuple[str, regex.Pattern, regex.Pattern | None], ...]
    medical: regex.Pattern
    legal: regex.Pattern
    rom_markers: frozenset[str]
    en_markers: frozenset[str]


def _where(label: str, field: str) -> str:
    return f"{label}: {field}" if label else field


class _Context:
    """One file being read, with the pieces and concepts its patterns may use."""

    def __init__(self, file: File, pieces: dict[str, str], concepts: dict[str, str]) -> None:
        self.file, self.pieces, self.concepts = file, pieces, concepts

    def fail(self, label: str, entry: Map, field: str) -> Callable[[str], LexiconError]:
        """The error maker for one field (``also[2]`` is reported on the line of ``also``)."""
        return self.file.failer(_where(label, field), entry.line_of(field.partition("[")[0]))

    def text(self, label: str, entry: Map, field: str, value: object = None, *, concepts: bool = False) -> str:
        """A pattern field's text, pieces filled in; ``@NAME`` only where ``concepts`` are expanded."""
        fail = self.fail(label, entry, field)
        value = entry[field] if value is None else value
        text = self.file.text(value, _where(label, field), entry.line_of(field.partition("[")[0]))
        text = fill_pieces(text, self.pieces, fail)
        if concepts:
            check_concept_refs(text, self.concepts, fail)
        elif "@" in text:
            ref = CONCEPT_REF.search(text)
            what = f"@{ref.group(1)}" if ref else "'@'"
            raise fail(f"{what}: concepts are expanded only in concept_signals and in unless lists")
        return text

    def compiled(
        self, label: str, entry: Map, field: str, build: Callable[[str], regex.Pattern], text: str, refs: str = ""
    ) -> regex.Pattern:
        """``build(text)``; a pattern that does not compile is an error naming the field (and a concept of
        ``refs``, the text before concepts were expanded, that does not compile on its own)."""
        try:
            return build(text)
        except regex.error as error:
            problem = f"does not compile (as folded): {' '.join(str(error).split())}"
            for name in dict.fromkeys(CONCEPT_REF.findall(refs)):
                try:
                    regex.compile(expand_concepts(self.concepts[name], self.concepts))
                except regex.error:
                    problem += f" (concept @{name} does not compile on its own)"
                    break
            raise self.fail(label, entry, field)(problem) from None


def _common(ctx: _Context, label: str, entry: Map, seen: dict[str, str], window: int) -> tuple:
    """name, category, guards and window of a signal, each checked."""
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ctx.fail(label, entry, "name")(f"expected a word (letters, digits, _), got {name!r}")
    if name in seen:
        raise ctx.fail(label, entry, "name")(f"{name!r} is given twice (also {seen[name]})")
    seen[name] = label
    category = entry["category"]
    if category not in CATEGORIES:
        raise ctx.fail(label, entry, "category")(f"unknown category {category!r} (known: {', '.join(CATEGORIES)})")
    guards = entry.get("guards", "")
    if not isinstance(guards, str):
        raise ctx.fail(label, entry, "guards")("expected guard names separated by spaces")
    for guard in guards.split():
        if guard not in SIGNAL_GUARDS:
            known = ", ".join(sorted(SIGNAL_GUARDS))
            raise ctx.fail(label, entry, "guards")(f"unknown guard {guard!r} (known: {known})")
    window = entry.get("window", window)
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise ctx.fail(label, entry, "window")(f"expected a positive whole number, got {window!r}")
    return name, category, frozenset(guards.split()), window


def _key(ctx: _Context, label: str, entry: Map, allowed: tuple[str, ...], hint: str) -> str:
    key = entry.get("key", allowed[0])
    if key not in KEYS:
        raise ctx.fail(label, entry, "key")(f"unknown key {key!r} (known: {', '.join(KEYS)})")
    if key not in allowed:
        raise ctx.fail(label, entry, "key")(f"{key!r} is not a key here ({hint})")
    return key


def _phrase(ctx: _Context, label: str, entry: Map, seen: dict[str, str]) -> Signal:
    """A phrase signal on the base or rom key (``requires`` and ``unless`` checked within ``window``)."""
    ctx.file.fields(entry, label, _PHRASE_FIELDS, required=("name", "category", "key", "source"))
    name, category, guards, window = _common(ctx, label, entry, seen, 80)
    key = _key(ctx, label, entry, ("base", "rom"), "phrase signals are on base or rom; phon is for concept_signals")
    source = ctx.text(label, entry, "source")
    requires = ctx.text(label, entry, "requires") if "requires" in entry else None
    refs = unless = ctx.text(label, entry, "unless", concepts=True) if "unless" in entry else ""
    if unless:  # concept names (@LEAVING ...) are expanded; matched as whole words within the window
        unless = rf"\b(?:{expand_concepts(unless, ctx.concepts)})\b"
    if key == "rom":
        source, requires = rom_source(source), rom_source(requires) if requires else None
        unless = rom_source(unless)
    return Signal(
        name,
        category,
        key,
        ctx.compiled(label, entry, "source", rx, source),
        guards,
        ctx.compiled(label, entry, "requires", strict, requires) if requires else None,
        window,
        unless=ctx.compiled(label, entry, "unless", strict, unless, refs) if unless else None,
    )


def _rule(ctx: _Context, label: str, entry: Map, seen: dict[str, str]) -> Signal:
    """A concept rule on the phon key: ``source`` anchors it, every ``also`` must match within ``window``."""
    ctx.file.fields(entry, label, _RULE_FIELDS, required=("name", "category", "source"))
    name, category, guards, window = _common(ctx, label, entry, seen, 90)
    _key(ctx, label, entry, ("phon",), "concept rules are on phon; base and rom are for phrase_signals")

    def fold(text: str) -> str:
        return phon_source(expand_concepts(text, ctx.concepts))

    source = ctx.text(label, entry, "source", concepts=True)
    also = entry.get("also", [])
    if not isinstance(also, list) or (not also and "also" in entry):
        raise ctx.fail(label, entry, "also")("expected a list of patterns")
    also = [ctx.text(label, entry, f"also[{i}]", a, concepts=True) for i, a in enumerate(also)]
    unless = ctx.text(label, entry, "unless", concepts=True) if "unless" in entry else ""
    return Signal(
        name,
        category,
        "phon",
        ctx.compiled(label, entry, "source", _rx_long, fold(source), source),
        guards,
        None,
        window,
        tuple(ctx.compiled(label, entry, f"also[{i}]", strict, fold(rf"\b(?:{a})\b"), a) for i, a in enumerate(also)),
        ctx.compiled(label, entry, "unless", strict, fold(rf"\b(?:{unless})\b"), unless) if unless else None,
    )


def _guards(ctx: _Context) -> tuple[dict[str, dict[str, regex.Pattern]], regex.Pattern, regex.Pattern, regex.Pattern]:
    """guards.yaml: every word list a guard reads is there and no other; each compiled for the base and phon keys."""
    file, data = ctx.file, ctx.file.data
    lists = file.mapping(data["word_lists"], "word_lists", data.line_of("word_lists"))
    for name in lists:
        if name not in WORD_LISTS:
            problem = f"unknown word list {name!r} (no guard reads it; known: {', '.join(WORD_LISTS)})"
            raise file.error("word_lists", problem, lists.line_of(name))
    for guard, names in SIGNAL_GUARDS.items():
        for name in names:
            if name not in lists:
                raise file.error("word_lists", f"missing word list {name!r} (guard {guard} reads it)", lists.line)
    sources = {name: ctx.text("word_lists", lists, name) for name in lists}
    guards = {
        key: {name: ctx.compiled("word_lists", lists, name, strict, fold(text)) for name, text in sources.items()}
        for key, fold in (("base", str), ("phon", phon_source))
    }
    guards["rom"] = guards["base"]  # romanised guard words are written in the rom key's spelling already
    as_written = partial(regex.compile, flags=regex.IGNORECASE)  # the clause break is not folded
    clause_break = ctx.compiled("", data, "clause_break", as_written, ctx.text("", data, "clause_break"))
    joke_mark = ctx.compiled("", data, "joke_mark", strict, ctx.text("", data, "joke_mark"))
    joke_emoji = ctx.compiled("", data, "joke_emoji", regex.compile, ctx.text("", data, "joke_emoji"))
    return guards, clause_break, joke_mark, joke_emoji


def _answers(ctx: _Context) -> tuple[tuple, regex.Pattern, regex.Pattern]:
    """answers.yaml: (name, pattern, required context or None) per answer signal; the two advice patterns."""
    file = ctx.file
    out = []
    for label, entry in file.entries("answer_signals"):
        file.fields(entry, label, ("name", "source", "requires"), required=("name", "source"))
        name = entry["name"]
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ctx.fail(label, entry, "name")(f"expected a word (letters, digits, _), got {name!r}")
        source = ctx.compiled(label, entry, "source", rx, ctx.text(label, entry, "source"))
        requires = ctx.text(label, entry, "requires") if "requires" in entry else None
        out.append((name, source, ctx.compiled(label, entry, "requires", strict, requires) if requires else None))
    advice = file.mapping(file.data["advice"], "advice", file.data.line_of("advice"))
    file.fields(advice, "advice", ("medical", "legal"), required=("medical", "legal"))
    medical, legal = (
        ctx.compiled("advice", advice, k, strict, ctx.text("advice", advice, k)) for k in ("medical", "legal")
    )
    return tuple(out), medical, legal


def _markers(file: File, section: str) -> frozenset[str]:
    return frozenset(file.text(file.data[section], section, file.data.line_of(section)).split())


def load(directory: str | Path = LEXICON_DIR) -> Lexicon:
    """Read, check and compile the lexicon in ``directory``; the first problem is a one-line :class:`LexiconError`."""
    directory = Path(directory)
    pieces = load_pieces(File(directory, "pieces.yaml", None))
    concepts = load_concepts(File(directory, "concepts.yaml", None), pieces)
    guards_file = File(directory, "guards.yaml", ("clause_break", "word_lists", "joke_mark", "joke_emoji"))
    guards, clause_break, joke_mark, joke_emoji = _guards(_Context(guards_file, pieces, concepts))
    signals = _Context(File(directory, "signals.yaml", ("phrase_signals", "concept_signals")), pieces, concepts)
    seen: dict[str, str] = {}
    phrases = tuple(_phrase(signals, label, e, seen) for label, e in signals.file.entries("phrase_signals"))
    rules = tuple(_rule(signals, label, e, seen) for label, e in signals.file.entries("concept_signals"))
    answers_file = File(directory, "answers.yaml", ("answer_signals", "advice"))
    answers, medical, legal = _answers(_Context(answers_file, pieces, concepts))
    markers = File(directory, "markers.yaml", ("romanised", "english"))
    return Lexicon(
        pieces,
        concepts,
        phrases,
        rules,
        guards,
        clause_break,
        joke_mark,
        joke_emoji,
        answers,
        medical,
        legal,
        _markers(markers, "romanised"),
        _markers(markers, "english"),
    )
