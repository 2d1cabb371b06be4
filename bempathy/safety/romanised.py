"""Phonetic folding of romanised Bengali (and the English typed with it) for the crisis detector's "phon" key.

People write Bengali in Latin letters with no fixed spelling: কিছু is "kichu", "kisu" or "kichhu", খেয়েছি is
"kheyechi" or (Dhaka chat) "khaisi", মারছে is "marche" or "marse", ইচ্ছে is "icche", "ichhe" or "iche". The
fold below maps such spellings to one key so a pattern written once covers them:

* aspiration is dropped (an ``h`` after a consonant: kh→k, gh→g, th→t, dh→d, bh→b, jh→j, sh→s, ch→c), and
  ``ph`` becomes ``f``;
* ``c`` (and so ``ch``, ``chh``) becomes ``s``: চ/ছ/শ/স are all "s" in the key, which merges the chat forms
  -si/-se with -chi/-che (korsi = korchi, bolse = bolche);
* ``oo``→u, ``ee``→i, ``ou``/``au``→o, ``v``→b, ``z``→j, ``q``→k, ``x``→ks; ``y`` after e, i, u or at a word's
  start is ``i`` (kheye = kheie, dey = dei), but after a, o or a consonant it stays: চায় "chay" is not চাই "chai",
  "bye" is not বিয়ে "biye";
* doubled letters count once (attohotta = atohota, ammu = amu).

``a`` and ``o`` stay apart (merging them would make English "want" and "won't" one word); patterns spell the
few Bengali words where both occur (karbo/korbo) both ways. English inflections are written in patterns with
``~`` (``burn~`` = burn, burns, burned, burnt, burning; ``starve~`` = starves, starved, starving; doubled
letters already fold: cutting = cuting).

Bengali script is left to the base key's folding. Both the message and every pattern source go through
:func:`fold_latin`, so pattern authors write natural spellings. Folding works on runs of letters, so write whole
words in alternations (``atmohatya|atmohotta``, not ``atmoh(?:a|o)t(?:y|i)a``: a lone ``y`` folds differently).
"""

from __future__ import annotations

from collections.abc import Callable

import regex

_PAIRS = {"oo": "u", "ee": "i", "ou": "o", "au": "o", "ph": "f"}
_SINGLE = {"c": "s", "v": "b", "z": "j", "q": "k", "x": "ks", "y": "i"}
_VOWELS = frozenset("aeiou")
_LATIN_RUN = regex.compile(r"[a-z]+")
_SUFFIX = regex.compile(r"([a-z]+)~")


def fold_latin(run: str) -> tuple[str, list[int]]:
    """Fold one run of lowercase Latin letters; ``index[i]`` is the run position key character ``i`` came from."""
    out: list[str] = []
    index: list[int] = []
    i = 0
    while i < len(run):
        pair = run[i : i + 2]
        if pair in _PAIRS:
            emit, step = _PAIRS[pair], 2
        elif run[i] == "h" and out and out[-1] not in _VOWELS:
            i += 1  # aspiration: kh, gh, th, dh, bh, jh, sh, ch (and chh) lose the h
            continue
        elif run[i] == "y" and out and (out[-1] not in _VOWELS or out[-1] in "ao"):
            emit, step = "y", 1  # bye (not biye), chay (চায়, not chai চাই), khay (খায়, not khai খাই)
        else:
            emit, step = _SINGLE.get(run[i], run[i]), 1
        for ch in emit:
            if not (out and out[-1] == ch):
                out.append(ch)
                index.append(i)
        i += step
    return "".join(out), index


def phon_key(base: str, offs: list[int]) -> tuple[str, list[int]]:
    """The base key with every Latin run folded; offsets still point into the message."""
    if not _LATIN_RUN.search(base):
        return base, offs
    parts: list[str] = []
    out_offs: list[int] = []
    last = 0
    for m in _LATIN_RUN.finditer(base):
        parts.append(base[last : m.start()])
        out_offs += offs[last : m.start()]
        folded, index = fold_latin(m.group())
        parts.append(folded)
        out_offs += [offs[m.start() + j] for j in index]
        last = m.end()
    parts.append(base[last:])
    out_offs += offs[last:]
    return "".join(parts), out_offs


def _inflect(m: regex.Match) -> str:
    word = m.group(1)
    return word[:-1] + "(?:e|es|ed|ing)" if word.endswith("e") else word + "(?:s|es|d|ed|t|ing)?"


def fold_source_words(source: str, is_letter: Callable[[str], bool], fold: Callable[[str], str]) -> str:
    """``fold`` applied to each run of letters of a pattern source; escapes (``\\b``) and ``{m,n}`` quantifiers
    are kept as written, a lone ``{`` is left to the regex compiler to judge. Both pattern folds walk sources so."""
    out: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            out.append(source[i : i + 2])
            i += 2
        elif ch == "{" and "}" in source[i:]:
            j = source.index("}", i) + 1
            out.append(source[i:j])
            i = j
        elif is_letter(ch):
            j = i
            while j < len(source) and is_letter(source[j]):
                j += 1
            out.append(fold(source[i:j]))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def phon_source(source: str) -> str:
    """Fold the Latin words of a pattern source like the key (escapes, ``{m,n}`` and ``(?...)`` kept).

    ``word~`` becomes the word with an optional English inflection (s, es, d, ed, t, ing; a final e may go).
    """
    return fold_source_words(_SUFFIX.sub(_inflect, source), _is_key_letter, lambda run: fold_latin(run)[0])


def _is_key_letter(ch: str) -> bool:
    return "a" <= ch <= "z"
