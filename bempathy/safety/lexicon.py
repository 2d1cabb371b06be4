"""Curated crisis lexicon for :mod:`bempathy.safety.detect`: matching keys, signals, guards, answer checks.

The lexicon is data: ``configs/safety_lexicon/*.yaml`` (pieces, concepts, signals, guards, answers, markers),
read and checked once at import by :mod:`bempathy.safety.lexicon_data` (an unknown guard, concept, piece, key or
field, a duplicate name or a pattern that does not compile is a one-line :class:`LexiconError` naming the file
and the entry). This module publishes what it loads under the names the detector uses, with the folding code
(:mod:`bempathy.safety.folding`) that turns pattern text into regexes.

Patterns are written the way people type and are folded exactly like the message's matching key (NFC, no
ZWJ/ZWNJ, no chandrabindu or nukta, ী→ি, ূ→ু, Latin digits), so authors need not think about spelling variants.
In Bengali patterns every dependent vowel sign becomes optional (a user who drops a vowel sign still matches);
a vowel sign followed by ``{1}`` stays required. ``\\b`` means a word boundary in the key (a space side; ``re``'s
``\\w`` would split Bengali words at their vowel signs). Romanised patterns run on a
second key where Latin spellings are folded too (sh→s, bh→b, v→b, kh→k, doubled letters collapse, ...).

Each signal needs a first-person or intent cue; guards turn a match off when it is negated, figurative, about
someone else, about a topic (news, awareness), an accident or a joke.

Two layers: phrase signals (``phrase_signals``, the first part of ``SIGNALS``) and concept rules
(``concept_signals``, on the phonetic "phon" key of :mod:`bempathy.safety.romanised`). A concept rule names word
classes from ``CONCEPTS`` (``@DEATH_ME``, ``@PILLS``, ``@FAREWELL`` ...) and asks for several within a window in
any order (``also``), unless a context word explains the match (``unless``: pests, drying clothes, a trip abroad).
Adding a spelling or a synonym to a concept extends every rule that uses it; prefer that to adding a
sentence-shaped phrase. The help texts shown with a crisis live in ``configs/safety.yaml``.
"""

from __future__ import annotations

import regex

from bempathy.safety import lexicon_data
from bempathy.safety.folding import (
    BN_VOWEL_SIGNS,
    CHAR_MAP,
    DROP,
    KEY_FOLDS,
    ROM_FOLDS,
    base_key,
    fold_latin,
    fold_source,
    g,
    rom_key,
    rom_source,
    rx,
    strict,
)
from bempathy.safety.lexicon_data import LexiconError, Signal
from bempathy.safety.lexicon_yaml import expand_concepts as _expand

__all__ = [
    "ANSWER_SIGNALS",
    "BN_VOWEL_SIGNS",
    "CHAR_MAP",
    "CLAUSE_BREAK",
    "CONCEPTS",
    "CONCEPT_SIGNALS",
    "CRISIS_FIRST",
    "DROP",
    "EN_MARKERS",
    "GUARDS",
    "JOKE_EMOJI",
    "JOKE_MARK",
    "KEY_FOLDS",
    "LEGAL",
    "MEDICAL",
    "NEG_AFTER",
    "NEG_BEFORE",
    "OTH",
    "PIECES",
    "ROM_FOLDS",
    "ROM_MARKERS",
    "SIGNALS",
    "H",
    "LexiconError",
    "S",
    "Signal",
    "base_key",
    "expand_concepts",
    "fold_latin",
    "fold_source",
    "g",
    "rom_key",
    "rom_source",
    "rx",
    "strict",
]

S, H, OTH = lexicon_data.CATEGORIES  # suicidal_intent, self_harm, harm_from_others

_DATA = lexicon_data.load()
PIECES: dict[str, str] = _DATA.pieces  # {WANT}, {SUI_BN} ... of pieces.yaml (also lexicon.WANT ...)
CONCEPTS: dict[str, str] = _DATA.concepts
CONCEPT_SIGNALS: tuple[Signal, ...] = _DATA.concept_signals
SIGNALS: tuple[Signal, ...] = _DATA.phrase_signals + CONCEPT_SIGNALS

# -- guards: word lists matched near a hit (on the key the hit came from; phon-folded for the phon key)
# Guards look no further than the hit's clause: punctuation or "but" ends it.
GUARDS: dict[str, dict[str, regex.Pattern]] = _DATA.guards
NEG_BEFORE, NEG_AFTER = GUARDS["base"]["NEG_BEFORE"], GUARDS["base"]["NEG_AFTER"]
CLAUSE_BREAK = _DATA.clause_break
# joke marks: words on the base key (so "lol." counts), emoji on the message; 😩 and 😫 are distress, not jokes
JOKE_MARK, JOKE_EMOJI = _DATA.joke_mark, _DATA.joke_emoji

# -- model answers that must never be shown; advice requests (medical doses, legal rulings)
ANSWER_SIGNALS: tuple[tuple[str, regex.Pattern, regex.Pattern | None], ...] = _DATA.answer_signals
MEDICAL, LEGAL = _DATA.medical, _DATA.legal
CRISIS_FIRST = frozenset({S, H})  # a dose question that is a crisis gets the help block, not a medical pointer

# -- language guess for Latin-only text
ROM_MARKERS, EN_MARKERS = _DATA.rom_markers, _DATA.en_markers


def expand_concepts(source: str) -> str:
    """Replace every ``@NAME`` by concept NAME's alternation (concepts may name others)."""
    return _expand(source, CONCEPTS)


def __getattr__(name: str) -> str:
    """The shared pieces by name (``lexicon.WANT``, ``lexicon.SUI_BN`` ...), as before they moved to pieces.yaml."""
    if name in PIECES:
        return PIECES[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
