"""Folding shared by the crisis detector's matching keys and the lexicon's pattern sources (Python, not data).

A message is folded into a base key (NFC, no ZWJ/ZWNJ, no chandrabindu or nukta, ী→ি, ূ→ু, Latin digits, case
folded; words separated by single spaces, padded with a space at both ends) and from it a romanised "rom" key and
the phonetic "phon" key of :mod:`bempathy.safety.romanised`; offsets map every key character back to the message.
Pattern sources are folded the same way (:func:`rx`, :func:`strict`), so authors write natural spellings. The
lexicon itself is data (``configs/safety_lexicon/``, read by :mod:`bempathy.safety.lexicon_data`).
"""

from __future__ import annotations

import unicodedata

import regex

from bempathy.safety.romanised import fold_source_words, phon_key

# -- folding shared by the message key and the pattern sources (1:1 or 1:0, so offsets survive)
DROP = frozenset("\u200c\u200d\u200b\u2060\ufeff\u00ad\u0981\u09bc'’‘`´")  # joiners, chandrabindu, nukta, apostrophes
CHAR_MAP = {"ী": "ি", "ূ": "ু", "ৎ": "ত", "\u09df": "য", "\u09dc": "ড", "\u09dd": "ঢ"}
CHAR_MAP.update({chr(0x09E6 + i): str(i) for i in range(10)})  # Bengali digits -> Latin
BN_VOWEL_SIGNS = frozenset(chr(c) for c in range(0x09BE, 0x09CD)) | {"\u09d7"}
# Romanised key: multi-letter folds first (longest first), then single letters; doubled Latin letters collapse.
ROM_FOLDS = (
    ("chh", "ch"),
    ("sh", "s"),
    ("bh", "b"),
    ("th", "t"),
    ("dh", "d"),
    ("kh", "k"),
    ("gh", "g"),
    ("jh", "j"),
    ("ph", "f"),
    ("ee", "i"),
    ("oo", "u"),
    ("v", "b"),
    ("z", "j"),
    ("q", "k"),
)

# Keys hold only letters, marks, digits and single spaces, padded with a space at both ends, so a word boundary
# is simply "after a space" (a word start) or "before a space" (a word end): far cheaper than generic lookarounds.
_WORD_START, _WORD_END = "(?<= )", "(?= )"


def _long_bengali_words(source: str) -> set[int]:
    """Indexes of characters inside Bengali words of three or more consonants (safe to loosen in word lists)."""
    inside: set[int] = set()
    for m in regex.finditer(r"[\u0980-\u09ff]+", source):
        if sum(1 for c in m.group() if "\u0995" <= c <= "\u09b9" or c in "\u09dc\u09dd\u09df") >= 3:
            inside.update(range(m.start(), m.end()))
    return inside


def fold_source(source: str, loose: bool | str = True) -> str:
    """Fold a pattern's Bengali spelling like the key, make vowel signs optional, expand ``\\b``.

    ``loose=True`` loosens every vowel sign; ``"long"`` only those in words of three or more consonants.
    """
    source = unicodedata.normalize("NFC", source)
    long_words = _long_bengali_words(source) if loose == "long" else None
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(source):
        ch = source[i]
        nxt = source[i + 1] if i + 1 < len(source) else ""
        if ch == "\\" and nxt:
            if nxt == "b" and not in_class:
                after = source[i + 2 : i + 5]
                starts = bool(after) and not after.startswith(("(?!", "(?=", "|", ")")) and after[0] not in " *+?{"
                out.append(_WORD_START if starts else _WORD_END)
            else:
                out.append(ch + nxt)
            i += 2
            continue
        if ch in DROP:
            i += 1
            continue
        ch = CHAR_MAP.get(ch, ch)
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append(ch)
        if loose and ch in BN_VOWEL_SIGNS and not in_class and (long_words is None or i in long_words):
            if source.startswith("{1}", i + 1):
                i += 3
            elif not nxt or nxt not in "?*+{":
                out.append("?")
        i += 1
    return "".join(out)


def fold_latin(text: str) -> str:
    """Romanised folding of one run of Latin letters (the same rules the romanised key applies)."""
    out: list[str] = []
    i = 0
    while i < len(text):
        for src, dst in ROM_FOLDS:
            if text.startswith(src, i):
                step, emit = len(src), dst
                break
        else:
            step, emit = 1, text[i]
        for c in emit:
            if not (out and out[-1] == c):
                out.append(c)
        i += step
    return "".join(out)


def rom_source(source: str) -> str:
    """Fold the Latin words of a romanised pattern (escapes and ``{m,n}`` kept), so patterns use natural spelling."""
    return fold_source_words(source, _is_latin_letter, fold_latin)


def _is_latin_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def rx(source: str, loose: bool | str = True) -> regex.Pattern:
    """Compile a pattern; vowel signs become optional when ``loose``."""
    return regex.compile(fold_source(source, loose))


def strict(source: str) -> regex.Pattern:
    """Word lists (guards, context): only long words lose vowel signs; a loose short word would match inside others."""
    return rx(source, loose="long")


def g(n: int) -> str:
    """Up to ``n`` whole words (the key separates words by single spaces)."""
    return rf"(?:\S+ ){{0,{n}}}"


# -- matching keys (offsets map each key character back to the message, for evidence spans)
_RUN = regex.compile(r"[\p{L}\p{M}\p{N}" + regex.escape("".join(sorted(DROP))) + "]+")
_TABLE = str.maketrans({**CHAR_MAP, **dict.fromkeys(DROP)})
_DOUBLE_MARK = regex.compile(r"(\p{M})\1+")
_ROM_RX = regex.compile("|".join(regex.escape(src) for src, _ in ROM_FOLDS))
_ROM_MAP = dict(ROM_FOLDS)
_DOUBLE_LATIN = regex.compile(r"([a-z])\1+")
_ANY_LATIN = regex.compile(r"[a-z]")


def _fold_word_slowly(word: str, start: int) -> tuple[str, list[int]]:
    out: list[str] = []
    offs: list[int] = []
    for i, ch in enumerate(word, start):
        if ch in DROP:
            continue
        ch = CHAR_MAP.get(ch, ch)
        if out and out[-1] == ch and unicodedata.category(ch)[0] == "M":  # a vowel sign typed twice
            continue
        for c in ch.casefold():
            out.append(c)
            offs.append(i)
    return "".join(out), offs


def base_key(text: str) -> tuple[str, list[int]]:
    """Fold ``text`` (already NFC) into the base key; ``offsets[i]`` is the text index of key character ``i``.

    Words are separated by single spaces and the key is padded with a space at both ends.
    """
    parts: list[str] = [" "]
    offs: list[int] = [0]
    for m in _RUN.finditer(text):
        word = m.group()
        folded = word.translate(_TABLE).casefold()
        if len(folded) == len(word) and not _DOUBLE_MARK.search(folded):
            word_offs = range(m.start(), m.end())
        else:
            folded, word_offs = _fold_word_slowly(word, m.start())
        if folded:
            parts += (folded, " ")
            offs += word_offs
            offs.append(m.end())
    return "".join(parts), offs


def _rewrite(key: str, offs: list[int], pattern: regex.Pattern, replace) -> tuple[str, list[int]]:
    out: list[str] = []
    out_offs: list[int] = []
    last = 0
    for m in pattern.finditer(key):
        out.append(key[last : m.start()])
        out_offs += offs[last : m.start()]
        new = replace(m)
        out.append(new)
        out_offs += [offs[m.start()]] * len(new)
        last = m.end()
    out.append(key[last:])
    out_offs += offs[last:]
    return "".join(out), out_offs


def rom_key(base: str, offs: list[int]) -> tuple[str, list[int]]:
    """Fold Latin spellings of Bengali (sh→s, bh/v→b, kh→k, doubled letters once) for the romanised patterns."""
    if not _ANY_LATIN.search(base):
        return base, offs
    key, key_offs = _rewrite(base, offs, _ROM_RX, lambda m: _ROM_MAP[m.group()])
    return _rewrite(key, key_offs, _DOUBLE_LATIN, lambda m: m.group(1))


# how each key is made from the base key (offsets still map key characters back to the message)
KEY_FOLDS = {"base": lambda key, offs: (key, offs), "rom": rom_key, "phon": phon_key}
