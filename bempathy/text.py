"""Bengali-safe text primitives shared by data cleaning, metrics and the app.

Python's ``re`` ``\\w`` drops Bengali vowel signs (category Mn/Mc) and the hasanta, so every word split
here uses the ``regex`` module's Unicode properties: letters, marks and digits stay together. Zero-width
joiner (U+200D) and non-joiner (U+200C) are part of Bengali spelling (e.g. র‍্যাব) and are never removed.
"""

from __future__ import annotations

import html
import unicodedata

import regex

# A word is a run of letters, combining marks, digits, and the joiners Bengali spelling uses inside words.
WORD_PATTERN = regex.compile(r"[\p{L}\p{M}\p{N}\u200c\u200d]+")
_BENGALI_LETTER = regex.compile(r"(?=\p{Script=Bengali})[\p{L}\p{M}]")
_ANY_LETTER = regex.compile(r"[\p{L}\p{M}]")
_LATIN_LETTER = regex.compile(r"\p{Script=Latin}")

_BREAK_TAG = regex.compile(r"<\s*(?:br|/p|p|/div|div|li)\b[^>]*>", regex.IGNORECASE)
_HTML_TAG = regex.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?>")
_HTML_COMMENT = regex.compile(r"<!--.*?-->", regex.DOTALL)
# Invisible characters that carry no meaning in Bengali text (joiners U+200C/U+200D deliberately absent).
_INVISIBLE = regex.compile(r"[\u200b\u2060\ufeff\u00ad]")
_SPACES = regex.compile(r"[^\S\n]+")
_SPACE_AROUND_NEWLINE = regex.compile(r" *\n *")
_MANY_NEWLINES = regex.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """Clean one cell: HTML remnants, entities, invisible characters, whitespace, then Unicode NFC.

    Paragraph breaks survive (long counselling answers are multi-paragraph); runs of spaces collapse.
    """
    if not text:
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _HTML_COMMENT.sub(" ", text)
    text = _BREAK_TAG.sub("\n", text)
    text = _HTML_TAG.sub(" ", text)
    # Twice: exports sometimes double-escape (&amp;nbsp;).
    text = html.unescape(html.unescape(text))
    text = text.replace("\u00a0", " ")
    text = _INVISIBLE.sub("", text)
    text = unicodedata.normalize("NFC", text)
    text = _SPACES.sub(" ", text)
    text = _SPACE_AROUND_NEWLINE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def bilingual(bn: str, en: str) -> str:
    """Every message a user sees: Bengali first, then English, joined by " / " (raters are Bengali speakers,
    admins and API clients may not be)."""
    return f"{bn} / {en}"


class UnsafeTextError(ValueError):
    """Free text that cannot be stored as it is (a lone surrogate: not encodable as UTF-8)."""


# Kept although their category is Cc/Cf: line breaks and tabs, and the joiners Bengali spelling needs.
_KEPT_CONTROLS = frozenset("\n\t\u200c\u200d")
LONE_SURROGATE = bilingual(
    "লেখায় এমন একটি অক্ষর আছে যা সংরক্ষণ করা যায় না (একা সারোগেট)।",
    "The text holds a character that cannot be stored (a lone surrogate).",
)


def hygienic_text(text: str) -> str:
    """The one cleaning every stored or logged free text gets (comments, rater ids, chat messages).

    NFC; CRLF and CR become LF; control and format characters are dropped (NUL, ESC sequences' ESC, bidi
    overrides such as U+202E, which can make a stored name read backwards) except newline, tab and the
    zero-width non-joiner and joiner Bengali spelling needs. A lone surrogate is refused, not dropped: it
    means the client sent broken text, and guessing what it meant would store something nobody typed.
    """
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise UnsafeTextError(LONE_SURROGATE)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if ch in _KEPT_CONTROLS or unicodedata.category(ch) not in ("Cc", "Cf"))
    return unicodedata.normalize("NFC", kept)


def dedup_key(text: str) -> str:
    """A key under which two texts count as the same: NFKC, case-folded, all whitespace removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(folded.split())


def words(text: str) -> list[str]:
    """Split into words without losing vowel signs, hasanta or joiners."""
    return WORD_PATTERN.findall(unicodedata.normalize("NFC", text))


def bengali_share(text: str) -> float:
    """Share of letters (and their marks) written in Bengali script; 0.0 for text with no letters."""
    letters = len(_ANY_LETTER.findall(text))
    if letters == 0:
        return 0.0
    return len(_BENGALI_LETTER.findall(text)) / letters


def language_of(text: str) -> str:
    """Coarse label for the data report: ``bn`` (Bengali only), ``en`` (Latin only), ``mixed`` or ``none``."""
    has_bengali = bool(_BENGALI_LETTER.search(text))
    has_latin = bool(_LATIN_LETTER.search(text))
    if has_bengali and has_latin:
        return "mixed"
    if has_bengali:
        return "bn"
    if has_latin:
        return "en"
    return "none"
