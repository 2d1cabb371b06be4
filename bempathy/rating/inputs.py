"""What a rater may type, checked: rater id, scores, preference, comment; messages in Bengali and English.

Everything that reaches ``HumanEvaluations`` from a browser passes through here first, so a bad value is
refused with a message the rater can act on and nothing is stored. Comments are plain text: they are
stored verbatim (HTML included) and whoever renders them must escape them.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

from bempathy.rating.items import CRITERIA
from bempathy.text import bilingual, hygienic_text

MAX_RATER_ID_CHARS = 64  # room for "hf:" + a Hugging Face username when the app uses OAuth
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}  # can spoof how a name reads
_BN_DIGITS = str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯")
_PREFERENCE_ALIASES = {"a": "A", "b": "B", "tie": "tie", "both_bad": "both_bad", "both bad": "both_bad"}


MESSAGES = {
    "no_run": bilingual("এখনো রেট করার মতো কোনো মূল্যায়ন নেই।", "There is no evaluated run to rate yet."),
    "done": bilingual("আপনার জন্য আর কোনো আইটেম বাকি নেই। অনেক ধন্যবাদ!", "No items are left for you. Thank you!"),
    "no_rater": bilingual("রেটার আইডি (ছদ্মনাম) দিন।", "Please enter a rater id (a pseudonym)."),
    "control": bilingual("রেটার আইডিতে নিয়ন্ত্রণ-অক্ষর চলবে না।", "The rater id must not contain control characters."),
    "unknown_item": bilingual("এই আইটেমটি চেনা যাচ্ছে না; পরের আইটেম নিন।", "Unknown item; please load the next one."),
    "preference": bilingual("পছন্দ বেছে নিন: A, B, সমান, বা দুটোই খারাপ।", "Choose a preference: A, B, tie or both_bad."),
    "comment_type": bilingual("মন্তব্য লেখা হতে হবে।", "The comment must be text."),
    "too_fast": bilingual("খুব দ্রুত জমা হচ্ছে; একটু পরে আবার চেষ্টা করুন।", "Too many ratings too fast; try again shortly."),
    "duplicate": bilingual("এই আইটেমে আপনার রেটিং আগেই জমা হয়েছে।", "Your rating for this item was already recorded."),
    "saved": bilingual("ধন্যবাদ! রেটিং জমা হয়েছে।", "Thank you! Your rating is saved."),
    "not_leased": bilingual(
        "এই আইটেমটি আপনাকে দেওয়া হয়নি; পরের আইটেম নিন।", "This item was not given to you; please load the next one."
    ),
    "lease_taken": bilingual(
        "সময় পেরিয়ে যাওয়ায় আইটেমটি অন্য কেউ নিয়েছেন বা এর রেটিং পূর্ণ হয়েছে; রেটিং জমা হয়নি। পরের আইটেম নিন।",
        "Your time on this item ran out and it was given to someone else, or it has all its ratings; nothing was "
        "saved. Please load the next one.",
    ),
    "busy": bilingual("অনেকে একসঙ্গে রেট করছেন; আবার চেষ্টা করুন।", "Many raters at once; please try again."),
    "bound": bilingual(
        "এই ছদ্মনামটি অন্য কোনো ব্রাউজারে ব্যবহার হচ্ছে; অন্য একটি ছদ্মনাম বেছে নিন।",
        "This pseudonym is in use in another browser (it needs its key); please choose another pseudonym.",
    ),
    "wrong_key": bilingual(
        "এই ছদ্মনামের চাবি মেলেনি; কিছুই জমা হয়নি।", "The key for this pseudonym does not match; nothing was saved."
    ),
}


def normalize_rater_id(raw: Any) -> str:
    """A pseudonym: stripped, NFC, inner whitespace collapsed, 1-64 characters, no control characters.

    Zero-width joiners stay (Bengali spellings need them); bidi overrides do not.
    """
    if not isinstance(raw, str):
        raise ValueError(MESSAGES["no_rater"])
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Zl", "Zp") or ch in _BIDI_CONTROLS for ch in raw.strip()):
        raise ValueError(MESSAGES["control"])
    text = " ".join(unicodedata.normalize("NFC", raw).split())
    if not text:
        raise ValueError(MESSAGES["no_rater"])
    if len(text) > MAX_RATER_ID_CHARS:
        limit = MAX_RATER_ID_CHARS
        raise ValueError(bilingual(f"রেটার আইডি {limit} অক্ষরের মধ্যে রাখুন।", f"Keep the rater id to {limit} characters."))
    return text


def bn_digits(number: int) -> str:
    """``12`` -> ``১২``: numbers inside Bengali sentences read naturally in Bengali digits."""
    return str(number).translate(_BN_DIGITS)


def parse_score(value: Any, criterion: str, side: str) -> int:
    """An int 1-5 from an int, an integral float or a numeric string ("4", "৪", "4.0"); else ValueError."""
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip():
        try:
            number = float(value.strip())  # float() reads Bengali digits too
        except ValueError:
            number = None
    if number is None or not math.isfinite(number) or number != int(number) or not 1 <= number <= 5:
        bn, en = CRITERIA[criterion]["label_bn"], CRITERIA[criterion]["label_en"]
        wanted = bilingual(f"{bn} {side}: ১ থেকে ৫-এর একটি পূর্ণ সংখ্যা দিন।", f"{en} {side}: give a whole number 1-5.")
        raise ValueError(wanted)
    return int(number)


def parse_preference(value: Any) -> str:
    """``A``, ``B``, ``tie`` or ``both_bad`` (case and a space instead of the underscore forgiven)."""
    choice = _PREFERENCE_ALIASES.get(value.strip().lower()) if isinstance(value, str) else None
    if choice is None:
        raise ValueError(MESSAGES["preference"])
    return choice


def clean_comment(value: Any, limit: int) -> str:
    """Plain text through :func:`bempathy.text.hygienic_text` (NFC, no control or bidi characters), stripped;
    refused over ``limit`` characters or with a lone surrogate. Never interpreted as HTML."""
    if not isinstance(value, str | None):
        raise ValueError(MESSAGES["comment_type"])
    text = hygienic_text(value or "").strip()
    if len(text) > limit:
        raise ValueError(bilingual(f"মন্তব্য {limit} অক্ষরের মধ্যে রাখুন।", f"Keep the comment to {limit} characters."))
    return text


def spent(value: Any) -> float | None:
    """Client-measured time is metadata: an unusable value is stored as None rather than refusing the rating."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return round(float(value), 1)
