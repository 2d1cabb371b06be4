# ruff: noqa: E501 -- long regex alternations read better unbroken than split mid-word
"""Curated crisis lexicon for :mod:`bempathy.safety.policy`: matching keys, signal patterns, guard word lists, texts.

Patterns are written the way people type and are folded exactly like the message's matching key (NFC, no
ZWJ/ZWNJ, no chandrabindu or nukta, ী→ি, ূ→ু, Latin digits), so authors need not think about spelling variants.
In Bengali patterns every dependent vowel sign becomes optional (a user who drops a vowel sign still matches);
a vowel sign followed by ``{1}`` stays required. ``\\b`` means a word boundary in the key (a space side; ``re``'s
``\\w`` would split Bengali words at their vowel signs). Romanised patterns run on a
second key where Latin spellings are folded too (sh→s, bh→b, v→b, kh→k, doubled letters collapse, ...).

Each signal needs a first-person or intent cue; guards turn a match off when it is negated, figurative, about
someone else, about a topic (news, awareness), an accident or a joke.

Two layers: phrase signals (``_sig``, the first part of ``SIGNALS``) and concept rules (``_cx``, on the phonetic
"phon" key of :mod:`bempathy.safety.romanised`). A concept rule names word classes from ``CONCEPTS`` (``@DEATH_ME``,
``@PILLS``, ``@FAREWELL`` ...) and asks for several within a window in any order (``also``), unless a context word
explains the match (``unless``: pests, drying clothes, a trip abroad). Adding a spelling or a synonym to a concept
extends every rule that uses it; prefer that to adding a sentence-shaped phrase.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import regex

from bempathy.safety.romanised import phon_key, phon_source

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
    out: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            out.append(source[i : i + 2])
            i += 2
        elif ch == "{":
            j = source.index("}", i) + 1
            out.append(source[i:j])
            i = j
        elif ch.isascii() and ch.isalpha():
            j = i
            while j < len(source) and source[j].isascii() and source[j].isalpha():
                j += 1
            out.append(fold_latin(source[i:j]))
            i = j
        else:
            out.append(ch)
            i += 1
    return "".join(out)


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


def _sig(
    name: str,
    category: str,
    key: str,
    source: str,
    guards: str = "",
    requires: str | None = None,
    unless: str = "",
    window: int = 80,
) -> Signal:
    if unless:  # concept names (@LEAVING ...) are expanded; matched as whole words within the window
        unless = rf"\b(?:{expand_concepts(unless)})\b"
    if key == "rom":
        source, requires = rom_source(source), rom_source(requires) if requires else None
        unless = rom_source(unless)
    compiled = strict(unless) if unless else None
    return Signal(
        name,
        category,
        key,
        rx(source),
        frozenset(guards.split()),
        strict(requires) if requires else None,
        window,
        unless=compiled,
    )


S, H, OTH = "suicidal_intent", "self_harm", "harm_from_others"

# -- concept rules on the phon key -------------------------------------------------------------------------
# The signals above are phrases; these are combinations of concepts, so they reach wordings nobody listed:
# a death word next to a wish, a means next to a readiness or "once I do it, it's over" cue, a farewell next
# to a finality cue, a harm verb in the first person next to a body part or an instrument, a captivity verb
# with "me" as its object. Concept word lists mix Bengali script, romanised Bengali (any chat spelling: the
# phon fold merges them) and English; ``@NAME`` in a rule stands for concept NAME. Anchors match with only long
# Bengali words loosened (short words like মারে/মরে must not merge). Rules keep the guards of the phrases
# above and add ``unless``: context words (drying clothes, pests, diets, moving abroad) that explain the match.
CONCEPTS: dict[str, str] = {
    "ME": r"আমি|আমার|আমাকে|আমায়|আমারে|নিজে|নিজেকে|নিজের|ami|amar|amake|amay|amare|amk|nijeke|nijer|nije|i|im|me|my|myself",
    "ME_OBJ": r"আমাকে|আমায়|আমারে|মোরে|amake|amay|amare|amk|me",
    "WANT": r"চাই|চাচ্ছি|চাইছি|চাইতেছি|চাইতাছি|মন চায়|মন চাইছে|মন চাচ্ছে|ইচ্ছ[াে]? (?:করে|করছে|করতেছে|হয়|হচ্ছে|জাগে)"
    r"|chai|chaai|chacchi|chaitesi|chaitechi|chaichi|mon chay|mon chai|mon chaitese|mon chacche"
    r"|(?:icche|iccha|ichha|ichhe|iche|icha) (?:kore|korche|kortese|hoy|hocche|jage)|want to|wanna",
    "NOT": r"না|na|nah|not",
    # first-person death words (not the figurative progressive "মরে যাচ্ছি"/"dying", nor another's death "মারা গেছেন")
    "DEATH_ME": r"মরব|মরবো|মরমু|মরুম|মরে যাব|মরে যাবো|মরেই যাব|মইরা যামু|মরি|মরার|মরতে|মরলে|মরণ\S*|মৃত্যু\S*|morbo|mormu|morum|more jabo"
    r"|more jamu|morei jabo|moira jamu|mori|morar|morte|morle|moron|mrittu\S*|die tonight|die today|to die|going to die|gonna die"
    r"|ready to die|be dead|stop breathing|stopped breathing|not wake up|never wake up|no longer (?:be )?(?:alive|here|around)"
    r"|(?:see|be) myself alive|alive next|ফিরব না|ফিরবো না|firbo na|wont come back|never come back|আর নেই|ar nei|ar nai|থাকব না"
    r"|থাকবো না|thakbo na|takbo na|শেষ হয়ে যাব|ses hoye jabo|ঘুমিয়ে যাব|gumiye jabo|sleep forever|shortcut",
    "SH_VERB": r"কাটি|কাটছি|কেটেছি|কাটলাম|পোড়াই|পুড়াই|পুড়িয়ে|ছ্যাঁকা দিই|ছ্যাঁকা দেই|আঁচড়ে|আঁচড়াই|আঁচড় কাটি|খামচাই|খামচে|কামড়াই|কামড়ে|চিমটি কাটি"
    r"|মারি|পেটাই|আঘাত করি|kati|katsi|katesi|katlam|purai|puriye|chheka dei|achre|achrai|khamchai|khamche|kamrai|kamre|chimti kati"
    r"|mari|aghat kori|cut|cuts|cutting|burn|burns|burning|burned|scratch\S*|bite|bites|biting|hit|hitting|punch|punching"
    r"|pinch\S*|starv\S*|punish\S*|শাস্তি দিই|shasti dei|sasti dei|(?:cut|burn|hurt|harm|scratch|bite) (?:kori|korsi|kortesi|করি|করছি)"
    r"|burn marks|cut marks|দাগ করি|dag kori|(?:রক্ত|rokto) (?:বের করি|ber kori)",
    "ME_BODY": r"(?:আমার|amar|my) (?:গায়ে|গায়|মুখে|শরীরে|হাতে|পিঠে|মাথায়|gaye|mukhe|shorire|hate|pithe|mathay|face|body|back|arm|head)",
    # wishes to die: infinitives and dialect forms (মইরা যাইতে, mirte, mori jaite) and English nouns with করতে
    "DIE_INF": r"মরতে|মরে যেতে|মরে যাইতে|মইরা যাইতে|মইরা যেতে|মারা যেতে|মারা যাইতে|মরিয়া যাইতে|শেষ হয়ে যেতে"
    r"|morte|mirte|merte|morite|more jete|more jaite|moira jaite|moira jete|mori jaite|mora jete|mara jete|mara jaite"
    r"|mariya jaite|ses hoye jete",
    "DIE_EN": r"die|dead|death|suicide|sucide|unalive|vanish|disappear|exist|overdose|od",
    "DO_INF": r"করতে|হয়ে যেতে|হইতে|হতে|korte|hoye jete|hoite|hote|hoite",
    "SUICIDE": r"আত্মহত্যা\S*|আত্নহত্যা\S*|আত্মহত্য|আত্তহত্যা\S*|সুইসাইড\S*|সুসাইড\S*|suicide\S*|sucide\S*|suside\S*|suicid"
    r"|(?:atmohotta|atmohottya|atmohotya|atmohatya|atmahatya|atmohatta|attohotta|attohottya|attohatta|attohatya|atnohotta)\S*"
    r"|overdose|ওভারডোজ",
    "DO_1P": r"করব|করবো|করমু|করুম|করবই|করেই ছাড়ব|করে ফেলব|করে ফেলবো|করে ফেলমু|করতে যাচ্ছি"
    r"|korbo|korbu|krbo|kormu|korum|korboi|karbo|kore felbo|kore felmu|kore phelbo|korte jacchi|korte jachi",
    "PLAN": r"plan\S*|প্ল্যান\S*|প্লান\S*|ঠিক করেছি|ঠিক করছি|ঠিক করসি|ঠিক কইরা ফেলছি|সিদ্ধান্ত নিয়েছি|সিদ্ধান্ত নিছি|ভাবছি|ভাবতেছি|ভাবতাছি"
    r"|চিন্তা করছি|thik korsi|thik korechi|thik kore felsi|thik kore felechi|siddhanto niyechi|siddhanto nisi"
    r"|vabchi|vabtesi|bhabchi|bhabtesi|vabtechi|chinta korchi|chinta kortesi|decided",
    "END": r"শেষ|খতম|অবসান|ses|khotom|khatam|end|finish",
    "GIVE_1P": r"দেব|দেবো|দিব|দিবো|দিমু|দিই|দেই|ফেলব|ফেলবো|ফেলমু|করব|করবো|করমু|ঘটাব|ঘটাবো|dibo|debo|dimu|dei|di|felbo|felmu|korbo"
    r"|kormu|karbo|ghotabo",
    "LIFE": r"জীবন\S*|লাইফ\S*|প্রাণ|life\S*|jibon\S*|jiban\S*|pran",
    "GOOD": r"ভালো|ভাল|শান্তি|মুক্তি|bhalo|valo|bhalo|santi|shanti|mukti|better|relief|peace",
    "DESPAIR": r"আর পারছি না|আর পারি না|পারিনা|আর পারব না|সহ্য হয় না|সহ্য হচ্ছে না|সহ্য করতে পারছি না|hopeless|pointless|meaningless"
    r"|worthless|অর্থহীন|মূল্যহীন|হতাশ\S*|ar parchi na|r parchi na|ar pari na|parina|sojjo hoy na|sojjo hocche na"
    r"|cant take|cannot take|cant do this|cant go on|cant keep going|no point|no way out|give up|giving up|kono mane nai|kono mane nei"
    r"|কোনো আশা নেই|কোন আশা নাই|আশা নেই|kono asha nai|kono asha nei|asha nai|no hope|nothing left|cant live with|cant live like"
    r"|কিছু ভালো লাগে না|কিছুই ভালো লাগে না|kichu bhalo lage na|kichu valo lage na|kisu valo lage na|nothing feels good"
    r"|done with (?:everything|life|it all)|so done|kono hope nai|hope nai",
    "TIME": r"আজ রাতে|আজকে রাতে|আজ রাতেই|আজ রাইতে|আজই|আজকেই|আজকে|এখনই|এক্ষুনি|tonight|today|right now|ajkei|ajke|ekhoni|ekhuni"
    r"|(?:aj|ajke|ajk) (?:rate|rat e|raat e|raate|ratei|rat)|\d+ ?(?:টায়|tay|am|pm)|this weekend|tomorrow morning",
    # means
    "PILLS": r"ঘুমের ওষুধ\S*|ঘুমের বড়ি|ঘুমের\S*|ওষুধ\S*|ঔষধ\S*|ট্যাবলেট\S*|বড়ি\S*|পিল\S*|নাপা\S*|প্যারাসিটামল\S*|সেডিল|রিভোট্রিল"
    r"|pills?|tablets?|meds|medicine\S*|medication|painkillers?|sleeping pills?|paracetamol|napa|panadol|tylenol"
    r"|ibuprofen|aspirin|sedil|rivotril|clonazepam|diazepam|valium|xanax|insulin|oshudh\S*|osudh\S*|oushudh\S*"
    r"|aushadh\S*|ghumer|bori|antidepressants?|sedatives?|benzos?|sleeping tablets?|strip|স্ট্রিপ\S*|pata|পাতা\S*|bottle of pills|pill bottle",
    "BIGQ": r"(?:পুরো|puro|pura|full|whole|entire|half|আধা|adha)\S* (?:\S+ ){0,2}(?:পাতা|বোতল|শিশি|স্ট্রিপ|প্যাকেট|কৌটা|pata|botol|bottle"
    r"|shishi|strip|packet|pack|box|kouta)\S*|(?:পাতা|বোতল|শিশি|স্ট্রিপ|pata|botol|bottle|shishi|strip)\S* (?:\S+ ){0,2}(?:পুরো|puro|pura|full|whole)"
    r"|every pill|every single|every one|each pill|everything in|\d{2,}(?: ?(?:টা|টি|ta|ti|to|pcs|pieces|khana|খানা))?|(?:দশ|পনেরো|বিশ|ত্রিশ|চল্লিশ|পঞ্চাশ|একশো)\S*|dosh|doshta|bishta"
    r"|tirish|tirishta|ten|fifteen|twenty|thirty"
    r"|forty|fifty|hundred|dozen|handful|মুঠো|mutho|পুরো পাতা\S*|পুরো বোতল|পুরো প্যাকেট|পাতাটা|puro pata|pura pata|full pata|pura bottle"
    r"|(?:whole|entire|full|half|half a|half the|a|the) (?:bottle|pack|packet|strip|box)|pura strip|puro strip|পুরো স্ট্রিপ\S*|পুরো শিশি"
    r"|too many|way too many|অনেকগুলো|অনেকগুলা|onekgula|onekgulo|onek gula"
    r"|(?:সব|সবগুলো|সবগুলা|সব গুলো|sob|shob|sobgula|sobgulo|all|all of them) (?:\S+ ){0,3}(?:একসাথে|একবারে|ekshathe|eksathe|ek sathe|ekbare|together|at once)",
    "ATE": r"খেয়ে ফেলেছি|খেয়ে ফেলছি|খেয়েছি|খেয়ে নিয়েছি|খাইছি|খাইলাম|খেলাম|খাইয়া ফেলছি|গিলে ফেলেছি|গিলেছি|গিললাম|khaisi|khailam|khelam"
    r"|kheyechi|kheyesi|kheye felechi|kheye felsi|khaiya felsi|kheye nisi|kheye niyechi|khaye felsi|gilsi|gilechi|gile felsi"
    r"|খেয়ে নিলাম|গিলে নিলাম|kheye nilam|khaye nilam|gile nilam|took|taken|swallowed|downed|overdosed|popped",
    "WILL_TAKE": r"খাব|খাবো|খামু|খাইয়া ফেলমু|খেয়ে ফেলব|খেয়ে ফেলবো|খেয়ে নেব|খেয়ে নিব|খেয়ে নিবো|গিলব|গিলবো|গিলে ফেলব|khabo|khamu|khabu"
    r"|kheye felbo|khaye felbo|kheye nibo|kheye nebo|khaye nibo|kheye nimu|khaiya felmu|gilbo|gile felbo|take|taking|going to take"
    r"|swallow|use korbo|use করব",
    "READY": r"ready|রেডি|প্রস্তুত|রেখেছি|রেখে দিয়েছি|জমিয়ে রেখেছি|জমিয়েছি|জমাইছি|জোগাড় করেছি|আমার কাছে আছে|আছে আমার কাছে"
    r"|হাতের কাছে|rakhsi|rekhechi|rekhe disi|jomiye rakhsi|jomaisi|jomiyechi|jogar korsi|jogar korechi"
    r"|ache amar kache|amar kache ache|hater kache|in my hand|in my drawer|with me|saved|stockpil\S*|hoard\S*|waiting"
    r"|lined up|in front of me|counted out|laid out|সামনে|samne|i have|ive got|জড়ো করেছি|জড়ো করছি|joro korsi|joro korechi|gathered"
    r"|collected",
    "POISON": r"বিষ\S*|কীটনাশক\S*|ইঁদুর মারার\S*|ইঁদুরের বিষ|ফিনাইল|হারপিক|ব্লিচ|poison\S*|pesticide|insecticide|rat poison|rat killer"
    r"|bleach|harpic|phenyl|kitnashok|kitnasok|keetnashok|bisher botol|bish er botol",
    "ROPE": r"দড়ি\S*|ফাঁস\S*|ওড়না\S*|গামছা\S*|rope|noose|orna|urna|dori|fash|fashi|fansi|phansi|gamcha|dupatta|scarf|cord",
    "HANG_POINT": r"ফ্যান\S*|সিলিং\S*|হুক|কড়িকাঠ|বিম|fan|fans|fane|faner|fanta|fan er|ceiling|hook|beam|chair|stool|চেয়ার\S*|টুল\S*",
    "TIE": r"বেঁধে|বেধে|বাঁধছি|বাঁধলাম|বেঁধেছি|ঝুলিয়ে|ঝুলব|ঝুলবো|ঝুলে পড়ব|ঝুলতে|লাগিয়ে|লাগিয়েছি|bendhe|bedhe|bandhsi|bandhchi|bandhlam"
    r"|bendhechi|jhuliye|jhulbo|jhule|jhulte|lagiye|lagaisi|tied|tie|tying|hang\S*|hung|ready|রেডি|prepared|বাঁধা\S*|bandha|badha",
    "JUMP": r"লাফ\S*|ঝাঁপ\S*|ঝাপ\S*|laf|laaf|lap|jhap|jhaap|jump\S*|leap",
    "HEIGHT": r"ছাদ\S*|রুফটপ|ব্রিজ\S*|সেতু\S*|বিল্ডিং\S*|বারান্দা\S*|কার্নিশ\S*|roof\S*|terrace|bridge|brij|building|balcony|ledge|cliff|tower"
    r"|chad|chader|chade|chhad|chhader|chhade|parking garage|garage|top floor|\d+ ?(?:th|st|nd|rd)? floor|\d+ ?তলা\S*|\d+ ?tola\S*",
    "RAIL": r"ট্রেন\S*|রেললাইন\S*|রেল লাইন\S*|রেলের|train\S*|rail\S*|tracks?|platform|প্ল্যাটফর্ম\S*",
    "RAIL_LINE": r"রেললাইন\S*|রেল লাইন\S*|ট্রেন লাইন\S*|লাইনের|rail ?line\S*|train line\S*|tracks?|railway",
    "WATER": r"নদী\S*|river|nodi|nodir|nodite|lake|sea",
    "IF_DONE": r"এলেই|আসলেই|দিলেই|খেলেই|পড়লেই|নিলেই|চালালেই|ashlei|aslei|elei|dilei|khelei|porlei|nilei|chalalei|once",
    "FINAL": r"সব শেষ|শেষ|মুক্তি|শান্তি|the end|over|solved|finished|free|peace|ses|sob ses|mukti|santi|shanti|khotom|খতম",
    # self-harm
    "SH_TOOL": r"ব্লেড\S*|রেজার\S*|ছুরি\S*|চাকু\S*|ক্ষুর\S*|কাঁচি\S*|কাচ\S*|লাইটার\S*|সিগারেট\S*|মোমবাতি\S*|blade|razor|knife|churi|chhuri|chaku"
    r"|khur|scissors|kachi|glass|lighter|cigarette|cig|candle|ইস্ত্রি\S*|istri|iron|গরম চামচ|hot spoon|hot spoons",
    "BODY": r"হাত\S*|কবজি\S*|শরীর\S*|গা|গায়ে|পা|পায়ে|উরু\S*|বাহু\S*|রগ|শিরা\S*|চামড়া\S*|পেট\S*|hat|hate|hater|haat|haate|haater|hand|hands|kobji"
    r"|shorir|sorir|gaye|pa|paye|uru|thigh\S*|wrists?|arms?|forearms?|skin|stomach|legs?|body|rog|shira|chamra",
    "HARM_1P": r"কাটি|কাটছি|কাটতেছি|কাটতাছি|কেটেছি|কাটলাম|কাটব|কাটবো|কাটমু|কেটে ফেলি|কেটে ফেলছি|কেটে ফেলেছি|কেটে দিই|পোড়াই|পুড়াই"
    r"|পুড়িয়ে দিই|পুড়িয়ে দেই|পুড়িয়ে ফেলি|পুড়িয়েছি|পুড়াইছি|ছ্যাঁকা দিই|ছ্যাঁকা দেই|ছ্যাঁকা দিছি|ছ্যাঁকা দিয়েছি|ছ্যাঁকা দিচ্ছি|ছেঁকা দিই|ছেঁকা দেই"
    r"|kati|katsi|kattesi|katesi|ketesi|katlam|katbo|katmu|kete feli|kete felsi|kete felechi|purai|puraisi|puriye dei"
    r"|puriye di|puriye feli|puriyesi|puriyechi|chheka dei|chheka di|chheka disi|chheka diyechi|chheka dicchi|cheka dei"
    r"|chhyaka dei|চালাই|চালাচ্ছি|চালিয়েছি|chalai|chalacchi|chalaisi|chaliyechi"
    r"|(?:agun|আগুন|flame|ছ্যাঁকা) (?:dhori|ধরি|lagai|লাগাই|dei|দিই|দেই|di)|কাটাকুটি করি|kata kuti kori|katakuti kori"
    r"|(?:cut|cutting|burn|burning|harm|hurt) (?:kori|korsi|kortesi|korchi|kortechi|kore feli|করি|করছি|করেছি|করতেছি)",
    "HABIT": r"আবার|প্রায়ই|প্রতিদিন|রোজ|প্রতি রাতে|যখন|যতক্ষণ|রক্ত\S*|দাগ\S*|কষ্ট লাগলে|খারাপ লাগলে|রাগ\S*|abar|prayi|protidin|roj"
    r"|proti rate|roj rate|jokhon|jokhn|jotokkhon|rokto|dag|whenever|when|every|again|until|blood|bleed\S*|scars?|marks|kharap lage"
    r"|kharap lagle|kosto lagle|rag|anxiety|panic",
    # what people cut or burn that is not themselves (nails, hair, food); excluded between the verb and its tool
    "CUT_OBJ": r"নখ\S*|চুল\S*|দাড়ি\S*|মাছ\S*|মাংস\S*|মুরগি\S*|সবজি\S*|ফল\S*|কেক\S*|পেঁয়াজ\S*|আলু\S*|নখগুলো|nokh|nail\S*"
    r"|chul|hair|dari|beard|shave|shaving|mach|fish|mangsho|meat|murgi|chicken|sobji|vegetables?|fruit|cake|onion"
    r"|peyaj|alu|toe|finger|আঙুল\S*|angul|pencil|পেন্সিল\S*|kagoj|কাগজ\S*|paper|box|বক্স|tape|টেপ|sutor|সুতা\S*|thread|kapor|কাপড়\S*",
    "SITE_EN": r"wrists?|arms?|forearms?|thighs?|skin|stomach|legs?|hips?|chest|body|ankles?|shoulders?",
    "HEAD": r"মাথা\S*|matha|mathay|mathata|head",
    "HEAD_HIT": r"ঠুকি|ঠুকতে|ঠুকে|ঠুকছি|ঠোকাই|ঠোকা|ঠুকাই|বাড়ি মারি|বাড়ি দিই|thuki|thukte|thuke|thukchi|thokai|thoka|thukai|bari mari|bari dei"
    r"|(?:bang|hit|bash|slam) (?:kori|korsi|korchi|kortesi|করি|করছি)",
    "SURFACE": r"দেয়াল\S*|দরজা\S*|মেঝে\S*|deyal\S*|dewal\S*|wall\S*|door\S*|floor|against|until|যতক্ষণ|jotokkhon|রক্ত\S*|rokto|blood"
    r"|bleed\S*|pass out|অজ্ঞান|ojnan|thamte|থামতে|নিজের|nijer|abar|again|roj|every|whenever|jokhon|যখন",
    "ON_PURPOSE": r"ইচ্ছ[াে]? করেই|ইচ্ছ[াে]? করে(?! না\b(?! খেয়ে))|জেনেশুনে|জেনে শুনে"
    r"|(?:icche|iccha|ichha|ichhe|iche|icha) (?:korei|kore)(?! na\b(?! kheye))"
    r"|jene shune|jeneshune|intentionally|on purpose|deliberately|purposely",
    "NOT_EAT": r"কিছু খাচ্ছি না|খাচ্ছি না|খাচ্ছিনা|খাই না|খাইনা|খাইনি|খাই নি|খাওয়া বন্ধ\S*|না খেয়ে|kichu khacchi na|khacchi na|khacchina"
    r"|khai na|khaina|khaini|khai ni|khawa bondho|khaoa bondho|na kheye|not eating|havent eaten|have not eaten|stopped eating"
    r"|refus\S* to eat|starv\S*",
    # indirect wishes: being gone, farewells, last things
    "ABSENCE": r"আমি (?:\S+ )?(?:না থাকলে|না থাকলেই|চলে গেলে|চলে গেলেই|মরে গেলে|মরে গেলেই|মরলে|মরলেই|হারিয়ে গেলে|না থাকি|আর না থাকি)"
    r"|আমি যদি (?:\S+ ){0,2}না থাকি|(?:আমাকে|আমায়) ছাড়া\S*|ami (?:\S+ )?(?:na thakle|na thaklei|chole gele|chole gelei|more gele"
    r"|more gelei|morle|morlei|hariye gele)|ami jodi (?:\S+ ){0,2}na thaki|jodi (?:\S+ )?(?:kal|kalke) na thaki"
    r"|(?:amake|amay) chara\S*|without me|(?:when|after|once|if) i(?: am|m) gone|(?:when|after) i die"
    r"|if i (?:just |simply |suddenly )?(?:disappeared|disappear|vanished|died|was gone|were gone|wasnt here|wasnt around"
    r"|werent here|left this world|killed myself|was dead|were dead|was not here|didnt exist|stopped existing|stopped breathing"
    r"|stopped living|wasnt alive|werent alive|didnt wake up|never woke up)",
    "NOBODY": r"(?:nobody|no one|noone) (?:\S+ ){0,2}(?:notice|care|miss|cry|know|remember)\S*"
    r"|কেউ (?:\S+ ){0,2}(?:টের পাবে|খেয়াল করবে|মিস করবে|কাঁদবে|খুঁজবে|মনে রাখবে|জানবে|বুঝবে)\S* না"
    r"|keu (?:\S+ ){0,2}(?:ter pabe|kheyal korbe|miss korbe|kandbe|kadbe|khujbe|mone rakhbe|janbe)\S* na"
    r"|(?:কেউ|keu|nobody|no one) (?:আমাকে |amake |will |would |)?(?:আর |ar |r |ever )?(?:দেখবে না|পাবে না|খুঁজে পাবে না|dekhbe na|pabe na"
    r"|khuje pabe na|see me again|find me)"
    r"|(?:আমাকে|amake) (?:কেউ|keu) (?:আর |ar |r )?(?:দেখবে না|পাবে না|খুঁজে পাবে না|dekhbe na|pabe na|khuje pabe na)",
    "DONT_BLAME": r"dont blame|do not blame|দোষ দিও না|দোষ দিবে না|দোষ দিয়ো না|dosh dio na|dosh diyo na|dosh dibe na|forgive me"
    r"|মাফ করে দিও|মাফ কইরা দিও|ক্ষমা করে দিও|maf kore dio|maaf kore dio|khoma kore dio|kkhoma kore dio|ভালো থেকো|ভালো থাকিস"
    r"|ভালো থাকবেন|valo theko|bhalo theko|valo thakis|bhalo thakis|take care of (?:\S+ )?(?:mom|ma|ammu|abbu|dad|yourselves|everyone)",
    "CONSEQ": r"better off|better|happier|happy|relieved|relief|free|peace|easier|ভালো থাকবে|ভালো হবে|ভালোই হবে|ভাল থাকবে"
    r"|শান্তি পাবে|শান্তিতে থাকবে|শান্তি|সুখে থাকবে|সুখী হবে|খুশি হবে|মুক্তি পাবে|bhalo thakbe|valo thakbe|bhalo hobe|valo hobe"
    r"|shanti pabe|santi pabe|shantite thakbe|sukhe thakbe|khushi hobe|better thakbe|happy thakbe|@NOBODY|@DONT_BLAME"
    r"|বোঝা কমে\S*|ঝামেলা কমে\S*|bojha kome\S*|jhamela kome\S*|less of a burden|burden\S* (?:\S+ ){0,2}(?:less|lighter|gone|lifted)"
    r"|কার কী|কার কি|কারো কিছু যায় আসে না|কার কিছু যায় আসে|kar ki|karo kichu jay ase na|kar kichu jay ashe|who cares|who would care"
    r"|what does it matter|ki ashe jay|কী আসে যায়",
    "FAREWELL": r"আমার শেষ দিন|amar shesh din|amar ses din|my last day|last day of my life|বিদায়\S*|goodbye|good bye|goodbyes|bye|byee|byebye|alvida|আলবিদা|farewell|ভালো থেকো সবাই|valo theko sobai"
    r"|শেষবারের মতো|শেষ বারের মতো|sesh barer moto|shesh barer moto|for the last time|one last time"
    r"|bhalo theko sobai|take care everyone|love you all|love you guys|(?:সবাইকে|sobaike|tomader|তোমাদের) (?:অনেক |onek |khub |খুব )?"
    r"(?:ভালোবাসি|valobasi|bhalobashi|bhalobasi)",
    "FINAL_OR_ALL": r"শেষ মেসেজ|শেষ কথা|শেষবার|শেষ বার|শেষ চিঠি|শেষ পোস্ট|last msg|last message|last text|last post|last time|last words"
    r"|final message|sesh msg|shesh msg|shesh message|shesh bar|sesh bar|forever|চিরদিনের জন্য|চিরতরে|chirodiner jonno|chirotore"
    r"|this is it|(?:i am|im) done|so done|cant (?:do|take) (?:this|it) (?:any ?more)|thank you for (?:everything|trying|all)"
    r"|tonight is the night|today is the day|the time has come|its time|made up my mind|decided|মন ঠিক করে ফেলেছি|সিদ্ধান্ত নিয়েছি"
    r"|siddhanto niyechi|thik kore felsi|আজকেই সব শেষ|আজই সব শেষ|ajkei sob ses|aj e sob ses|@NOBODY"
    r"|world|cruel world|দুনিয়া\S*|পৃথিবী\S*|prithibi\S*|duniya\S*|ami ses|আমি শেষ|life"
    r"|ধন্যবাদ সবকিছুর জন্য|wont see (?:you|me) again|আর দেখা হবে না|ar dekha hobe na|ar kotha hobe na|আর কথা হবে না|আর পারলাম না"
    r"|ar parlam na|r parlam na|আর পারছি না|ar parchi na|r parchi na|@DONT_BLAME"
    r"|সবাইকে|সবাই|sobaike|sobai|everyone"
    r"|everybody|all of you|tomader|তোমাদের|you all",
    # departures, trips and events: "goodbye" and "when I'm gone" about leaving a place (not life stressors such
    # as job or exams, which crisis messages often name as the cause)
    "LEAVING": r"party|পার্টি|trip|travel\S*|বিদেশ\S*|bidesh\S*|abroad|flight|plane|journey|tour|vacation|holiday|ছুটিতে|chutite"
    r"|wedding|বিয়েতে|biyete|graduation|see you|see ya|cya|dekha hobe(?! ?na)|দেখা হবে(?! ?না)|kotha hobe(?! ?na)|কথা হবে(?! ?না)"
    r"|pore kotha|later|ttyl|brb|good night|gn|ghumate|ঘুমাতে|ghumabo|ঘুমাব|sleep|bed|off to|moving|basha bodol|বাসা বদল"
    r"|donate\S*|charity|dinner|lunch|breakfast|ashte parbo na|আসতে পারব না|online|offline|উঠলাম|uthlam|ট্রেনে উঠ\S*"
    r"|train e uth\S*|station|স্টেশন|airport|এয়ারপোর্ট|bollam|বললাম|janalam|জানালাম|জানিয়ে এলাম|janiye aslam"
    r"|(?:said|told \S+) (?:bye|goodbye)|notun chakri|নতুন চাকরি|new job|transfer|বদলি|bodli|বিদায় দিতে|বিদায় দিলাম|biday dite"
    r"|biday dilam|বিদায় অনুষ্ঠান\S*|biday onusthan|farewell party|send off|send-off|জানালেন|জানাল|জানালো|janalen|janalo"
    r"|(?:office|অফিস\S*|college|কলেজ\S*|school|স্কুল\S*|class|ক্লাস\S*|varsity|ভার্সিটি\S*|university|job|চাকরি\S*)\S* (?:\S+ )?(?:শেষ দিন|last day|ses din)",
    # harm from others
    "ABUSER": r"স্বামী\S*|বাবা|আব্বা|আব্বু|বাপ|শ্বশুর\S*|শাশুড়ি|সৎ ?বাবা|সৎ ?মা|ভাই|ভাইয়া|চাচা|মামা|খালু|ফুপা|দুলাভাই|দেবর|ভাসুর|ননদ|প্রেমিক"
    r"|বয়ফ্রেন্ড|জামাই|মা|আম্মু|আম্মা|স্যার|টিচার|হুজুর|মালিক|পরিবার\S*|husband|hubby|bf|ex|boyfriend|abba|abbu|baba|bap|sami|swami|jamai"
    r"|stepfather|step father|stepdad|stepmother|father|dad|mom|mother|ammu|amma|partner|uncle|in ?laws|chacha|mama|khalu"
    r"|fupa|dulavai|dulabhai|debor|teacher|tutor|sir|hujur|huzur|malik|employer|family|parents|cousin|neighbou?r|step ?brother"
    r"|step ?sister|সৎ ভাই|soth bhai|shot bhai|brother in law|father in law|mother in law|in law\S*|bhabi|ভাবি|sosur\S*|shoshur\S*",
    "LOCK": r"তালা দিয়ে|তালা মেরে|তালাবদ্ধ করে|বন্ধ করে|আটকে|আটকিয়ে|শিকল দিয়ে|tala diye|tala mere|bondho kore|bondo kore|atke|atkiye"
    r"|shikol diye|lock kore|lock",
    "KEEP_3": r"রেখেছে|রাখছে|রাখে|রেখে দিয়েছে|রেখেছেন|রাখসে|রাখছেন|রাখতেছে|rakhse|rekhese|rekheche|rakhche|rakhe|rakhtese|rekhe diyeche"
    r"|rekhe dise|rakhsen|রেখে গেছে|রেখে চলে গেছে|রেখে দিছে|rekhe geche|rekhe gese|rekhe chole gese|rekhe chole geche",
    "ACCOUNT": r"account|id|facebook|fb|messenger|whatsapp|insta\S*|profile|password|app|sim|group|phone|mobile|fridge|ফ্রিজ|আলমারি|almari",
    "BEAT_TOOL": r"বেল্ট\S*|লাঠি\S*|রড\S*|ব্যাট\S*|হাতুড়ি\S*|জুতা\S*|জুতো\S*|স্যান্ডেল\S*|চটি\S*|বাঁশ\S*|খুন্তি\S*|হ্যাঙ্গার\S*|চাবুক\S*"
    r"|belt|lathi|rod|bat|stick|hammer|shoes?|juta|sandal|slipper|chappal|cable|wire|pipe|bamboo|hanger|cane|whip|chabuk",
    "BEAT_3": r"মেরেছে|মারছে|মারে|মারল|মারলো|মারসে|মারতেছে|পেটায়|পেটাচ্ছে|পিটিয়েছে|পিটাইছে|পেটাল|পেটালো|marse|mereche|mare|marlo"
    r"|marche|martese|pitay|petay|pitaise|pitiyeche|pitacche|petacche|hits me|beats me|beat me|hit me|whipped me|hits|beats"
    r"|(?:beat|hit|slap|punch|kick|torture) (?:kore|korse|korche|koreche|করে|করছে|করেছে)",
    "SPORT": r"ball|বল|খেলা\S*|khela|khelte|match|ম্যাচ|sixer|ছক্কা|boundary|তেলাপোকা|telapoka|cockroach|মশা|mosha|mosquito|সাপ\S*|shap"
    r"|snake|ইঁদুর\S*|idur|kukur|কুকুর\S*|dog|বিড়াল\S*|cat|চোর\S*|chor|thief|drum|ঢোল|dhol|tennis|golf|baseball|hockey",
    "VIOLENCE": r"মারে|মারছে|মেরেছে|মারল|মারলো|মারসে|মারতেছে|মারধর কর\S*|পেটায়|পেটাচ্ছে|পিটিয়েছে|পিটাইছে|পেটাল|পেটালো|নির্যাতন কর\S*"
    r"|অত্যাচার কর\S*|(?:লাথি|চড়|থাপ্পড়|ঘুষি) (?:মারে|মেরেছে|মারছে|মারল|দেয়|দিয়েছে|দিছে)|গলা (?:চেপে|টিপে) ধর\S*|গরম (?:পানি|তেল|চা) (?:\S+ )?ঢেলে\S*"
    r"|ছ্যাঁকা (?:দেয়|দিয়েছে|দিছে|দেন)|পুড়িয়ে দিয়েছে|ধাক্কা দিয়ে (?:ফেলে )?দিয়েছে|চুল ধরে টান\S*|চুলের মুঠি ধরে\S*"
    r"|mare|marse|mereche|marche|marlo|martese|mardhor kore|pitay|petay|pitaise|pitiyeche|pitacche|nirjaton kore|ottachar kore"
    r"|(?:lathi|chor|thappor|ghushi) (?:mare|marse|mereche|dey|dise)|gola (?:chepe|tipe) dhor\S*|gorom (?:pani|tel|cha) (?:\S+ )?dhele\S*"
    r"|chheka (?:dey|dise|diyeche)|puriye dise|dhakka diye (?:fele )?dise|chul dhore tan\S*|পিটিয়ে|pitiye|মারতে আসে|মারতে আসছে"
    r"|তেড়ে আসে|marte ashe|marte ase|marte astese|marte asche|tere ashe"
    r"|(?:মেরে|mere) (?:\S+ )?(?:ফেলছে|ফেলেছে|দিছে|দিয়েছে|felse|feleche|dise|diyeche)"
    r"|(?:beat|hit|slap|punch|kick|torture) (?:kore|korse|korche|koreche|করে|করছে|করেছে)"
    r"|(?<!\b(?:it|this|that|reality|idea|song|thought) )(?:hits|hit|beats|beat|kicks|kicked|slaps|slapped|chokes|choked|strangles"
    r"|strangled|burns|burned|punches|punched|pushed|shoves|shoved|whips|whipped|beats up|beat up|hitting|beating|kicking|choking"
    r"|strangling|slapping|punching|hurting) me(?! (?:at|in|to|up|with (?:love|kindness)))"
    r"|broke my (?:arm|nose|hand|leg|ribs?|jaw|finger|tooth|teeth)|threw \S+ at me|hands? (?:around|on) my (?:neck|throat)"
    r"|(?:pours?|poured|throws?|threw) (?:boiling|hot|burning) (?:water|oil|tea) (?:on|at|over) (?:me|my)|burns? me with",
    "INJURY": r"রক্ত\S*|rokto|blood|bleed\S*|পিঠ\S*|pith|দাগ\S*|dag|bruise\S*|ফেটে|fete|ফুলে|fule|broke my|ভেঙে",
    "THREAT_FUT": r"মেরে ফেলবে|মেরেই ফেলবে|জানে মেরে ফেলবে|জানে মারবে|মারবে|খুন করবে|জবাই করবে|কুপিয়ে মারবে|কেটে ফেলবে|পুড়িয়ে মারবে|পুড়িয়ে দেবে"
    r"|(?:এসিড|অ্যাসিড|acid)\S* (?:\S+ ){0,2}(?:মারবে|ছুড়বে|ছুঁড়বে|ঢেলে দেবে|ঢেলে দিবে|দেবে|দিবে|মেরে দেবে|মেরে দিবে|marbe|churbe|chhurbe"
    r"|dhele dibe|dhele debe|mere dibe|mere debe|dibe|debe|throw\S*)"
    r"|(?:kill|murder|khun|খুন|জবাই|jobai|rape|ধর্ষণ)\S* (?:\S+ ){0,1}(?:করবে|করে ফেলবে|করে দেবে|korbe|kore felbe|kore dibe|kore debe)"
    r"|(?:মেরে|কেটে|পুড়িয়ে|mere|kete|puriye) (?:\S+ ){0,2}(?:দেবে|দিবে|ফেলবে|রাখবে|dibe|debe|felbe|rakhbe)"
    r"|তুলে নিয়ে যাবে|tule niye jabe|kidnap\S*|অপহরণ\S*|ophoron\S*"
    r"|mere felbe|mere phelbe|meira felbe|marbe|jane marbe|jane mere felbe|khun korbe|jobai korbe|kupiye marbe|puriye marbe"
    r"|(?:tor|তোর|tomar|তোমার|toke|তোকে|tomake|তোমাকে|your|you)\S* (?:\S+ ){0,2}(?:ses|শেষ|khun|খুন|mere|মেরে|kill|jane mere) (?:kore |করে )?"
    r"(?:dibo|dimu|felbo|felmu|দেব|দিব|দিমু|ফেলব|ফেলমু|korbo|করব)"
    r"|(?:he|she|they)(?:ll| will| would|d| is going to| s going to| is gonna) (?:kill|murder|hurt|burn|beat|finish|stab|shoot) me"
    r"|(?:he|she|they)(?:ll| will| would|d| is going to| is gonna) (?:slit|cut|break|smash) my (?:throat|neck|face|legs?|arms?|bones?)"
    r"|(?:will|going to|gonna) (?:kill|murder|hurt|stab) me|finish me off"
    r"|(?:amake|আমাকে) (?:\S+ )?(?:ses|শেষ) (?:kore|করে) (?:dibe|debe|দেবে|দিবে)"
    r"|(?:pics|photos|pictures|chobi|ছবি|video|videos|ভিডিও|nudes?)\S* (?:\S+ ){0,2}(?:leak|viral|ভাইরাল|ছড়িয়ে|chhoriye|choriye|post"
    r"|upload|share|ছেড়ে|chere|chhere|ফেসবুকে|facebook e|fb te|নেটে|net e|online e)\S* (?:\S+ ){0,1}(?:korbe|করবে|dibe|debe|দেবে|দিবে"
    r"|kore dibe|করে দেবে|ছেড়ে দেবে|ছেড়ে দিবে|chere dibe|diye dibe|দিয়ে দেবে)",
    "THREAT_CTX": r"বলেছে|বলছে|বলে|বলসে|বলতেছে|হুমকি\S*|ভয় দেখায়|ভয় দেখাচ্ছে|bolse|bolche|boleche|bole|bolteche|boltese|humki|threat\S*"
    r"|said|says|told me|tells me|if i|jodi|যদি|না হলে|na hole|nahole|korle|করলে|bolle|বললে|kauke|কাউকে|blackmail\S*|ব্ল্যাকমেইল\S*"
    r"|@ABUSER|@ME_OBJ",
    "SEX_ACT": r"touch\S* me(?! (?:deeply|so much|a lot|emotionally|every time))|গায়ে হাত দেয়|গায়ে হাত দিছে|গায়ে হাত দিয়েছে|গায়ে হাত দেন"
    r"|খারাপ জায়গায় হাত|খারাপভাবে ছোঁয়|খারাপ ভাবে ছোঁয়|খারাপভাবে ছুঁয়েছে|জোর করে (?:\S+ )?(?:চুমু|জড়িয়ে|কাপড়)|কাপড় খুলতে"
    r"|gaye hat dey|gaye haat dey|gaye hat dise|gaye haat dise|kharap jaygay hat|kharap bhabe chuy|kharap vabe chuy"
    r"|(?:জোর করে|jor kore|forcibly|force kore) (?:\S+ ){0,2}(?:খারাপ কাজ|খারাপ কিছু|kharap kaj|kharap kichu|চুমু|chumu|জড়িয়ে|joriye"
    r"|কাপড়|kapor|বিছানায়|bichanay|sex|touch\S*)|kapor khulte|molest\S*|rape\S*|ধর্ষণ\S*|dhorshon|যৌন হয়রানি|sexually (?:abus|harass|assault)\S*"
    r"|forces? me to|chumu khay|চুমু খায়|bad touch|private parts?|touch (?:kore|korse|kortese|korche|করে|করছে|করেছে)",
    "PEST_USE": r"যন্ত্রণায়|উপদ্রব\S*|জ্বালায়|রান্নাঘরে|kitchen|garden|বাগান\S*|ক্ষেত\S*|khet\S*|crops?|pest\S*|for the rats|rats are"
    r"|mice|তেলাপোকা\S*|telapoka|cockroach\S*|মশা\S*|mosha|ivy|oak|cream|lotion|ointment|antidote|food poisoning|poisoning"
    r"|সাপ\S*|snake|মৌমাছি|bee|scorpion|বিছা|পোকা\S*|poka",
    "SEX_CTX": r"@ABUSER|রাতে|raat e|raate|rate|at night|when no one|no ones home|keu na thakle|কেউ না থাকলে|একা পেলে|eka pele|alone"
    r"|kauke bolle|কাউকে বললে|if i tell|dont tell|kake bolbo|কাকে বলব|kauke bolte|কাউকে বলতে|rume|room e|ঘরে আসে|rume ashe|রুমে আসে",
}
_CONCEPT_REF = regex.compile(r"@([A-Z][A-Z0-9_]*)")


def expand_concepts(source: str) -> str:
    """Replace every ``@NAME`` by concept NAME's alternation (concepts may name others)."""
    while "@" in source:
        source = _CONCEPT_REF.sub(lambda m: "(?:" + CONCEPTS[m.group(1)] + ")", source)
    return source


# -- shared pieces (Bengali written naturally; folded by rx)
WANT = r"(?:চাই|চাচ্ছি|ইচ্ছ[াে]? (?:করে|করছে|হয়|হচ্ছে|জাগে)|মন চায়|মন চাইছে)"
WANT_NOT = r"(?:চাই ?না|ইচ্ছ[াে]? (?:করে|করছে|হয়) ?না|মন চায় ?না)"
WILL_GIVE = r"(?:দিই|দেই|দেবো?|দিবো?|দিতে " + WANT + r"|ফেলি|ফেলবো?|ফেলতে " + WANT + r")"
SUI_BN = r"(?:আত্[মন]হত্[যত]া|সুইসাইড|suicide|sucide|suside)"
PILL_BN = r"(?:ওষুধ|ঔষধ|ট্যাবলেট|বড়ি|পিল|pills?|tablets?|meds|মেডিসিন|sleeping)"
QUANT_BN = r"(?:সব|সবগুলো|সবগুলা|একসাথে|একবারে|পুরো|পাতা|অনেকগুলো|অনেক|বোতল|\d{2,} ?টা)"
ABUSER = (
    r"(?:স্বামী|বাবা|আব্বা|আব্বু|শ্বশুর|শাশুড়ি|শ্বশুরবাড়ি|সৎ ?বাবা|ভাই|চাচা|মামা|লোকেরা|প্রেমিক|husband|bf|"
    r"boyfriend|abba|abbu|baba|sami|swami|sami|bor|stepfather|stepdad|father|dad|partner|uncle|in ?laws)"
)
FEAR = (
    r"(?:ভয়|হুমকি|বলেছে|বলছে|threat|scared|afraid|terrified|বোলসে|bolse|boleche|bolche|humki|boy lag|boy pac"
    r"|ছুরি|বটি|বন্দুক|knife|gun|churi|curi|boti|bai|bondhuk)"
)

SIGNALS: tuple[Signal, ...] = (
    # ---- Bengali script (and code-mixed) on the base key
    _sig("bn_not_live", S, "base", r"\b(?:বাচতে|বেচে থাকতে) (?:আর )?(?:" + WANT_NOT + r"|(?:ভালো|ভাল) লাগে ?না)\b"),
    _sig("bn_not_keep_life", S, "base", r"(?:জীবন|জীবনটা|life ?টা|প্রাণ)\S* (?:আর )?রাখতে (?:আর )?" + WANT_NOT + r"\b"),
    _sig(
        "bn_no_will_to_live",
        S,
        "base",
        r"\b(?:বাচার|বেচে থাকার|জীবন রাখার|জীবনের|বাচার) (?:আর )?(?:কোনো |কোন )?(?:ইচ্ছ[াে]?|শখ|মানে|অর্থ|কারণ) "
        r"(?:আর )?(?:নেই|নাই|হয় না)",
    ),
    _sig(
        "bn_no_point_living",
        S,
        "base",
        r"\bবেচে (?:থেকে|থাকা|থাকার) (?:আর )?(?:(?:কী|কি|কোনো)? ?লাভ|(?:কী|কি) হবে|মানে কী|মানে কি)",
    ),
    _sig("bn_wont_live", S, "base", r"\bআর বাচবো? ?না\b", "LOL"),
    _sig("bn_want_die", S, "base", r"\b(?:মরতে|মরে যেতে|মারা যেতে) " + WANT + r"\b", "NEG FIG"),
    _sig(
        "bn_better_dead",
        S,
        "base",
        r"\b(?:মরে যাওয়াই|মরে গেলেই|মরলেই|মরে গেলে|মরাই|মরণই|মৃত্যুই) (?:ভালো|ভাল|শান্তি)|\b(?:আমার )?(?:মরে যাওয়া|মরা) উচিত\b",
        "NEG FIG THIRD",
    ),
    _sig("bn_wish_death", S, "base", r"\bমৃত্যু (?:চাই|কামনা করি)\b", "NEG TOPIC"),
    _sig(
        "bn_suicide_intent",
        S,
        "base",
        SUI_BN + r"\S* " + g(2) + r"(?:করবো?|করে ফেলবো?|করতে " + WANT + r"|করার (?:কথা |চিন্তা )?"
        r"(?:ভাবছি|ভাবি|ভাবতেছি|চিন্তা করছি|(?:প্ল্যান|plan) করছি|সিদ্ধান্ত নিয়েছি))\b",
        "NEG TOPIC THIRD",
    ),
    _sig(
        "bn_suicide_thoughts",
        S,
        "base",
        SUI_BN + r"\S* (?:কথা|চিন্তা) " + g(2) + r"(?:আসে|আসছে|ঘুরছে|ভাবছি|ভাবি|মাথায়)\b",
        "NEG TOPIC THIRD PAST",
    ),
    _sig(
        "bn_suicide_note",
        S,
        "base",
        r"(?:সুইসাইড|suicide) (?:নোট|note|letter) " + g(2) + r"(?:লিখে|লিখেছি|লিখছি)",
        "NEG TOPIC THIRD",
    ),
    _sig("bn_end_self", S, "base", r"\bনিজেকে (?:শেষ|খতম|মেরে) (?:করে )?" + WILL_GIVE + r"\b", "NEG"),
    _sig(
        "bn_end_life",
        S,
        "base",
        r"(?:জীবন|জীবনটা|life ?টা|life|লাইফ ?টা) (?:শেষ|খতম|end) (?:করে )?" + WILL_GIVE + r"\b",
        "NEG",
    ),
    _sig("bn_end_all", S, "base", r"\bসব(?:কিছু)? (?:শেষ|খতম|end) করে " + WILL_GIVE + r"\b", "NEG TASK"),
    _sig(
        "bn_leave_forever",
        S,
        "base",
        r"(?:চিরদিনের জন্য|চিরতরে|চিরকালের জন্য|পৃথিবী ছেড়ে|দুনিয়া ছেড়ে|না ফেরার দেশে) "
        + g(3)
        + r"(?:(?:চলে|হারিয়ে) যেতে "
        + WANT
        + r"|(?:চলে|হারিয়ে) যাবো?)\b|\b(?:চলে|হারিয়ে) যেতে "
        + WANT
        + " "
        + g(3)
        + r"(?:চিরদিনের জন্য|চিরতরে|চিরকালের জন্য|পৃথিবী ছেড়ে|দুনিয়া ছেড়ে)",
        "NEG THIRD",
    ),
    _sig(
        "bn_better_without_me",
        S,
        "base",
        r"\bআমি (?:না থাকলে|চলে গেলে|মরে গেলে|মরলে)(?:ই)? "
        + g(4)
        + r"(?:ভালো|ভাল|শান্তি|সুখে|খুশি|মুক্তি|কেউ\S* (?:\S+ )?\S*বে{1} ?না\b|কারো\S* কিছু (?:যায় আসে|আসে যায়) না)",
        unless="@LEAVING",
    ),
    _sig("bn_not_wake", S, "base", r"\bযেন " + g(2) + r"(?:আর )?ঘুম (?:আর )?না ভাঙে|ঘুম থেকে (?:আর )?যেন (?:আর )?না উঠি"),
    _sig(
        "bn_jump",
        S,
        "base",
        r"(?:ছাদ|ব্রিজ|সেতু|বিল্ডিং|তলা|ট্রেন|রেললাইন|roof|bridge|building|balcony)\S* "
        + g(3)
        + r"(?:লাফ|ঝাপ|jump) (?:দেবো?|দিবো?|দিই|দিতে "
        + WANT
        + r"|দেওয়ার কথা|মারবো?)",
        "NEG",
    ),
    _sig(
        "bn_hang",
        S,
        "base",
        r"\b(?:ফাসি|গলায় দড়ি) (?:দেবো?|দিবো?|দিই|নেবো?|নিবো?|দিতে " + WANT + r")\b|ফাসিতে ঝুলবো?\b",
        "NEG COURT",
    ),
    _sig(
        "bn_poison",
        S,
        "base",
        r"\bবিষ (?:খাবো?|খেতে " + WANT + r"|খেয়ে " + g(3) + r"(?:দেবো?|দিবো?|মরবো?|ফেলবো?|নেবো?))\b",
        "NEG",
    ),
    _sig(
        "bn_overdose",
        S,
        "base",
        r"\b(?:খাবো?|খেয়ে (?:ফেলবো?|নেবো?|নিবো?)|গিলবো?|গিলে (?:ফেলবো?|নেবো?|নিবো?))\b",
        "NEG",
        requires=r"(?=.{0,80}" + PILL_BN + r")(?=.{0,80}" + QUANT_BN + r")",
    ),
    _sig("bn_stockpile", S, "base", PILL_BN + r"\S* " + g(3) + r"জমিয়ে (?:রেখেছি|রাখছি)", "NEG"),
    _sig(
        "bn_lethal_query",
        S,
        "base",
        r"(?:কয়টা|কতগুলো|কতটা|কত|কতটুকু|কী পরিমাণ|কি পরিমাণ) "
        + g(5)
        + r"(?:খেলে|নিলে) "
        + g(2)
        + r"(?:মানুষ )?(?:মারা যায়|মরে|মরবো?|মৃত্যু)",
    ),
    _sig(
        "bn_method_query",
        S,
        "base",
        r"(?:মরার|আত্মহত্যার|আত্নহত্যার) (?:সহজ |সবচেয়ে সহজ )?(?:উপায়|পদ্ধতি|নিয়ম)|কি?ভাবে (?:মরা|আত্মহত্যা করা) যায়",
        "TOPIC",
    ),
    _sig("bn_goodbye", S, "base", r"\bসবাইকে (?:বিদায়|bye|গুডবাই)|শেষ চিঠি লিখে", "THIRD", unless="@LEAVING"),
    _sig(
        "bn_cut",
        H,
        "base",
        r"\b(?:হাত|হাতের শিরা|শিরা|রগ|গলা|নিজেকে|নিজের শরীর|শরীর) (?:কাটি|কাটছি|কেটে ফেলি|কেটে ফেলবো?|কাটবো?|কাটতে "
        + WANT
        + r"|কেটে ফেলতে "
        + WANT
        + r")\b",
        "NEG ACCIDENT",
    ),
    _sig(
        "bn_blade",
        H,
        "base",
        r"(?:ব্লেড|blade|ছুরি|ক্ষুর) দিয়ে " + g(2) + r"(?:কাটি|কাটছি|কাটতাম|কেটে ফেলি|কাটতে " + WANT + r")\b",
        "NEG ACCIDENT",
        requires=r"(?:হাত|শরীর|নিজে|গায়|উরু|কবজি|রগ|শিরা|রক্ত|দাগ|শান্তি|হালকা|প্রায়ই|আবার|যখন|hat|hand|arm|wrist|thigh)",
        unless="@CUT_OBJ",
        window=30,
    ),
    _sig(
        "bn_hurt_self",
        H,
        "base",
        r"\bনিজেকে "
        + g(1)
        + r"(?:আঘাত|কষ্ট|ব্যথা|ক্ষতি|শাস্তি|hurt|harm) (?:করতে|দিতে) "
        + g(2)
        + WANT
        + r"|\bনিজেকে "
        + g(1)
        + r"(?:আঘাত|ব্যথা|hurt|harm) (?:করি|দিই|দেই|করছি|দিচ্ছি)\b"
        r"|\bনিজের (?:ক্ষতি|hurt|harm) (?:করবো?|করতে " + WANT + r"|করে ফেলবো?)\b",
        "NEG PAST",
    ),
    _sig(
        "bn_scars",
        H,
        "base",
        r"(?:হাতের|শরীরের) (?:কাটা )?দাগ " + g(2) + r"লুকি|(?:আবার|again) cutting|cutting (?:শুরু|করছি|again)"
        r"|self ?harm (?:করি|করছি|শুরু)",
        "TOPIC THIRD",
    ),
    _sig(
        "bn_beaten",
        OTH,
        "base",
        r"\b(?:আমাকে|আমায়) " + g(4) + r"(?:মা{1}রে|মা{1}রছে|মারধর কর(?:ে|ছে)|পেটায়|পেটাচ্ছে|মারতে আসে|নির্যাতন কর(?:ে|ছে)"
        r"|(?:hit|beat|slap|torture|abuse|kick|punch|harass|rape|touch) (?:করে|করছে|করেছে|করতেছে))\b",
        "NEG",
    ),
    _sig(
        "bn_abuse",
        OTH,
        "base",
        ABUSER + r"\S* " + g(3) + r"(?:মারধর কর(?:ে|ছে)|রোজ মা{1}রে|প্রতিদিন মা{1}রে|নির্যাতন কর(?:ে|ছে))\b",
        "NEG",
    ),
    _sig(
        "bn_kill_threat",
        OTH,
        "base",
        r"(?:মেরে ফেলবে|মেরে ফেলার|খুন করবে|খুন করার|জানে মেরে|মেরে ফেলতে চায়|জবাই করবে|জবাই করার|গলা টিপে|কুপিয়ে|পুড়িয়ে মারবে"
        r"|কেটে ফেলবে|কেটে টুকরো)",
        "NEG JOKE",
        requires=ABUSER + "|" + FEAR,
    ),
    _sig(
        "bn_threatened",
        OTH,
        "base",
        r"\b(?:আমাকে|আমায়) " + g(5) + r"(?:হুমকি|threat) (?:দিচ্ছে|দেয়|দিয়েছে|দিচ্ছেন|দিতেছে)",
        "NEG",
    ),
    _sig(
        "bn_locked",
        OTH,
        "base",
        r"\b(?:আমাকে|আমায়) " + g(3) + r"আটকে (?:রেখে|রেখেছে|রাখে|রাখছে)|বের (?:হতে|হওয়ার) দিচ্ছে না|বের হতে দেয় না",
        "NEG",
    ),
    _sig("bn_acid", OTH, "base", r"(?:acid|এসিড|অ্যাসিড) " + g(2) + r"(?:মারবে|ছুড়বে|মারার|দেবে|ছুড়ে)", "NEG TOPIC"),
    # ---- English on the base key (apostrophes are dropped there: "don't" -> "dont", "he'll" -> "hell")
    _sig(
        "en_kill_self",
        S,
        "base",
        r"\b(?:kill(?:ing|ed)?|hang(?:ing)?|shoot(?:ing)?|drown(?:ing)?|poison(?:ing)?) my ?self\b",
        "NEG FIG THIRD",
    ),
    _sig(
        "en_end_life",
        S,
        "base",
        r"\b(?:end(?:ing)?|take|taking) (?:my|this) (?:own )?life\b|\bend it all\b"
        r"|\bwant (?:it all|everything|all this|all of this|my life) to (?:end|stop)\b",
        "NEG THIRD",
    ),
    _sig("en_want_die", S, "base", r"\b(?:want(?:ed)?|wanna|need|ready|deserve) (?:to )?die\b", "NEG FIG THIRD"),
    _sig(
        "en_wish_dead",
        S,
        "base",
        r"\bwish (?:i (?:was|were) (?:dead|never born)|i (?:could|would) (?:just )?(?:die|disappear))\b"
        r"|\bbetter off (?:dead|without me)\b|\bdisappear forever\b",
        "NEG THIRD",
    ),
    _sig(
        "en_not_live",
        S,
        "base",
        r"\b(?:dont|do not|no longer) want to (?:live|be alive|exist|wake up|be here|go on)\b(?! at| in| with| for| tonight| today)"
        r"|\bno (?:reason|point|will) (?:to|in) (?:live|living|go on|going on|be alive|keep going|wake up)\b"
        r"|\b(?:cant|cannot|can not) go on (?:any ?more|living)\b",
        "THIRD",
    ),
    _sig(
        "en_suicidal",
        S,
        "base",
        r"\bsuicidal (?:thoughts|ideation|feelings|urges|again)\b"
        r"|\b(?:im|i am|feel|feeling|been|getting) (?:so |very |really |kinda |a bit |pretty |quite )?suicidal\b"
        r"|\b(?:thinking|thought|think|considering|planning|plan) (?:about |of |on )?(?:suicide|killing myself|ending (?:my life|it all)"
        r"|taking my (?:own )?life)\b"
        r"|\b(?:going to|gonna|want to|wanna|plan to|planning to|about to|ready to|will|might) (?:commit|attempt) suicide\b",
        "NEG THIRD TOPIC",
    ),
    _sig(
        "en_goodbye",
        S,
        "base",
        r"\b(?:goodbye|farewell|suicide) (?:letters?|notes?|messages?)\b|\b(?:wrote|written|writing) (?:my )?last (?:letter|note)",
        "NEG THIRD TOPIC",
    ),
    _sig(
        "en_lethal_query",
        S,
        "base",
        r"\bhow (?:many|much) "
        + g(6)
        + r"(?:to die|to kill (?:me|myself|a person|someone)|would kill|will kill|kill me"
        r"|is lethal|is fatal|to overdose|to od)\b|\b(?:lethal|fatal|deadly) (?:dose|amount|dosage)\b"
        r"|\b(?:easiest|painless|painlessly|quickest|best|quick|fastest) (?:way|ways|method|methods) to (?:die|kill myself|end (?:my|it))\b"
        r"|\bhow (?:to|do i|can i|should i) (?:kill myself|die painlessly|commit suicide|hang myself|overdose)\b",
        "TOPIC",
    ),
    _sig(
        "en_overdose",
        S,
        "base",
        r"\b(?:take|taking|took|swallow|swallowing|swallowed|down|downed|overdose on|overdosed on) (?:all|every one of|the whole (?:bottle|pack|strip)|"
        r"a whole (?:bottle|pack)|\d{2,}|twenty|thirty|forty|fifty|a hundred)(?: of)? (?:my |the |these |those )?"
        r"(?:\S+ )?(?:pills|tablets|meds|medication|medicine|painkillers)\b"
        r"|\b(?:im going to|i will|ill|gonna|want to|wanna|planning to|thinking (?:about|of)) (?:overdose|overdosing|od)\b"
        r"|\bi (?:just |already |have |ve )?(?:took|taken|swallowed) (?:too many|way too many|a lot of|lots of) (?:\S+ )?(?:pills|tablets)\b",
        "NEG THIRD",
    ),
    _sig(
        "en_jump",
        S,
        "base",
        r"\bjump(?:ing)? (?:off|from) (?:the |a |my |this )?(?:\S+ ){0,3}(?:roof|bridge|building|balcony|cliff|terrace|tower)\b"
        r"|\b(?:jump|jumping|throw myself|throwing myself|step|stepping) (?:in front of|under) (?:a |the )?(?:train|bus|truck|car)\b",
        "NEG THIRD",
    ),
    _sig(
        "en_rope",
        S,
        "base",
        r"\b(?:bought|got|have|tied|tying) (?:a |the )?(?:rope|noose)\b",
        "NEG THIRD TOPIC",
        requires=r"\b(?:hang|myself|die|end|tonight|neck)\b",
    ),
    _sig("en_wrists", S, "base", r"\b(?:slit|cut|cutting) my (?:wrists?|veins?)\b", "NEG"),
    _sig(
        "en_self_harm",
        H,
        "base",
        r"\b(?:cut|cutting|cuts|hurt|hurting|harm|harming|burn|burning|punish|punishing|starve|starving|scratch|scratching"
        r"|hit|hitting|punch|punching|bite|biting) "
        r"my ?self\b|\bcutting again\b|\brelapsed? (?:on |into )?(?:cutting|self ?harm)\b",
        "NEG THIRD ACCIDENT PAST",
    ),
    _sig(
        "en_self_harm_noun",
        H,
        "base",
        r"\b(?:i |been |started |keep |my |urge to |urges to )self ?harm(?:ing)?\b",
        "NEG THIRD TOPIC",
    ),
    _sig(
        "en_beaten",
        OTH,
        "base",
        r"\b(?:beats|hits|beat|slaps|slapped|kicks|kicked|chokes|choked|strangles|abuses|abused|rapes|raped|punches"
        r"|punched|burns) me\b(?! at| in| to)",
        "NEG LOL",
    ),
    _sig(
        "en_kill_threat",
        OTH,
        "base",
        r"\b(?:will|going to|gonna|threatened to|threatens to|threatening to|said hed|said he would|said she would|hell"
        r"|shell|theyll|wants to|is going to) (?:kill|murder|hurt|beat) me\b",
        "NEG JOKE",
        requires=ABUSER + r"|\b(?:scared|afraid|terrified|tonight|threat|beats|hits|knife|gun)\b",
    ),
    _sig(
        "en_threatened",
        OTH,
        "base",
        r"\bthreaten(?:ed|s|ing)? me\b|\blocked me (?:in|up|inside)\b|\b(?:with|holding|pulled) a (?:knife|gun) on me\b"
        r"|\bacid (?:attack|on me)\b",
        "NEG JOKE TOPIC",
    ),
    # ---- romanised Bengali on the folded key (write patterns in folded spelling: sh->s, kh->k, bh/v->b ...)
    _sig(
        "rom_not_live",
        S,
        "rom",
        r"\b(?:bachte|bacte|banchte|beche takte|bache takte|bece takte) (?:ar |r )?(?:chai|cai|iche|icha|mon chay)"
        r"(?: kore| hoy| korche)? ?na\b|\b(?:ar|r) bachbo? ?na\b"
        r"|\b(?:bachar|beche takar) (?:kono )?(?:iche|icha|mane|sok|karon) (?:nei|nai|nay)\b"
        r"|\b(?:jibon|jiboner|bache takar) (?:kono )?(?:mane|ortho|dam) (?:nei|nai)\b",
        "LOL",
    ),
    _sig(
        "rom_want_die",
        S,
        "rom",
        r"\b(?:morte|more jete|mara jete) (?:chai|cai|chachi|iche|icha|mon chay|mon chai)\b",
        "NEG FIG",
    ),
    _sig(
        "rom_suicide",
        S,
        "rom",
        r"\b(?:a?tm[ao]?h[oa]t(?:ya|a|yah)?|suicide|sucide|suside)r? "
        + g(1)
        + r"(?:korbo|korbu|krbo|kore felbo|korte (?:chai|cai|iche|icha|mon chay)"
        r"|korar (?:kota |chinta |plan )?(?:babchi|babtechi|chinta korchi|sidd?anto niyechi|plan korchi|plan kortesi|plan kore fela?chi)|er chinta (?:ase|asche|astese))\b",
        "NEG TOPIC THIRD",
    ),
    _sig(
        "rom_end",
        S,
        "rom",
        r"\b(?:nijer jibon|jibon|jibonta|life|lifeta|nijeke|sob|sobkichu|sb|sob kichu)(?: ta| ke)? (?:ses|kotom|khotom) kore "
        r"(?:dibo|debo|dbo|dii|dei|di|dite (?:chai|cai|iche|icha)|felbo|fele dibo)\b",
        "NEG TASK",
    ),
    _sig("rom_end_self", S, "rom", r"\bnijeke mere (?:felbo|dibo|felte (?:chai|iche|icha))\b", "NEG"),
    _sig(
        "rom_without_me",
        S,
        "rom",
        r"\bami (?:na takle|chole gele|more gele|morle)i? "
        + g(4)
        + r"(?:balo|santi|suke|kusi|keu kadbe na|karo kichu jay ase na)",
        unless="@LEAVING",
    ),
    _sig("rom_not_wake", S, "rom", r"\bjeno (?:ar |r )?gum (?:ar |r )?na (?:bange|bangbe|bhange)\b"),
    _sig(
        "rom_jump",
        S,
        "rom",
        r"\b(?:chad|chader|roof|brij|bridge|building|tola|train)(?: teke| er)? "
        + g(2)
        + r"(?:laf|lap|jump|jap|jhap) (?:dibo|debo|dbo|dite (?:chai|iche)|marbo)\b",
        "NEG",
    ),
    _sig(
        "rom_hang",
        S,
        "rom",
        r"\b(?:fasi|fansi|gole dori) (?:dibo|debo|dbo|nibo|nebo|dite (?:chai|cai|iche|icha))\b",
        "NEG COURT",
    ),
    _sig("rom_poison", S, "rom", r"\bbis (?:kabo|kete chai|keye " + g(3) + r"(?:dibo|morbo|felbo))\b", "NEG"),
    _sig(
        "rom_overdose",
        S,
        "rom",
        r"\b(?:kabo|kabu|keye (?:felbo|nibo|nebo))\b",
        "NEG",
        requires=r"(?=.{0,80}(?:osud|osudh|ousud|ausad|pills?|tablets?|gumer))"
        r"(?=.{0,80}(?:\bsob\b|sobgulo|sobgula|eksate|ek sate|puro|pata|\d{2,} ?ta|onekgulo))",
    ),
    _sig(
        "rom_lethal_query",
        S,
        "rom",
        r"\b(?:koyta|kotogulo|koto|kototuku) " + g(4) + r"(?:kele|nile) " + g(2) + r"(?:mara jay|more|morbo|mrittu)\b",
    ),
    _sig(
        "rom_goodbye",
        S,
        "rom",
        r"\bsobaike (?:bye|biday|goodbye)\b|\b(?:ar|r) takbo na\b",
        "THIRD",
        requires=r"\b(?:bye|biday|goodbye|maf kore|kkoma kore|kroma kore)\b",
        unless="@LEAVING",
    ),
    _sig(
        "rom_cut",
        H,
        "rom",
        r"\b(?:hat|gola|sira|rog|nijeke)\S* (?:kete feli|kati|katchi|katte (?:chai|iche|icha|mon chay)|kete felte (?:chai|iche|icha))\b"
        r"|\b(?:blade|cuhri|churi|kur) diye " + g(2) + r"(?:kati|katchi|kete feli)\b",
        "NEG ACCIDENT",
        requires=r"(?:hat|haat|gola|sira|rog|nije|sorir|gaye|uru|kobji|rokto|dag|santi|halka|prai|abar|jokon|hand|arm|wrist|thigh)",
        unless="@CUT_OBJ",
        window=30,
    ),
    _sig(
        "rom_hurt_self",
        H,
        "rom",
        r"\bnijeke (?:kosto|agat|abat|koti|hurt|harm|beta) (?:dite|korte) (?:chai|cai|iche|icha|mon chay)\b"
        r"|\bnijer (?:koti|hurt|harm) (?:korbo|korte (?:chai|iche))\b",
        "NEG",
    ),
    _sig(
        "rom_beaten",
        OTH,
        "rom",
        r"\b(?:amake|amay) " + g(4) + r"(?:mare|marche|pitay|pitache|mardor kore|nirjaton kore)\b"
        r"|\b" + ABUSER + r" " + g(2) + r"(?:roj |protidin |sobsomoy )(?:mare|marche|pitay|mardor kore)\b",
        "NEG",
    ),
    _sig(
        "rom_kill_threat",
        OTH,
        "rom",
        r"\bmere (?:felbe|felar|felte chay)\b|\bkun (?:korbe|korar)\b",
        "NEG JOKE",
        requires=ABUSER + "|" + FEAR,
    ),
    _sig(
        "rom_threatened",
        OTH,
        "rom",
        r"\b(?:amake|amay) " + g(5) + r"(?:humki|threat) (?:diche|dey|diyeche|dise|dicche|ditese)\b"
        r"|\b(?:amake|amay) " + g(3) + r"atke (?:rekhe|rakhe|rakche|rekhese|rekese)\b",
        "NEG",
    ),
    # ---- added after the first hard-case round (general forms, not single sentences)
    _sig(
        "bn_no_way_but_death",
        S,
        "base",
        r"(?:মরা|মরে যাওয়া|মৃত্যু|" + SUI_BN + r")\S* ছাড়া (?:আর )?(?:কোনো |কোন )?(?:উপায়|পথ|রাস্তা) (?:নেই|নাই|দেখছি না|খোলা নেই)",
        "NEG TOPIC THIRD",
    ),
    _sig(
        "bn_never_wake",
        S,
        "base",
        r"\b(?:আর|কখনো) (?:কখনো |কখনোই |যেন )?না (?:জাগি|জেগে উঠি)\b"
        r"|(?:চিরদিনের জন্য|চিরতরে|চিরকালের জন্য) ঘুমিয়ে (?:(?:পড়তে|থাকতে|যেতে) " + WANT + r"|পড়বো?|যাবো?|থাকবো?)",
    ),
    _sig("bn_attempted", S, "base", SUI_BN + r"\S* চেষ্টা (?:করেছি|করেছিলাম|করবো?|করলাম)\b", "NEG TOPIC THIRD PAST"),
    _sig(
        "bn_sexual_abuse",
        OTH,
        "base",
        r"(?:খারাপভাবে|খারাপ ভাবে|বাজেভাবে|বাজে ভাবে|জোর করে) (?:ছোঁয়|ছুঁয়েছে|ছোঁয়ার|স্পর্শ কর|গায়ে হাত দেয়)"
        r"|\b(?:আমাকে|আমায়|আমার সাথে|আমার সঙ্গে) "
        + g(3)
        + r"(?:ধর্ষণ|যৌন নির্যাতন|যৌন হয়রানি|rape) (?:করে|করেছে|করছে|করতে চায়)\b",
        "NEG TOPIC",
    ),
    _sig(
        "en_end_it",
        S,
        "base",
        r"\b(?:plan|planning|going|gonna|want|wanna|ready|decided|about) to end (?:it|things|everything)\b(?! with| between| for)",
        "NEG THIRD",
    ),
    _sig(
        "en_if_gone",
        S,
        "base",
        r"\bif i (?:was|were|am|m) (?:gone|dead|not here|not around)\b|\bif i (?:died|disappeared|killed myself)\b",
        "THIRD",
        requires=r"\b(?:nobody|no one|noone|better|care|notice|miss|happier|relief|relieved)\b",
        unless=r"for (?:a|one|two|a few|\d+) (?:\S+ )?(?:days?|weeks?|months?|hours?|while|bit)",
    ),
    _sig(
        "en_never_wake",
        S,
        "base",
        r"\b(?:want to|wanna|wish i could|i hope i|just want to|would rather) (?:\S+ ){0,5}(?:never wake up|not wake up|sleep forever"
        r"|not exist|stop existing|cease to exist)\b|\bunalive (?:my ?self|me)\b",
        "NEG THIRD",
    ),
    _sig(
        "en_way_out",
        S,
        "base",
        r"\bway out (?:except|but|other than|besides) (?:dying|death|suicide|to die|killing myself)\b"
        r"|\bonly (?:way out|option|answer|solution) (?:is|left is) (?:death|dying|suicide|to die)\b"
        r"|\bdeath is the only (?:way|option|answer|solution)\b",
        "THIRD TOPIC",
    ),
    _sig(
        "en_sexual_abuse",
        OTH,
        "base",
        r"\b(?:touches|touched|touching) me (?:inappropriately|without|at night|down there|when)\b"
        r"|\bsexually (?:abuses|abused|abusing|assaulted|harasses) me\b|\bforces? me to (?:have sex|sleep with)\b",
        "NEG TOPIC",
    ),
    _sig("rom_no_point", S, "rom", r"\b(?:beche|bece|bache) teke (?:ar )?(?:ki|kono) lab\b"),
    _sig(
        "rom_sexual_abuse",
        OTH,
        "rom",
        r"\b(?:karap|baje) ?babe (?:chuy|chuye|chor|sporso kore)\b|\b(?:amake|amay) "
        + g(3)
        + r"(?:dorson|rape) (?:kore|koreche|korte chay)\b",
        "NEG",
    ),
    # ---- added after the second hard-case round
    _sig(
        "bn_die_with_method",
        S,
        "base",
        r"\bমরবো?\b",
        "NEG FIG THIRD JOKE",
        requires=r"(?:ঝাপ|লাফ|বিষ|ফাসি|দড়ি|ব্লেড|ওষুধ|pills?|ট্রেন|নদী|ছাদ|আজ রাতে|আজকে রাতে|ঠিক করেছি|সিদ্ধান্ত|আজকেই|আজই)",
    ),
    _sig(
        "bn_die_by_method",
        S,
        "base",
        r"\bমরে যাবো?\b",
        "NEG FIG THIRD JOKE",
        requires=r"(?:ঝাপ|লাফ|বিষ|ফাসি|দড়ি|ব্লেড|ওষুধ|pills?|ট্রেন|নদী|ছাদ)",
    ),
    _sig(
        "bn_poison_near",
        S,
        "base",
        r"\bবিষ\b",
        "NEG THIRD",
        requires=r"(?:খাবো?\b|খেয়ে (?:নেবো?|ফেলবো?|মরবো?)|কিনে এনেছি|কিনেছি|জোগাড় করেছি|লুকিয়ে রেখেছি)",
        unless="@PEST_USE",
    ),
    _sig(
        "bn_my_death_relief",
        S,
        "base",
        r"\bআমার (?:মৃত্যু|মরণ|মরে যাওয়া)\S* " + g(3) + r"(?:মুক্তি|ভালো|শান্তি|সমাধান)|(?:মৃত্যু|মরণ)ই (?:একমাত্র )?(?:সমাধান|মুক্তি|পথ)",
        "NEG TOPIC THIRD",
    ),
    _sig(
        "bn_blade_drag",
        H,
        "base",
        r"(?:ব্লেড|blade|ছুরি|ক্ষুর) (?:চালাই|চালাচ্ছি|চালিয়েছি|টানি|ঘষি)\b|\bনিজেকে (?:কষ্ট|আঘাত|ব্যথা) দিলে "
        + g(3)
        + r"(?:হালকা|শান্তি|ভালো লাগে)",
        "NEG THIRD",
    ),
    _sig(
        "en_last_alive",
        S,
        "base",
        r"\blast (?:night|day|week|hours?) (?:alive|on earth|of my life)\b|\bwont be (?:alive|here|around) (?:tomorrow|much longer|anymore)\b"
        r"|\bthis is (?:my )?(?:goodbye|last message)\b|\bby the time you read this\b|\bgoodbye forever\b",
        "THIRD TOPIC",
    ),
    _sig(
        "en_point_living",
        S,
        "base",
        r"\b(?:whats|what is) the point (?:of|in) (?:living|being alive|going on|staying alive|my life)\b"
        r"|\b(?:tired|sick) of (?:living|being alive|life|existing)\b|\bdone with (?:life|living|being alive|this world)\b"
        r"|\bwant to disappear\b(?! to| for| into| from)",
        "NEG THIRD FIG",
    ),
    _sig(
        "rom_die_with_method",
        S,
        "rom",
        r"\b(?:morbo|morbu|more jabo)\b",
        "NEG FIG THIRD",
        requires=r"\b(?:jap|jhap|laf|bis|fasi|fansi|dori|blade|osud|pills?|train|nodi|chad|rate|tik korechi|aj ?i)\b",
    ),
    _sig(
        "rom_poison_near",
        S,
        "rom",
        r"\bbis\b",
        "NEG THIRD",
        requires=r"\b(?:kabo|keye (?:nibo|felbo|morbo)|kine enechi|kinechi)\b",
    ),
    _sig(
        "rom_not_keep_life",
        S,
        "rom",
        r"\b(?:jibon|jibonta|life|lifeta|pran) (?:ar |r )?rakte (?:ar |r )?(?:chai|cai|iche|icha|mon chay) ?na\b",
    ),
    # ---- added after the third hard-case round
    _sig(
        "bn_not_in_world",
        S,
        "base",
        r"(?:পৃথিবীতে|দুনিয়াতে|দুনিয়ায়|world এ) (?:আর )?(?:থাকতে (?:আর )?"
        + WANT_NOT
        + r"|থাকবো? না)\b|\bশেষ হয়ে যেতে "
        + WANT
        + r"\b",
        "THIRD",
    ),
    _sig(
        "bn_at_edge",
        S,
        "base",
        r"(?:ব্রিজ|সেতু|bridge|রেললাইন|ট্রেন লাইন|railway|ledge|কিনার)\S* " + g(3) + r"(?:দাঁড়িয়ে|বসে) আছি\b",
        "NEG THIRD",
    ),
    _sig(
        "mixed_english_verb",
        S,
        "base",
        r"\b(?:die|suicide|kill myself|end my life|overdose|od|jump)\b (?:করতে|korte) "
        + WANT
        + r"|\b(?:exist|live|survive)\b (?:করতে|korte) (?:আর )?"
        + WANT_NOT,
        "NEG THIRD",
    ),
    _sig(
        "mixed_english_harm",
        H,
        "base",
        r"\b(?:cut|hurt|harm|self ?harm|burn)\b (?:করি|করছি|করতে " + WANT + r")\b",
        "NEG THIRD ACCIDENT",
    ),
    _sig(
        "bn_burned",
        OTH,
        "base",
        r"\b(?:আমাকে|আমায়|আমার গায়ে) " + g(5) + r"(?:ছ্যাঁকা|ছেঁকা) (?:দেয়|দিয়েছে|দিচ্ছে)|গলা টিপে ধর(?:ে|েছে|ছে)",
        "NEG",
    ),
    _sig(
        "en_at_edge",
        S,
        "base",
        r"\bi(?:m| am) (?:standing|sitting) on (?:the |a )?(?:(?:edge|ledge) of (?:the |a )?(?:bridge|roof|ledge|railway|tracks|balcony|building)|bridge|ledge|edge|railway|tracks)\b"
        r"|\b(?:have|holding|got) (?:the |my |all the )?(?:pills|rope|blade|razor|noose) (?:in my hand|ready|with me|right here)\b",
        "NEG THIRD",
    ),
    _sig("en_neck", OTH, "base", r"\bhands? (?:around|on) my (?:neck|throat)\b|\bstrangled me\b", "NEG TOPIC"),
    _sig(
        "rom_not_in_world",
        S,
        "rom",
        r"\b(?:prithibi|prtibi|pritibi|duniya|dunia)(?: te|te|y)? (?:ar |r )?(?:takte (?:chai|cai|iche|icha) ?na|takbo na)\b"
        r"|\bses hoye jete (?:chai|cai|iche|icha)\b",
        "THIRD",
    ),
    _sig(
        "rom_hurt_now",
        H,
        "rom",
        r"\bnijeke (?:agat|abat|kosto|beta|hurt|harm) (?:kori|dei|di|korchi|dicchi|dichi)\b",
        "NEG",
    ),
    _sig(
        "rom_better_dead",
        S,
        "rom",
        r"\b(?:moray|morai|more jawai|more jaoyai|more gelei|morlei) (?:balo|santi|valo)\b",
        "NEG FIG THIRD",
    ),
    _sig(
        "rom_swallow",
        S,
        "rom",
        r"\bgile (?:felbo|nibo|nebo)\b|\bgilbo\b",
        "NEG",
        requires=r"(?=.{0,80}(?:osud|pills?|tablets?|gumer))",
    ),
    # ---- added after the fourth (held-out) hard-case round
    _sig(
        "bn_better_without_me_2",
        S,
        "base",
        r"(?:সবাই|সবার|everyone) " + g(2) + r"আমাকে ছাড়া " + g(2) + r"(?:ভালো|ভাল|সুখে|শান্তিতে|better|happy) (?:থাকবে|হবে)"
        r"|(?:ভালো|ভাল|better|শান্তি|সুখে|খুশি|happy) " + g(2) + r"(?:থাকবে|হবে|পাবে)\S* " + g(1) + r"আমি না থাকলে",
    ),
    _sig(
        "bn_end_it_context",
        S,
        "base",
        r"\bশেষ করে (?:দিতে " + WANT + r"|দেবো?|দিবো?|দিই)\b",
        "NEG TASK THIRD",
        requires=r"(?:জীবন|life|বাচ|বেচে|মর|আর পারছি না|সহ্য|carry|টানতে পারছি না)",
    ),
    _sig(
        "bn_suicide_prep",
        S,
        "base",
        SUI_BN + r"\S* (?:করার )?জন্য " + g(3) + r"(?:কিনেছি|কিনে এনেছি|জোগাড় করেছি|রেখেছি|প্রস্তুত)",
        "NEG TOPIC THIRD",
    ),
    _sig(
        "bn_burn_self",
        H,
        "base",
        r"(?:হাত|নিজেকে|শরীর|নিজের হাত|গা)\S* (?:সিগারেট দিয়ে )?পুড়িয়ে (?:দিই|দেই|ফেলি|দেবো?|দিতে " + WANT + r")\b",
        "NEG ACCIDENT",
    ),
    _sig(
        "bn_hand_raised",
        OTH,
        "base",
        r"গায়ে হাত (?:তোলে|তুলেছে|তুলছে|তোলেন|তুলে)\b",
        "NEG THIRD",
        requires=r"(?:আমার|আমাকে|আমায়)",
    ),
    _sig("en_should_die", S, "base", r"\bi should (?:just )?(?:die|be dead|kill myself|disappear)\b", "NEG FIG"),
    _sig(
        "en_stockpile",
        S,
        "base",
        r"\b(?:saving|saved|stockpiling|hoarding|collecting|collected|been saving) (?:up )?(?:my |all my |the )?(?:\S+ )?(?:pills|tablets|meds|medication)\b",
        "NEG THIRD",
    ),
    _sig(
        "en_threat_acid",
        OTH,
        "base",
        r"\bthreaten(?:s|ed|ing)? to (?:throw acid|kill|hurt|beat|burn|stab|harm)\b|\bacid (?:on|in) my (?:face|body)\b",
        "NEG TOPIC",
    ),
    _sig(
        "en_crash",
        S,
        "base",
        r"\b(?:drive|crash|steer) (?:my car|my bike|the car|my motorbike) (?:into|off)\b",
        "NEG THIRD",
    ),
    _sig(
        "en_want_out",
        S,
        "base",
        r"\bi (?:just )?want (?:out|it to stop)\b(?! of)",
        "NEG THIRD",
        requires=r"\b(?:cant live|cant go on|cant take|cant do this|life|die|dead)\b",
    ),
    _sig(
        "rom_sleep_forever",
        S,
        "rom",
        r"\b(?:chirodiner|cirodiner|chirotore|cirotore) (?:jonno |jonne )?gumiye (?:porbo|jabo|takbo|porte (?:chai|iche)|jete (?:chai|iche))\b",
    ),
    _sig(
        "rom_burn_punish",
        H,
        "rom",
        r"\b(?:hat|nijeke|sorir|gaye) puriye (?:dei|di|feli|dibo|dite (?:chai|iche))\b"
        r"|\bnijeke (?:sasti|saja) dite (?:chai|cai|iche|icha)\b",
        "NEG ACCIDENT",
    ),
    _sig(
        "rom_suicide_prep",
        S,
        "rom",
        r"\b(?:a?tm[ao]?h[oa]t(?:ya|a)?|suicide)r? (?:korar )?(?:jonno|jonne) "
        + g(3)
        + r"(?:kinechi|kine enechi|rekechi|jogar korechi)\b",
        "NEG TOPIC THIRD",
    ),
    _sig(
        "rom_hand_raised",
        OTH,
        "rom",
        r"\bgaye hat (?:tole|tulse|tuleche|tulche)\b",
        "NEG THIRD",
        requires=r"\b(?:amar|amake|amay)\b",
    ),
    # ---- added after the fifth (held-out) hard-case round
    _sig(
        "bn_means_in_hand",
        S,
        "base",
        r"(?:ছুরি|ব্লেড|দড়ি|ওষুধ|pills|বিষ|blade|knife|rope)\S* হাতে (?:নিয়ে )?(?:বসে|দাঁড়িয়ে) আছি\b",
        "NEG THIRD",
    ),
    _sig(
        "bn_farewell",
        S,
        "base",
        r"চিরবিদায়\S* (?:নেবো?|নিবো?|নিতে " + WANT + r"|জানাই|জানাচ্ছি|দিচ্ছি)"
        r"|\b(?:আমাকে|আমায়) (?:আর )?(?:কেউ )?(?:খুঁজে|খুজে) পাবে না",
        "NEG THIRD TOPIC",
        requires=r"(?:চিরবিদায়|goodbye|bye|বিদায়|কাল|আজ|চিরদিন|আর কখনো|কেউ)",
    ),
    _sig("bn_scratch", H, "base", r"(?:নিজের )?(?:শরীরে|হাতে|গায়ে) (?:আঁচড়|আচড়|আঁচড়) (?:কাটি|দিই|কাটছি)\b", "NEG THIRD"),
    _sig(
        "bn_after_my_death",
        S,
        "base",
        r"\bআমার (?:মৃত্যুর|মরার|মরে যাওয়ার|চলে যাওয়ার) পর\b",
        "NEG TOPIC",
        requires=r"(?:দিও|দেখো|রেখো|জানিও|ক্ষমা করে দিও|ভালো থেকো|কেঁদো না|কাঁদবে না)",
    ),
    _sig("bn_not_worthy", S, "base", r"(?:বেঁচে থাকার|বাঁচার) (?:যোগ্য|অধিকার) (?:না|নই|নেই|নাই)\b", "THIRD"),
    _sig("mixed_disappear", S, "base", r"\bdisappear\b (?:হয়ে )?(?:যেতে|jete) " + WANT, "NEG FIG THIRD"),
    _sig(
        "en_not_deserve",
        S,
        "base",
        r"\b(?:dont|do not|no longer) deserve to (?:live|be alive|exist)\b|\bnot worthy of (?:living|life|being alive)\b",
        "THIRD",
    ),
    _sig(
        "rom_farewell",
        S,
        "rom",
        r"\b(?:chirobiday|cirobiday|chiro biday)\S* (?:nibo|nebo|nite chai|janai|janacchi)\b",
        "NEG THIRD",
    ),
    _sig(
        "rom_after_my_death",
        S,
        "rom",
        r"\bamar (?:mrittur|mritur|morar|more jawar|chole jawar) por\b",
        "NEG TOPIC",
        requires=r"\b(?:dio|dekho|rekho|janio|maf kore dio|bhalo theko|kedo na)\b",
    ),
    _sig(
        "rom_not_worthy",
        S,
        "rom",
        r"\b(?:beche thakar|bache thakar|bachar) (?:joggo|jogyo|jogo|odhikar|adhikar) (?:na|nai|nei|noi)\b",
        "THIRD",
    ),
    # ---- added after checking the counselling questions in data/sample
    _sig(
        "bn_harm_thoughts",
        H,
        "base",
        r"\bনিজেকে " + g(1) + r"(?:আঘাত|ক্ষতি|কষ্ট) (?:করার|দেওয়ার|দেবার) (?:চিন্তা|ইচ্ছ[াে]?|কথা)\S*"
        r"|\bনিজের ক্ষতি (?:করার|করে ফেলার) (?:চিন্তা|ইচ্ছ[াে]?|কথা)\S*",
        "NEG THIRD TOPIC PAST",
    ),
    _sig(
        "bn_end_all_relief",
        S,
        "base",
        r"\bসব(?:কিছু)? (?:শেষ|খতম|end) করে দিলে(?:ই)? " + g(5) + r"(?:মুক্তি|শান্তি|ভালো|বাচি|বাচবো?)",
        "NEG TASK THIRD",
    ),
    _sig(
        "bn_lost_will",
        S,
        "base",
        r"(?:বাচার|বেচে থাকার) (?:ইচ্ছ[াে]?|আগ্রহ|শক্তি|সাধ) (?:হারিয়ে ফেলেছি|হারিয়েছি|চলে গেছে|শেষ হয়ে গেছে|আর নেই)",
        "THIRD",
    ),
    _sig(
        "bn_slapped",
        OTH,
        "base",
        r"\b(?:আমাকে|আমায়|আমার গালে|আমার গায়ে) " + g(3) + r"(?:চড়|থাপ্পড়|লাথি|ঘুষি) (?:মেরেছে|মারে|মারছে|দেয়|দিয়েছে|মারল)\b",
        "NEG",
    ),
    _sig(
        "rom_harm_thoughts",
        H,
        "rom",
        r"\bnijeke (?:aghat|khoti|kosto) (?:korar|deyar|dewar) (?:chinta|ichha|kotha)\b"
        r"|\b(?:bachar|beche thakar) (?:ichha|agroho|shokti) (?:hariye felechi|hariyechi|chole geche)\b"
        r"|\b(?:amake|amay|amar gale) " + g(3) + r"(?:chor|thappor|lathi|ghushi) (?:mereche|mare|marche|dey|diyeche)\b",
        "NEG PAST",
    ),
)


def _cx(
    name: str,
    category: str,
    source: str,
    guards: str = "",
    *,
    also: tuple[str, ...] = (),
    unless: str = "",
    window: int = 90,
) -> Signal:
    """A concept rule on the phon key: ``source`` anchors it, every ``also`` must match within ``window``."""
    fold = lambda text: phon_source(expand_concepts(text))  # noqa: E731
    return Signal(
        name,
        category,
        "phon",
        rx(fold(source), loose="long"),
        frozenset(guards.split()),
        None,
        window,
        tuple(strict(fold(rf"\b(?:{a})\b")) for a in also),
        strict(fold(rf"\b(?:{unless})\b")) if unless else None,
    )


GIVE_OR_DO = (
    r"(?:কইরা |করে |kore |koira )?(?:@GIVE_1P|(?:দিতে|ফেলতে|করতে|dite|felte|korte) (?:@WANT)"
    r"|(?:dewar|deyar|dear|দেওয়ার|দেবার|felar|ফেলার) (?:\S+ )?(?:@PLAN|chinta|চিন্তা|kotha|কথা|ichha|ইচ্ছা))"
)
CONCEPT_SIGNALS: tuple[Signal, ...] = (
    # wishes to die, any spelling: মইরা যাইতে মন চায়, mirte chai, die korte chai, vanish hoye jete chai
    _cx("cx_die_want", S, r"\b(?:@DIE_INF|(?:@DIE_EN)\S* (?:@DO_INF)) (?:\S+ ){0,2}(?:@WANT)\b", "NEG FIG THIRD"),
    # suicide named with a first-person plan (sucide kormu, attohotta korbo thik korsi, overdose korar plan korchi)
    _cx(
        "cx_suicide_plan",
        S,
        r"\b(?:@SUICIDE) (?:\S+ ){0,2}(?:@DO_1P|(?:করার|korar|er|এর) (?:\S+ ){0,2}(?:@PLAN))\b",
        "NEG TOPIC THIRD PAST",
    ),
    _cx(
        "cx_only_way",
        S,
        r"\b(?:@SUICIDE|মৃত্যু\S*|মরা|মরে যাওয়া|mrittu|mora|more jawa|death|dying)\S* (?:ছাড়া|chara|chhara|sara|except) (?:\S+ ){0,3}"
        r"(?:উপায়\S*|পথ\S*|রাস্তা\S*|গতি|upay|uppay|poth|rasta|way|option|solution|gati)\b",
        "TOPIC THIRD",
    ),
    # ending one's life / everything (everything needs a crisis context: "finish everything" is also about work)
    _cx(
        "cx_end_life",
        S,
        r"\b(?:@LIFE|নিজেকে|nijeke|myself)(?: টা| ta| ke| টাকে| কে)* (?:@END) " + GIVE_OR_DO + r"\b",
        "NEG THIRD",
    ),
    _cx(
        "cx_end_all",
        S,
        r"\b(?:সব|সবকিছু|সব কিছু|sob|shob|sab|sobkichu|sob kichu|everything)(?: টা| ta)? (?:@END) " + GIVE_OR_DO + r"\b"
        r"|\b(?:সবকিছুর|সব কিছুর|sobkichur|sob kichur) (?:শেষ|ses)\b|\b(?:it all|everything) (?:ends|will end|is over)\b"
        r"|\b(?:সব )?(?:কষ্টের|যন্ত্রণার|koster|kosto r|jontronar|my pain|the pain|suffering) (?:@END) "
        + GIVE_OR_DO
        + r"\b",
        "NEG TASK THIRD",
        also=(
            r"@DIE_INF|@SUICIDE|@PILLS|@POISON|@ROPE|@JUMP|@DESPAIR|@TIME|@LIFE|মর\S*|বাঁচ\S*|bachte|beche|die|dead|নিজেই|nijei|myself",
        ),
    ),
    # dying would be better (মরে গেলেই বোধহয় ভালো হতো, না খেয়ে মরে যাই সেটাই ভালো, মরে যেতে পারলে বাঁচি)
    _cx(
        "cx_better_dead",
        S,
        r"\b(?:মরে গেলেই|মরে গেলে|মরলেই|মরে যাওয়াই|মরে যাওয়াটাই|মরাই|মরণই|মৃত্যুই|মরে যাই|মইরা গেলেই|মইরা যাওয়াই|more gelei|more gele"
        r"|morlei|more jawai|more jaoai|morai|moroni|mrittui|more jai|moira gelei|death would be|dying would be|death is|dying is"
        r"|আমি না থাকাই|আমার না থাকাই|না থাকাটাই|ami na thakai|amar na thakai|na thakatai|me not being here|me not existing)"
        r" (?:\S+ ){0,3}(?:@GOOD)\b|\b(?:@DIE_INF) (?:পারলে|পারলেই|parle|parlei) (?:\S+ ){0,2}(?:বাঁচি|বাঁচতাম|bachi|bachtam|@GOOD"
        r"|মিটে যেত|মিটে যাবে|শেষ হয়ে যেত|mite jeto|mite jabe|ses hoye jeto|solved)\b",
        "NEG FIG THIRD",
    ),
    # life is pointless and I won't go on
    _cx(
        "cx_not_go_on",
        S,
        r"\b(?<!\b(?:relationship|sompork|সম্পর্ক\S*|job|chakri\S*|চাকরি\S*|course|study|porashona|পড়াশোনা\S*|class|project|company"
        r"|office|অফিস\S*)\S* (?:\S+ ){0,2})"
        r"(?:continue|carry on|go on|চালিয়ে যেতে|টানতে|টেনে নিতে|chaliye jete|tante|bachte|বাঁচতে|thakte|থাকতে|exist|live)"
        r" (?:korte |করতে )?(?:আর |ar |r )?(?:@WANT) ?(?:না|na)\b",
        "THIRD TASK",
        also=(
            r"pointless|meaningless|hopeless|অর্থহীন|মূল্যহীন|মানে নেই|মানে নাই|kono mane nai|kono mane nei|no point|no meaning|worthless"
            r"|পৃথিবী\S*|দুনিয়া\S*|prithibi\S*|pritibi\S*|duniya\S*|world|সব শেষ|sob ses|@DESPAIR",
        ),
    ),
    # means: "once I jump / the train comes / I take it, it is all over"
    _cx(
        "cx_means_then_over",
        S,
        r"\b(?:@JUMP|@RAIL|@POISON|@ROPE|@HEIGHT|@WATER)\S* (?:\S+ ){0,3}(?:@IF_DONE) (?:\S+ ){0,2}(?:@FINAL)\b",
        "NEG THIRD TOPIC",
        unless=r"game|level|khela|খেলা\S*|match|gym|exercise|trampoline|swimming|pool|sports?",
        window=40,
    ),
    _cx(
        "cx_at_edge",
        S,
        r"\b(?:@HEIGHT|@RAIL_LINE|@WATER)\S* (?:\S+ ){0,3}(?:দাঁড়িয়ে|বসে|শুয়ে|উঠে|dariye|dariya|boshe|bose|boisa|shuye|uthe|standing"
        r"|sitting|lying) (?:আছি|আসছি|achi|asi|achhi|acchi|ase)\b"
        r"|\b(?:@HEIGHT|@RAIL_LINE)\S* (?:e |এ |te |তে |er upor |এর উপর |er opor |উপরে |upore )?(?:আছি|achi|achhi)\b"
        r"|\b(?:@RAIL_LINE)\S* (?:\S+ ){0,2}(?:শুয়ে|দাঁড়িয়ে|shuye|dariye|lie down|lying down) (?:থাকব|থাকবো|পড়ব|পড়বো|thakbo|porbo|thakmu)\b"
        r"|\b(?:im|i am) (?:on|at) (?:the )?(?:top of (?:the |a )?)?(?:@HEIGHT|@RAIL_LINE)",
        "NEG THIRD",
        also=(
            r"কিনার\S*|kinar\S*|edge|ledge|railing|@JUMP|শেষ|ses|end|@FAREWELL|last|peaceful|ট্রেন\S*|train\S*|নিচে|niche|below"
            r"|water|pani|পানি|sahos|সাহস|courage|@TIME|@DESPAIR",
        ),
    ),
    _cx(
        "cx_jump_en",
        S,
        r"\b(?:going to|gonna|about to|will|ready to|want to|wanna|planning to) jump\b",
        "NEG THIRD TOPIC",
        also=("@HEIGHT|@RAIL|@WATER",),
        unless=r"conclusions?|rope|trampoline|queue|ship|parachute|bungee|skydiv\S*|game|level|joy|pool|swim\S*",
    ),
    _cx(
        "cx_hang",
        S,
        r"\b(?:@ROPE)\b",
        "NEG THIRD TOPIC",
        also=(r"@HANG_POINT", r"@TIE"),
        window=70,
        unless=r"শুকাতে|শুকোতে|শুকানো|কাপড়\S*|ধোয়া|shukate|shukano|kapor|dry|drying|laundry|washing|clothes|decor\S*|সাজাতে"
        r"|sajate|swing|দোলনা|dolna|hammock|repair|মেরামত|mistri|electrician|পরিষ্কার\S*|clean\S*|মই|ladder|moi",
    ),
    # pills: a big count taken, or about to be taken / kept ready
    _cx(
        "cx_pills_taken",
        S,
        r"\b(?:@PILLS)\b",
        "NEG THIRD TOPIC",
        also=(r"\b(?:@BIGQ)\b", r"\b(?:@ATE)\b"),
        unless=r"daily|per day|a day|দিনে|dine|প্রতিদিন|course|কোর্স|this month|ei mashe|এই মাসে|this week|এই সপ্তাহে",
        window=60,
    ),
    _cx(
        "cx_pills_ready",
        S,
        r"\b(?:@PILLS)\b",
        "NEG THIRD TOPIC",
        also=(r"@BIGQ|সব|সবগুলো|সবগুলা|sob|shob|sobgula|sobgulo|all|all my|all of my|all the", r"@WILL_TAKE|@READY"),
        unless=r"কয়টা|কতটা|koyta|koita|how many|how much|can i|should i|is it safe|নিরাপদ|nirapod|dose|ডোজ|dosage|daily|per day"
        r"|a day|দিনে|dine|course|কোর্স|vitamins?|ভিটামিন|ajker|আজকের|todays|today s|rater|রাতের|sokaler|সকালের|ঠিকমতো|thikmoto"
        r"|regularly|on time|somoy moto|সময়মতো",
        window=60,
    ),
    _cx(
        "cx_poison",
        S,
        r"\b(?:@POISON)\b",
        "NEG THIRD TOPIC",
        also=(r"drink|drank|drinking|পান করব|gulp\S*|@WILL_TAKE|@ATE|@READY|লুকিয়ে\S*|lukiye\S*|hidden|hid",),
        unless=r"@PEST_USE|ধান\S*|plants?|গাছ\S*",
        window=60,
    ),
    # self-harm: an instrument or a body part with a first-person harm verb (ব্লেড দিয়ে হাত কাটছি, lighter diye hand burn kori)
    _cx(
        "cx_harm_tool",
        H,
        r"\b(?:@SH_TOOL)\S* (?:(?!(?:@CUT_OBJ) )\S+ ){0,4}(?:@HARM_1P)\b",
        "NEG ACCIDENT THIRD PAST",
        also=(r"@BODY|নিজে\S*|nije\S*|myself|@HABIT|শান্তি|হালকা|santi|shanti|halka|relief",),
        window=50,
    ),
    _cx(
        "cx_harm_body",
        H,
        r"\b(?:@BODY)\S* (?:(?!(?:@CUT_OBJ) )\S+ ){0,2}(?:@HARM_1P)\b",
        "NEG ACCIDENT THIRD PAST",
        also=(r"নিজের|নিজেকে|nijer|nijeke|@SH_TOOL|@HABIT",),
        window=60,
    ),
    _cx(
        "cx_harm_en",
        H,
        r"\b(?:cut~|cutting|burn~|slash~|carve~|carving|stab~) (?:my |into my |myself on my )?(?:@SITE_EN)\b",
        "NEG ACCIDENT THIRD PAST TOPIC",
        unless="@CUT_OBJ|stove|oven|iron|pan|tea|coffee|sun|sunburn|hot water|oil",
    ),
    _cx(
        "cx_head_wall",
        H,
        r"\b(?:@HEAD)\S* (?:\S+ ){0,3}(?:@HEAD_HIT)\b|\b(?:bang~|bash~|slam~|slamming|smash~) (?:my )?head\b",
        "NEG ACCIDENT THIRD PAST",
        also=("@SURFACE",),
        unless=r"headbang\S*|gaan|গান\S*|song|music|concert|metal|rock|ball|বল",
        window=60,
    ),
    _cx(
        "cx_punch_wall",
        H,
        r"\b(?:punch~|punching|ঘুষি|ghushi|ghusi|kick~)\S* (?:\S+ ){0,3}(?:wall|walls|দেয়াল\S*|deyal\S*|mirror|আয়না)\b"
        r"|\b(?:দেয়াল\S*|deyal\S*|wall) (?:\S+ ){0,2}(?:ঘুষি|ghushi|ghusi|punch) (?:মারি|mari|dei|দিই|kori|করি)\b",
        "NEG THIRD PAST",
        also=(
            r"bleed\S*|blood|রক্ত\S*|rokto|until|যতক্ষণ|jotokkhon|knuckles|fete|ফেটে|feel|hurt|again|every|whenever|jokhon|যখন",
        ),
    ),
    # starving on purpose (ইচ্ছা করেই কিছু খাচ্ছি না, kisu khaina icche kore, haven't eaten in 4 days on purpose)
    _cx(
        "cx_starve",
        H,
        r"\b(?:@ON_PURPOSE) (?:\S+ ){0,3}(?:@NOT_EAT)\b|\b(?:@NOT_EAT) (?:\S+ ){0,3}(?:@ON_PURPOSE)"
        r"|\bstarv\S* (?:my ?self|until|till|to death)\b|\b(?:want|wanna|going|gonna|trying) to starve\b",
        "THIRD PAST",
        unless=r"রোজা\S*|roja|rojа|fasting|fast|ramadan|ramzan|রমজান|diet\S*|ডায়েট\S*|ওজন|weight|gym|intermittent|doctor|ডাক্তার\S*"
        r"|operation|অপারেশন|test|টেস্ট",
    ),
    # indirect: being gone + others better off / nobody noticing / don't blame anyone
    _cx("cx_absence", S, r"\b(?:@ABSENCE)\b", "NEG", also=("@CONSEQ",), unless="@LEAVING", window=80),
    _cx(
        "cx_disappear",
        S,
        r"\b(?:disappear~|vanish~)(?! (?:from|off) (?:social media|facebook|fb|instagram|insta|online|the internet|internet|group|chat"
        r"|whatsapp|messenger))|\b(?:সরে যাব|সরে যাবো|সরে যেতে|sore jabo|sore jete|হারিয়ে যেতে|হারিয়ে যাব|হারিয়ে যাবো|গায়েব হয়ে|নাই হয়ে যেতে|মুছে যেতে|hariye jete|hariye jabo"
        r"|gayeb hoye|nai hoye jete|muche jete)",
        "NEG THIRD FIG",
        also=(
            r"forever|permanently|for good|চিরতরে|চিরদিনের জন্য|চিরকালের জন্য|chirodiner jonno|chirotore|chirokaler jonno"
            r"|never come back|never be found|ar kokhono firbo na|আর কখনো ফিরব না|from this world|এই পৃথিবী থেকে|prithibi theke"
            r"|duniya theke|দুনিয়া থেকে|from existence",
        ),
        window=60,
    ),
    _cx("cx_farewell", S, r"\b(?:@FAREWELL)\b", "THIRD TOPIC", also=("@FINAL_OR_ALL",), unless="@LEAVING", window=90),
    _cx(
        "cx_giving_away",
        S,
        r"\b(?:জিনিস\S*|সম্পত্তি\S*|jinish\S*|jinis\S*|things|belongings|stuff|possessions|favou?rite\S*|collection)"
        r" (?:\S+ ){0,4}(?:দিয়ে দিয়েছি|দিয়ে দিলাম|দিয়ে দিছি|বিলিয়ে দিয়েছি|বিলিয়ে দিছি|diye disi|diye dilam|diye diyechi|biliye disi"
        r"|biliye diyechi|giving away|gave away|given away)\b|\b(?:giving|gave|given) away (?:\S+ ){0,3}(?:things|belongings|stuff)\b"
        r"|\b(?:giving|gave|given|give) (?:my |all my |away my )?(?:\S+ )?(?:things|belongings|stuff|possessions) away\b",
        "THIRD",
        also=(
            r"\bwill\b|উইল|অসিয়ত\S*|osiyot\S*|waiting|wait|last|শেষ|ready|@FAREWELL|আর লাগবে না|ar lagbe na|wont need|no longer need",
        ),
        unless="@LEAVING",
    ),
    # danger from others
    _cx(
        "cx_locked_in",
        OTH,
        r"\b(?<!\b(?:@ACCOUNT)\S* (?:\S+ )?)(?:@LOCK)(?: kore| করে)? (?:\S+ ){0,1}(?:@KEEP_3)\b",
        "NEG",
        also=("@ME_OBJ",),
        window=50,
    ),
    _cx(
        "cx_beaten_with",
        OTH,
        r"\b(?:@BEAT_TOOL)\S* (?:দিয়ে|দিয়া|diye|dia|die|diya|with)? ?(?:\S+ ){0,2}(?:@BEAT_3)\b",
        "NEG PAST TOPIC",
        also=(r"@ABUSER|@ME_OBJ|@INJURY",),
        unless="@SPORT",
        window=60,
    ),
    # danger from others, general: a violent act by a family member / partner, or against me
    _cx(
        "cx_violence",
        OTH,
        r"\b(?<!\b(?:তাকে|ওকে|ওরে|তারে|তাদেরকে|ওদেরকে|তাদের|ওদের|কে|take|oke|ore|tare|tader|oder|ke|her|him|them|(?!আমা)\S+কে|(?!ama)\S+ke)"
        r" (?:\S+ ){0,3})(?:@VIOLENCE)\b",
        "NEG PAST TOPIC LOL ACCIDENT",
        also=("@ABUSER|@ME_OBJ|@ME_BODY",),
        unless="@SPORT",
        window=60,
    ),
    _cx(
        "cx_night_visit",
        OTH,
        r"\b(?:comes|came|sneaks|enters|coming) (?:in ?to|in) my (?:room|bed)\b|\b(?:ঘরে|রুমে|বিছানায়|ghore|rume|room e|bichanay) "
        r"(?:আসে|ঢোকে|চলে আসে|ঢুকে পড়ে|ঢুকে|এসে|ashe|ase|dhoke|chole ashe|dhuke pore|dhuke|eshe|ese)\b",
        "NEG TOPIC",
        also=(
            "@ABUSER",
            r"রাতে|রাত\S*|raat e|raate|rate|rat e|raat|at night|night|জোর করে|jor kore|forc\S*",
            r"scared|afraid|terrified|ভয়\S*|bhoy\S*|tell anyone|কাউকে বল\S*|kauke bol\S*|kake bolbo|কাকে বলব|touch\S*|gaye hat|গায়ে হাত"
            r"|secret|gopon|গোপন\S*|dont tell|no one knows|keu jane na|কেউ জানে না|kharap|খারাপ\S*|বিছানায়|bichanay|bed|জোর করে|jor kore",
        ),
        window=100,
    ),
    # last letters, ending it, heights, stockpiles, urges (kinds of intent that name no death word)
    _cx(
        "cx_last_letters",
        S,
        r"\b(?:letters?|notes?|চিঠি\S*|chithi\S*|chiti\S*)\b",
        "THIRD TOPIC",
        also=(
            r"family|everyone|পরিবার\S*|সবার|সবাইকে|sobar|sobaike|ma|mom|ammu|abbu|parents|বাবা|মা",
            r"before i go|before i leave|(?:when|once|after) im gone|goodbye|farewell|চিরবিদায়\S*|মৃত্যুর পর|after i die|after my death"
            r"|when they find|খুঁজে পাবে|last (?:letter|note|message|words)|শেষ চিঠি|শেষ কথা|forgive me|মাফ করে দিও|ক্ষমা করে দিও"
            r"|রেখে গেলাম|রেখে যাচ্ছি|rekhe gelam|rekhe jacchi|left a note|leaving a note|leaving this note",
        ),
        unless="@LEAVING",
    ),
    _cx(
        "cx_end_it_en",
        S,
        r"\b(?:plan\S*|decid\S*|going|gonna|want\S*|wanna|ready|about|thinking (?:about|of)|think about|consider\S*|time) "
        r"(?:how |when |where )?(?:to )?end(?:ing)? (?:it|it all|things|everything|my life|myself|my pain)\b"
        r"(?! (?:with|between|for|early|now|here|today|there)\b)",
        "NEG THIRD TOPIC",
    ),
    _cx(
        "cx_height_act",
        S,
        r"\b(?:step\S* off|jump\S* (?:off|from)|throw\S* myself|fall\S* off|leap\S*|ঝাঁপ\S*|লাফ\S*|jhap\S*|laf\S*|jump\S*"
        r"|পড়ে যাই|পড়ে যেতে|পড়ে যাব|pore jai|pore jete|pore jabo)",
        "NEG THIRD TOPIC",
        also=(
            r"@HEIGHT|@RAIL|@WATER|edge|kinar\S*|কিনার\S*",
            r"thinking|think|want\S*|wanna|going|gonna|about to|ready|plan\S*|ভাবছি|vabchi|vabtesi|bhabchi|চাই|chai|ইচ্ছ\S*|icche"
            r"|mon chay|decid\S*|@TIME|মনে হয়|mone hoy|feel like|দিয়ে দিই|diye dei|dibo|debo|dimu|দেব|দেবো|দিব|দিবো|মারব|marbo|ইচ্ছা হয়"
            r"|icche hoy|iccha hoy|jacchi|যাচ্ছি|jachi|@FAREWELL",
        ),
        unless=r"pool|trampoline|parachute|bungee|skydiv\S*|diving board|game|swim\S*|khela|খেলা\S*|gym|dance|concert|queue|rope"
        r"|dori|দড়ি\S*|গরম\S*|gorom\S*|heat|hot|shower|গোসল\S*|gosol|bath|সাঁতার\S*|shatar",
    ),
    _cx(
        "cx_stockpile",
        S,
        r"\b(?:@PILLS)\S* (?:\S+ ){0,3}(?:(?:collect|joma|save|stock|jog ?ar) (?:kortesi|korchi|korsi|kori|করছি|করি)|জমাচ্ছি|জমিয়ে রাখছি|জমাইতেছি|জমাইতাছি|জমিয়ে রেখেছি|জমিয়েছি|লুকিয়ে রেখেছি|লুকিয়ে রাখছি|jomacchi"
        r"|jomaitesi|jomiye rakhsi|jomiye rekhechi|jomiye rakhchi|jomaisi|joma korchi|joma kortesi|lukiye rakhsi|lukiye rekhechi)\b"
        r"|\b(?:saving|saved|stockpiling|stockpiled|hoarding|hoarded|collecting|collected|hiding|hid) (?:up )?(?:my |all my |the |some )?"
        r"(?:\S+ )?(?:@PILLS)\b",
        "NEG THIRD TOPIC",
        unless=r"@LEAVING|children|kids|baby|বাচ্চা\S*|bachcha\S*|bacca\S*",
    ),
    _cx(
        "cx_suicidal",
        S,
        r"\bsuicidal (?:feel\S*|lag\S*|লাগ\S*|hos\S*|হচ্ছে|mood|thoughts|again|ajke|today|now|rn|tonight)\b"
        r"|\b(?:feel\S*|been|getting|im|i am|ami|আমি) (?:so |really |very |kinda |a bit |khub |onek |খুব |অনেক )?suicidal\b",
        "NEG THIRD TOPIC PAST",
    ),
    _cx(
        "cx_suicide_me",
        S,
        r"(?<=\b(?:আমি|ami|i|im|i am) (?:\S+ ){0,3})(?:@SUICIDE)\b",
        "NEG TOPIC THIRD PAST",
        unless=r"prevention|rate|awareness|squad|hotline|helpline|movie|news|song|documentary|research|essay|article|রেট"
        r"|প্রতিরোধ\S*|সচেতনতা\S*|statistics|cases?|survivor\S*|bomber|bombing|signs?|symptoms?|লক্ষণ\S*|lokkhon\S*|warning",
        window=25,
    ),
    _cx(
        "cx_harm_urge",
        H,
        r"\b(?:nijeke|নিজেকে|nijer|নিজের|myself|self)\S* (?:\S+ )?(?:hurt|harm|cut|kosto|কষ্ট|আঘাত|aghat|ক্ষতি|khoti|burn)\S* "
        r"(?:korar |করার |deyar |dewar |দেওয়ার |to )?(?:urge|urges|ichha|icche|iccha|ইচ্ছা|ইচ্ছে|chinta|চিন্তা|thoughts?)\b"
        r"|\burges? to (?:cut|hurt|harm|burn|kill|self ?harm)\b"
        r"|\b(?:cut|cutting|self ?harm\S*|hurt myself) (?:er |এর |korar |করার )?(?:urge|ichha|icche|ইচ্ছা|ইচ্ছে)",
        "NEG THIRD TOPIC PAST",
    ),
    _cx(
        "cx_cutting_again",
        H,
        r"\b(?:cutting|self ?harm\S*|selfharm\S*) (?:kori|korsi|kortesi|korchi|kortechi|korlam|korechi|kore feli|করি|করছি|করতেছি|করলাম"
        r"|করেছি|শুরু করেছি|suru korsi|start korsi|abar|আবার|again)\b|\b(?:abar|আবার|again) (?:cutting|self ?harm\S*)\b",
        "NEG THIRD TOPIC PAST",
    ),
    _cx(
        "cx_harm_en_habit",
        H,
        r"\b(?:scratch\S*|hit\S*|punch\S*|bite\S*|biting|pinch\S*) (?:my |at my )?(?:@SITE_EN|face|skin)\b",
        "NEG ACCIDENT THIRD PAST TOPIC",
        also=(r"until|till|bleed\S*|blood|cant stop|keep|every|whenever|myself|again|on purpose|scars?|raw",),
        unless=r"itch\S*|mosquito\S*|bites|allerg\S*|rash|eczema",
    ),
    _cx(
        "cx_not_see_morning",
        S,
        r"\b(?:সকাল\S*|ভোর\S*|sokal\S*|bhor\S*|morning|sunrise|tomorrow|another day|আরেকটা দিন|ar ekta din|notun din|নতুন দিন)"
        r" (?:\S+ ){0,1}(?:দেখতে|dekhte|to see) (?:\S+ )?(?:@WANT) ?(?:না|na)\b"
        r"|\b(?:চাই না|চাইনা|chai na|chaina) (?:\S+ ){0,2}(?:সকাল\S*|ভোর\S*|sokal\S*|bhor\S*|আরেকটা দিন|ar ekta din) (?:\S+ )?(?:দেখতে|dekhte)"
        r"|\b(?:dont|do not|never) want to see (?:tomorrow|another day|the morning|the sunrise|next week)",
        "THIRD",
    ),
    _cx(
        "cx_death_over_life",
        S,
        r"\b(?:বেঁচে থাকার|বেঁচে থাকা|বাঁচার|bache thakar|beche thakar|bachar|living|being alive|living like this|this life)\S* "
        r"(?:চেয়ে|চাইতে|theke|cheye|than) (?:\S+ ){0,2}(?:মরে যাওয়া\S*|মরা\S*|মৃত্যু\S*|মরণ\S*|death|dying|dead|mora|more jawa|mrittu)",
        "NEG FIG THIRD",
    ),
    _cx(
        "cx_hang_self",
        S,
        r"\b(?:ঝুলব|ঝুলবো|ঝুলমু|ঝুলে পড়ব|ঝুলে পড়বো|ঝুলে যাব|jhulbo|jhulmu|jhule porbo|jhule jabo|hang myself)\b",
        "NEG THIRD TOPIC",
        also=(r"@ROPE|@HANG_POINT|গলায়|gola\S*|gole|neck",),
        unless=r"swing|দোলনা|dolna|gach\S*|গাছে|monkey|bar|gym",
    ),
    _cx(
        "cx_never_seen_again",
        S,
        r"\b(?:কেউ|keu) (?:আমাকে |amake )?(?:আর |ar |r )(?:দেখবে না|dekhbe na|খুঁজে পাবে না|khuje pabe na)"
        r"|\b(?:আমাকে|amake) (?:কেউ|keu) (?:আর |ar |r )?(?:দেখবে না|dekhbe na|খুঁজে পাবে না|khuje pabe na|পাবে না|pabe na|চিনবে না|chinbe na)"
        r"|\b(?:nobody|no one) (?:will|is going to) (?:ever )?(?:see|find) me again\b",
        "THIRD",
        unless="@LEAVING",
    ),
    _cx(
        "cx_leave_world",
        S,
        r"\b(?:পৃথিবী|দুনিয়া|prithibi|pritibi|duniya|এই জগত)\S* (?:থেকে |ছেড়ে |theke |chere |chhere )?(?:চলে যাওয়াই|চলে যাওয়া|চলে যাব|চলে যাবো|চলে যেতে"
        r"|চলে যাই|চলে যাবার|chole jawai|chole jawa|chole jaoa|chole jabo|chole jete|chole jai|chole jamu)"
        r"|\bleave this world\b|\bleaving this world\b",
        "NEG THIRD",
        unless="@LEAVING",
    ),
    _cx(
        "cx_hope_not_wake",
        S,
        r"\b(?:hope|wish|pray|praying) (?:that )?i (?:dont|never|wont|do not|will not|wouldnt|didnt) (?:ever )?wake up\b",
        "THIRD",
    ),
    _cx(
        "cx_means_in_hand",
        S,
        r"\b(?:হাতে|hate|haate|in my hand|in my hands|in hand)\b",
        "NEG THIRD TOPIC",
        also=(
            r"@SH_TOOL|@ROPE|@POISON|pills?|gun|বন্দুক\S*|pistol",
            r"thamte|থামতে|stop myself|cant stop|control|নিয়ন্ত্রণ\S*|ki korbo|কী করব|কি করব|jani na|জানি না|dont know what|@TIME|@DESPAIR"
            r"|@DIE_INF|শেষ|ses|end it",
        ),
        unless=r"রান্না\S*|ranna|cooking|sobji|সবজি|কাটতে হবে|katte hobe|@CUT_OBJ",
        window=50,
    ),
    _cx(
        "cx_use_on_myself",
        S,
        r"\b(?:use|turn|try|point) (?:it|them|this|that|\S+) on myself\b",
        "NEG THIRD TOPIC",
        also=(r"@SH_TOOL|@ROPE|@POISON|pills?|gun|pistol",),
        unless=r"cream|lotion|makeup|make up|shampoo|hair|trick|technique|therapy|method|skincare",
    ),
    _cx(
        "cx_tool_use",
        H,
        r"\b(?:@SH_TOOL)\S* (?:\S+ ){0,8}(?:use|ইউজ|ব্যবহার|babohar) (?:kori|korsi|kortesi|korchi|করি|করছি|করতেছি)\b",
        "NEG THIRD PAST",
        also=(r"kata dag|কাটা দাগ|dag|দাগ\S*|রক্ত\S*|rokto|blood|scars?|marks|@BODY|নিজের|nijer|myself",),
        unless="@CUT_OBJ|shave|shaving|dari|দাড়ি",
        window=60,
    ),
    _cx(
        "cx_no_reason_to_live",
        S,
        r"\b(?:exist|বাঁচার|বেঁচে থাকার|থাকার|bachar|beche thakar|bache thakar|thakar|living|existing|live)\S* (?:korar |করার )?(?:ar |আর )?"
        r"(?:kono |কোনো |কোন |any )?(?:reason|karon|কারণ|mane|মানে|point|purpose|ortho|অর্থ|dorkar|দরকার) (?:nai|নাই|নেই|nei)\b",
        "THIRD TOPIC",
    ),
    _cx(
        "cx_life_not_keep",
        S,
        r"\b(?:@LIFE|প্রাণটা)(?: টা| ta)? (?:আর |ar |r )?(?:রাখব না|রাখবো না|রাখমু না|রাখতে চাই না|rakhbo na|rakhmu na|rakhte chai na)\b",
        "THIRD",
    ),
    _cx(
        "cx_pain_relief",
        H,
        r"\b(?:ব্যথায়|ব্যথা পেলে|ব্যথা দিলে|কষ্ট দিলে|রক্ত দেখলে|রক্ত বের হলে|betha pele|bethay|betay|kosto dile|rokto dekhle|rokto ber hole"
        r"|the pain|pain|bleeding|blood)\b (?:\S+ ){0,3}(?:শান্তি|হালকা|ভালো লাগে|আরাম|santi|shanti|halka|valo lage|bhalo lage|aram"
        r"|relief|calms? me|calmer|better|numb)",
        "NEG THIRD TOPIC PAST",
        also=(r"@BODY|@SH_TOOL|নিজে\S*|nije\S*|myself|cut\S*|burn\S*|কাট\S*|পোড়া\S*|পুড়\S*|kat\S*|pur\S*",),
        unless=r"massage|ম্যাসাজ|exercise|gym|workout|tattoo|piercing|injection|ইনজেকশন|headache|মাথাব্যথা|medicine|ওষুধ\S*",
    ),
    _cx(
        "cx_on_purpose_harm",
        H,
        r"\b(?:@ON_PURPOSE)\b",
        "NEG THIRD PAST",
        also=(
            r"@BODY|নিজেকে|nijeke|myself",
            r"@SH_TOOL|@HARM_1P|চেপে ধরি|chepe dhori|press\S*|burn\S*|cut\S*|hurt|harm|আঘাত|aghat",
        ),
        unless="@CUT_OBJ",
        window=50,
    ),
    _cx(
        "cx_wont_be_here",
        S,
        r"\b(?:আমি |ami |i )?(?:আর |ar |r )?(?:থাকব না|থাকবো না|থাকমু না|thakbo na|takbo na|thakmu na|wont be (?:here|around|alive)"
        r"|will not be (?:here|around|alive)|wont be there|wont exist|will not exist)\b",
        "THIRD",
        also=(
            r"কাল\S*|সেদিন|পর্যন্ত|kal|kalke|porjonto|tomorrow|birthday|জন্মদিন\S*|beshidin|বেশিদিন|next|by then|after tonight|পৃথিবীতে",
        ),
        unless=r"@LEAVING|বাসায়|basay|ghore|hostel|হোস্টেলে|office|অফিসে|এখানে|ekhane|শহরে|dhaka|ঢাকা\\S*|class|ক্লাসে|meeting|home",
        window=60,
    ),
    _cx(
        "cx_sit_with_means",
        S,
        r"\b(?:sit\S*|holding|hold|বসে থাকি|বসে আছি|boshe thaki|boshe achi|niye boshe|নিয়ে বসে)\b (?:\S+ ){0,6}(?:@SH_TOOL|rope|noose|pills"
        r"|poison|দড়ি|ওষুধ|বিষ)\b",
        "NEG THIRD TOPIC",
        also=(
            r"hours|ঘণ্টার পর ঘণ্টা|ghontar por ghonta|for a long time|staring|thinking|ভাবি|vabi|jani na|জানি না|@DESPAIR|@TIME|bathroom"
            r"|বাথরুমে|alone|একা|eka|night|রাতে",
        ),
        unless=r"রান্না\S*|ranna|cooking|kitchen|sobji|সবজি|barber|salon|shave|shaving|@CUT_OBJ",
    ),
    _cx(
        "cx_never_born",
        S,
        r"\bwish (?:that )?i (?:had |d |was |were )?(?:never|not) (?:been )?born\b|\b(?:জন্ম না হলেই|জন্ম না হলে|না জন্মালেই|jonmo na holei"
        r"|na jonmalei)\b (?:\S+ )?(?:ভালো|ভাল|valo|bhalo|better)",
        "THIRD FIG",
    ),
    _cx(
        "cx_edge_en",
        S,
        r"\b(?:standing|sitting|im|i am|here) (?:\S+ ){0,2}(?:on|at) (?:the )?(?:edge|ledge|top|railing) of (?:the |a |this )?(?:\S+ )?"
        r"(?:@HEIGHT|@RAIL|@WATER|platform)\b",
        "NEG THIRD TOPIC",
    ),
    _cx(
        "cx_tell_loved",
        S,
        r"\b(?:tell|বলো|বলে দিও|বলবে|জানিও|bolo|bole dio|bolbe|janio|janiye dio) (?:\S+ ){0,3}(?:i|ami|আমি) (?:\S+ ){0,2}(?:loved|ভালোবাসতাম"
        r"|valobashtam|bhalobashtam|valobasi|bhalobasi)\b",
        "TOPIC",
        also=(
            r"everyone|everybody|family|sister|brother|mom|mother|dad|father|parents|সবাই\S*|sobai\S*|মা\S*|ma|ammu|abbu|বাবা\S*|tader|তাদের"
            r"|oder|ওদের|her|him|them",
        ),
    ),
    _cx(
        "cx_hide_scars",
        H,
        r"\b(?:কাটা|কাটার|kata|katar|cut|cutting|self ?harm)\S* (?:\S+ )?(?:দাগ\S*|dag\S*|marks?|scars?)\b",
        "THIRD PAST TOPIC",
        also=(r"লুকা\S*|লুকি\S*|luka\S*|luki\S*|hide|hiding|cover\S*|full sleeve|long sleeves?|ফুল হাতা|full hata",),
        unless=r"acne|brono|ব্রণ\S*|pimple\S*|surgery|operation|অপারেশন\S*|c section|sizar|সিজার\S*|stitches",
    ),
    # broad pairs: a first-person death word with an intent, time, despair, farewell or means cue
    _cx(
        "cx_death_with_cue",
        S,
        r"\b(?:@DEATH_ME)\b(?! (?:\S+ )?(?:@WANT) ?(?:না|na)\b)(?! (?:আগে|পরে|পর|age|pore|por|ভয়\S*|bhoy\S*)\b)",
        "NEG FIG THIRD TOPIC PAST JOKE TASK",
        also=(
            r"@WANT|@PLAN|@TIME|@DESPAIR|@FAREWELL|@DONT_BLAME|@POISON|@ROPE|@JUMP|going to|gonna|about to|ready to|কীভাবে|কিভাবে"
            r"|kivabe|kibhabe|how to|how do i|ways? to|easiest|painless|কষ্ট কম|kosto kom",
        ),
        window=70,
    ),
    # broad self-harm: any harm verb with a self target, a habit or relief cue
    _cx(
        "cx_self_harm_any",
        H,
        r"\b(?<!\b(?:@CUT_OBJ) )(?:@SH_VERB)\b",
        "NEG ACCIDENT THIRD PAST TOPIC",
        also=(
            r"নিজেকে|নিজের|নিজেই|nijeke|nijer|nijei|myself|my ?self|@BODY",
            r"@HABIT|শান্তি|হালকা|relief|santi|shanti|halka|punish\S*"
            r"|শাস্তি|sasti|shasti|urge|নিজেকে|নিজেই|nijeke|nijei|myself|on purpose|@ON_PURPOSE",
        ),
        unless=r"itch\S*|চুলকা\S*|chulka\S*|mosquito|মশা\S*|mosha|allerg\S*|cooking|রান্না\S*|ranna",
        window=60,
    ),
    _cx(
        "cx_fire_self",
        S,
        r"\b(?:নিজের গায়ে|গায়ে|নিজেকে|gaye|nijer gaye|nijeke|myself)\b (?:\S+ ){0,2}(?:আগুন|কেরোসিন|পেট্রোল|agun|kerosene|petrol|fire|on fire|gasoline)\b"
        r"|\bset (?:myself|my ?self) on fire\b",
        "NEG THIRD TOPIC ACCIDENT",
    ),
    _cx(
        "cx_gun",
        S,
        r"\b(?:gun|pistol|revolver|firearm|বন্দুক\S*|পিস্তল\S*|bonduk|pistol)\b",
        "NEG THIRD TOPIC",
        also=(
            r"with me|in my hand|loaded|to my head|myself|নিজের মাথায়|মাথায় ঠেকিয়ে|drinking|drunk|@DESPAIR|@DEATH_ME|@TIME|হাতে|hate",
        ),
        unless=r"game|games|pubg|free fire|valorant|toy|খেলনা|movie|cinema|hunting|shikar|range|licen\S*",
    ),
    _cx(
        "cx_sorry_farewell",
        S,
        r"\b(?:@DONT_BLAME|sorry|দুঃখিত|ক্ষমা|মাফ|maf|khoma)\b",
        "THIRD TOPIC",
        also=(
            r"ফিরব না|ফিরবো না|firbo na|wont come back|never come back|cant keep going|can t keep going|cant go on|@DEATH_ME|@NOBODY"
            r"|আর পারলাম না|ar parlam na|r parlam na|parlam na|couldnt do it|i tried|চেষ্টা করেছিলাম|cesta korechilam"
            r"|last message|শেষ মেসেজ|শেষবার|last time|goodbye|bye|বিদায়\S*|biday\S*",
            r"@ME|@DESPAIR|@TIME|ফিরব না|firbo na|cant keep going|cant go on",
        ),
        unless="@LEAVING",
        window=80,
    ),
    _cx(
        "cx_weapon_coming",
        OTH,
        r"\b(?:দা|বঁটি|ছুরি|চাকু|রামদা|লাঠি|বন্দুক|da|boti|churi|chhuri|chaku|ramda|lathi|knife|gun|machete|rod)\S* (?:\S+ ){0,1}(?:নিয়ে|niye|দিয়ে|diye|with a|holding)"
        r" (?:\S+ ){0,3}(?:আসছে|আসতেছে|আসে|তেড়ে|ashche|astese|aschhe|ashe|tere|coming|came)\b",
        "NEG TOPIC THIRD",
        also=(r"@ME_OBJ|আমার দিকে|amar dike|at me|towards me|toward me|বাঁচাও|bachao|help|@ABUSER",),
        unless="@SPORT|@CUT_OBJ|রান্না\\S*|ranna|kitchen",
    ),
    _cx(
        "cx_captive_any",
        OTH,
        r"\b(?:বন্দি|বন্দী|bondi|bondhi|(?:locks|locked|lock) me(?! out)|keeps me locked|tied me|বেঁধে রাখে|বেঁধে রেখেছে|bendhe rakhe|bendhe rakhse"
        r"|হাত-পা বেঁধে|হাত পা বেঁধে|hat pa bendhe|শিকল দিয়ে|shikol diye|খেতে দেয় না|খাইতে দেয় না|khaite dey na|khete dey na|wont let me eat"
        r"|doesnt let me eat|starves me)\b",
        "NEG TOPIC",
        also=(r"@ME_OBJ|@ABUSER|ghore|ঘরে|room|রুমে|bathroom|বাথরুমে|@ME",),
        unless=r"haha|lol|porte|পড়তে|study|homework|exam|পরীক্ষা|game|prison|jail|কারাগার|movie|by mistake|accidentally",
        window=60,
    ),
    _cx(
        "cx_suicide_query",
        S,
        r"\b(?:@SUICIDE|মরলে|মরতে|morle|morte)\S* (?:করলে |korle |করতে |korte )?(?:\S+ ){0,2}(?:কষ্ট হয়|কষ্ট হবে|ব্যথা লাগে|ব্যথা লাগবে|kosto hoy"
        r"|kosto hobe|betha lage|does it hurt|painful|how long|কতক্ষণ|koto khon|সময় লাগে|somoy lage)",
        "TOPIC THIRD",
    ),
    _cx(
        "cx_not_alive_future",
        S,
        r"\b(?:dont|do not|cant|cannot) (?:see|imagine) myself (?:alive|living|here|around|being alive)\b"
        r"|\bwhat i (?:might|could|would|will|may) do to myself\b|\b(?:নিজের সাথে|নিজেকে|nijer sathe|nijeke) (?:কী|কি|ki) (?:করে ফেলব|কইরা ফেলমু"
        r"|kore felbo|kore felmu)\b",
        "THIRD TOPIC",
    ),
    _cx(
        "cx_harm_plan",
        H,
        r"\b(?:কাটার|কেটে ফেলার|পোড়ানোর|পুড়িয়ে দেওয়ার|আঘাত করার|katar|kete felar|poranor|puriye dewar|aghat korar|cutting|burning"
        r"|hurting myself|harming myself)\b (?:\S+ ){0,2}(?:@PLAN|@WANT|কথা ভাবছি|kotha vabchi|chinta|চিন্তা)",
        "NEG THIRD TOPIC PAST",
        also=(r"@BODY|নিজে\S*|nije\S*|myself",),
        unless="@CUT_OBJ",
    ),
    _cx(
        "cx_last_words",
        S,
        r"\blast time (?:you(?:ll| will)|anyone will) hear from me\b|\b(?:you|nobody) (?:wont|will not|will never) hear from me again\b"
        r"|\bআর (?:কেউ )?আমার (?:খবর|কোনো খবর) পাবে না|\bar (?:keu )?amar (?:khobor|kono khobor) pabe na",
        "THIRD",
    ),
    _cx(
        "cx_want_it_to_end",
        S,
        r"\bwant (?:it|this|the pain|everything|it all|all of it) to (?:end|stop|be over)\b"
        r"|\b(?:everything|sob|সব|sobkichu|সবকিছু|it all) (?:\S+ )?(?:stop|end|ses|শেষ) (?:hoye jak|হয়ে যাক|hoye jay|hok|হোক)\b",
        "NEG THIRD",
        also=(r"@DESPAIR|pain|কষ্ট\S*|kosto|permanently|forever|চিরতরে|chirotore|@LIFE|@WANT",),
    ),
    _cx(
        "cx_overdose_signs",
        S,
        r"\b(?:@PILLS)\b",
        "NEG THIRD TOPIC",
        also=(
            r"@ATE",
            r"@DEATH_ME|বাঁচব কিনা|bachbo kina|survive|বমি\S*|bomi|vomit\S*|matha ghur\S*|মাথা ঘুর\S*|dizzy|chest|বুক ধড়ফড়\S*"
            r"|ghum pacche|ঘুম পাচ্ছে|cant breathe|hospital|@DESPAIR|@FAREWELL|sorry|ami done|im done|ami ses",
        ),
        window=80,
    ),
    _cx(
        "cx_ready_to_go",
        S,
        r"\b(?:im|i am|ami) ready (?:to go|to leave)\b(?! (?:to|for|out|home|now|back)\b)",
        "THIRD",
        also=(r"@DESPAIR|@LIFE|hope|আশা|asha",),
    ),
    _cx(
        "cx_suicide_method",
        S,
        r"\b(?:@SUICIDE|মরার|morar)\S* (?:er |এর |korar |করার )?(?:\S+ )?(?:method\S*|upay|উপায়\S*|poddhoti|পদ্ধতি\S*|ways?|tips|technique\S*)\b",
        "TOPIC THIRD NEG",
        unless=r"prevention|প্রতিরোধ\S*|protirodh|awareness|সচেতনতা\S*|research|essay|article|assignment",
    ),
    _cx(
        "cx_leave_forever",
        S,
        r"\b(?:চলে যাব|চলে যাবো|চলে যামু|হারিয়ে যাব|chole jabo|chole jamu|hariye jabo|leaving|going away)\b",
        "NEG THIRD",
        also=(r"চিরদিনের জন্য|চিরতরে|চিরকালের জন্য|forever|for good|chirodiner jonno|chirotore|permanently",),
        unless="@LEAVING",
        window=40,
    ),
    _cx(
        "cx_not_needed",
        S,
        r"\b(?:world|nobody|no one|everyone) (?:doesnt|does not|dont) need me\b|\b(?:কেউ|keu) (?:আমাকে|amake) (?:চায় না|chay na)\b"
        r"|\bআমার (?:কোনো )?প্রয়োজন নেই\b",
        "THIRD",
        also=(
            r"should go|should leave|should die|should disappear|better off|চলে যাওয়া উচিত|chole jawa uchit|@DEATH_ME|@DESPAIR",
        ),
    ),
    _cx(
        "cx_suicide_thoughts",
        S,
        r"\b(?:@SUICIDE)\S* (?:er |এর )?(?:kotha|chinta|কথা|চিন্তা|thoughts?) (?:\S+ ){0,2}(?:ase|ashe|asche|ghure|ghurche|ghurtese|mathay|মাথায়"
        r"|আসে|আসছে|ঘোরে|ঘুরছে|ঘুরে)\b",
        "NEG TOPIC THIRD PAST",
    ),
    _cx(
        "cx_will_to_live_gone",
        S,
        r"\b(?:বাঁচার|বেঁচে থাকার|bachar|beche thakar|will to live)\S* (?:(?:ইচ্ছ\S*|icche\S*|iccha\S*|ichha\S*|agroho|shokti|sadh|asha) )?"
        r"(?:\S+ )?(?:মরে গেছে|more gese|more geche|hariye \S*|chole gese|chole geche|ses hoye gese|is gone|gone)\b",
        "THIRD",
    ),
    _cx(
        "cx_cannot_without_cutting",
        H,
        r"\b(?:cutting|self ?harm|কাটা|kata)\S* (?:chara|ছাড়া|without) (?:\S+ ){0,3}(?:calm|shanti|শান্ত\S*|ghum|ঘুম\S*|thakte|pari na|পারি না|cope)",
        "NEG THIRD TOPIC PAST",
    ),
    _cx(
        "cx_means_held",
        S,
        r"\b(?:hate|haate|হাতে) (?:niye |নিয়ে )?(?:boshe|bose|dariye|বসে|দাঁড়িয়ে) (?:achi|আছি)\b",
        "NEG THIRD",
        also=(r"@SH_TOOL|@ROPE|@POISON|@PILLS|gun|বন্দুক\S*",),
        unless=r"রান্না\S*|ranna|cooking|@CUT_OBJ|phone|ফোন\S*|boi|বই|book",
        window=40,
    ),
    _cx("cx_threat", OTH, r"\b(?:@THREAT_FUT)\b", "NEG JOKE TOPIC", also=("@THREAT_CTX",), unless="@SPORT", window=100),
    _cx("cx_sexual_abuse", OTH, r"\b(?:@SEX_ACT)", "NEG TOPIC", also=("@SEX_CTX",), window=100),
)
SIGNALS += CONCEPT_SIGNALS

# -- guards: word lists matched near a hit (on the key the hit came from; phon-folded for the phon key)
# Guards look no further than the hit's clause: punctuation or "but" ends it.
CLAUSE_BREAK = regex.compile(
    r"[,;:.!?।॥\n—–…()]+|\b(?:but|however|though|কিন্তু|তবে|তবুও|kintu|tobe|tobuo)\b", regex.IGNORECASE
)
_GUARD_SOURCES = {
    "NEG_BEFORE": r"\b(?:never|not|dont|wont|wouldnt|shouldnt|didnt|isnt|kokono|kokhono|konodin|কখনো\S*|কখনও\S*|কক্ষনো\S*|কোনোদিন\S*|কোনদিন\S*)\b",
    "NEG_AFTER": r"^ ?(?:না|ন|নি|নাই|na|ni|nai)\b",
    "FIG_BEFORE": r"(?:বুড়ো হয়ে|বুড়ো|বৃদ্ধ বয়সে|বয়সে|শান্তিতে|লজ্জায়|লজ্জাতে|খিদেয়|খিদায়|ক্ষুধায়|গরমে|শীতে|ঠান্ডায়|হাসতে|হাসি|হেসে|চিন্তায়|টেনশনে|বিরক্তিতে|"
    r"lojjay|lojay|khide|kide|gorome|sete|hasi|haste|hese|tension|tensione|laughing|laughter|embarrassment)",
    "FIG_AFTER": r"^ ?(?:\S+ )?(?:of (?:embarrassment|shame|boredom|laughter|laughing|cringe)|laughing|from laughing|lol|haha|lmao"
    r"|লজ্জায়|হাসতে|মনে হয়|মনে হচ্ছে)\b",
    # hyperbole that makes "X will kill me" a figure of speech; matched anywhere in the message
    "JOKE": r"\b(?:boss|বস|deadline|ডেডলাইন|দেরি|deri|late|office|অফিস|exam|পরীক্ষা|porikka|grades?|homework|মজা|moja|joking"
    r"|result|রেজাল্ট)\b",
    "THIRD": r"\b(?:he|she|they|his|her|their|him|friend|friends|someone|somebody|people|student|man|woman|boy|girl|brother|sister"
    r"|son|daughter|cousin|কাজিন|colleague|actor|actress|character|hero|heroine|patient|সে|তিনি|উনি|বন্ধু|বান্ধবী|বোন|ছাত্র"
    r"|ছাত্রী|লোক|কেউ|নায়ক|নায়িকা|একজন|se|tini|uni|bondu|bondhu|bandobi|bandhobi|chatro|ekjon|keu|nayok|nayika)\b",
    "TOPIC": r"\b(?:news|newspaper|article|essay|research|awareness|prevention|presentation|documentary|movie|film|novel|book"
    r"|story|song|lyrics|statistics|campaign|seminar|workshop|lecture|class|pharmacology|trials?|course|thesis|পত্রিকা\S*|খবর\S*|সংবাদ\S*|নিউজ\S*|প্রতিরোধ\S*"
    r"|সচেতনতা\S*|বিরুদ্ধে|প্রবন্ধ|গবেষণা\S*|উপন্যাস\S*|গল্প\S*|সিনেমা\S*|নাটক\S*|প্রেজেন্টেশন|সেমিনার|পরিসংখ্যান"
    r"|pepar|paper|kobor|kobore|protirod|socetonota|sochetonota|sinema|golpo"
    r"|drama|villain|plot|episode|series|serial|scene|thriller|netflix|game|games|pubg|valorant|ভিলেন|সিরিয়াল|মুভি\S*)\b",
    "ACCIDENT": r"(?:গিয়ে|রান্না|সবজি|আপেল|ফল|দুর্ঘটনা|ভুলে)|\b(?:giye|gie|ranna|sobji|while|shaving|saving|cooking|playing|accidentally"
    r"|by accident|fell|football|cricket|slipped|kitchen)\b",
    "TASK": r"\b(?:কাজ\S*|প্রজেক্ট|project|হোমওয়ার্ক|homework|assignment|অ্যাসাইনমেন্ট|খাবার\S*|পড়া|খাতা|রান্না|kaj|kaaj|project|"
    r"kabar|pora|assignment|syllabus|সিলেবাস)\b",
    "PAST": r"(?:আসত|আসতো|করতাম|ভাবতাম|হতো|দিতাম|এখন আর (?:আসে|হয়|করি|ভাবি) না|এখন (?:অনেক )?ভালো আছি|used to|not anymore"
    r"|im (?:fine|better|okay) now|now im (?:fine|better|okay)|asto|kortam|babtam|ekhon balo achi"
    r"|years ago|bochor age|বছর আগে|ছোটবেলায়|chotobelay|as a kid|childhood)",
    "COURT": r"(?:আসামি|ধর্ষক|খুনি|আদালত|রায়|অপরাধী|court|criminal|asami|dorsok|kuni|adalot|ray)",
}


def _guard_set(fold) -> dict[str, regex.Pattern]:
    return {name: strict(fold(source)) for name, source in _GUARD_SOURCES.items()}


GUARDS: dict[str, dict[str, regex.Pattern]] = {"base": _guard_set(str), "phon": _guard_set(phon_source)}
GUARDS["rom"] = GUARDS["base"]  # romanised guard words are written in the rom key's spelling already
NEG_BEFORE, NEG_AFTER = GUARDS["base"]["NEG_BEFORE"], GUARDS["base"]["NEG_AFTER"]
# joke marks: words on the base key (so "lol." counts), emoji on the message; 😩 and 😫 are distress, not jokes
JOKE_MARK = strict(r"\b(?:lol|lo+l|haha\S*|hehe\S*|lmao|rofl|jk|just kidding|meme|হাহা\S*|হা হা)\b")
JOKE_EMOJI = regex.compile(r"[😂🤣😅😆😜😝💀🙃]")

# -- model answers that must never be shown
ANSWER_SIGNALS: tuple[tuple[str, regex.Pattern, regex.Pattern | None], ...] = (
    (
        "encourages_harm",
        rx(
            r"\byou (?:should|must|need to|have to|ought to) (?:just )?(?:do it|kill yourself|end it|end your life|die|jump"
            r"|hang yourself|cut (?:yourself|deeper)|take (?:them all|all (?:the|your|of the) pills))\b"
            r"|\bgo ahead and (?:do it|end it|kill|jump|die)\b|\b(?:you deserve|you ought) to die\b"
            r"|\b(?:youd|you would|you are|youre|you will be) better off dead\b"
            r"|\b(?:the world|everyone) (?:would be|is|will be) better (?:off )?without you\b"
            r"|\b(?:just|go|why dont you|better|then) kill yourself\b|\bdo it tonight\b"
        ),
        None,
    ),
    (
        "encourages_harm",
        rx(
            r"\b(?:তুমি|তুই|আপনি) " + g(2) + r"(?:মরে যাও|মরে যা|মরে যান|মরো|মর|মরুন)\b|\bমরে যাও\b|\bমরে যান\b"
            r"|" + SUI_BN + r" (?:করো|করুন|কর|করে ফেলো|করে ফেলুন|করাই (?:ভালো|উচিত))\b"
            r"|\bনিজেকে (?:শেষ|খতম) করে (?:দাও|দিন|দে)\b|\b(?:তোমার|আপনার|তোর) (?:মরে যাওয়াই|মরাই|না থাকাই) (?:ভালো|ভাল|উচিত)"
            r"|\b(?:লাফ|ফাসি) (?:দাও|দিন|দে)\b|\bবিষ (?:খাও|খান|খেয়ে নাও|খেয়ে নিন)\b|\b(?:হাত|শিরা|রগ) (?:কাটো|কাটুন)\b"
            r"|\b(?:tumi|tui) more (?:jao|ja)\b|\batmohotta koro\b"
        ),
        None,
    ),
    (
        "method_or_dose",
        rx(
            r"(?:\b\d{2,}|\b(?:twenty|thirty|forty|fifty|hundred|বিশ|ত্রিশ|চল্লিশ|পঞ্চাশ)\b) ?(?:টা )?"
            + g(3)
            + r"(?:pills|tablets|sleeping pills|ঘুমের ওষুধ|ঘুমের বড়ি|ট্যাবলেট|ওষুধ|পিল)"
        ),
        None,  # a count of ten or more pills in a reply is never needed, and the lethal word may not be streamed yet
    ),
    (
        "method_or_dose",
        rx(
            r"\b(?:take|swallow) (?:all|the whole|every one of|a whole) (?:\S+ ){0,3}(?:pills|tablets|bottle|pack)\b"
            r"|\b(?:সব|পুরো|সবগুলো)\S* "
            + g(3)
            + r"(?:ওষুধ|ট্যাবলেট|পিল|pills)\S* "
            + g(2)
            + r"(?:খান|খাও|খেয়ে নিন|খেয়ে নাও|খেয়ে ফেলো|খেয়ে ফেলুন|গিলে ফেলো|গিলে ফেলুন)\b"
        ),
        None,
    ),
    (
        "method_or_dose",
        rx(r"\b\d+ ?(?:mg|মিগ্রা|milligrams?|grams?)\b"),
        strict(r"\b(?:die|death|lethal|fatal|kill|overdose|মারা|মরতে|মৃত্যু)"),
    ),
    (
        "method_or_dose",
        rx(
            r"\b(?:tie|make|making|tying) a noose\b|\b(?:cut|slit|slice) (?:your|the) (?:wrists?|veins?|arteries)\b"
            r"|\bcut (?:deep|deeper|vertically|along the)\b|\b(?:jump|leap) (?:from|off) (?:a |the )?(?:high|tall|\d+)"
            r"|\bhang yourself\b|\b(?:how to|ways to|best way to|easiest way to|painless way to) (?:kill yourself|commit suicide|hang)"
            r"|\b(?:শিরা|রগ) (?:কাটো|কাটুন|কাটতে হবে)|\bফাস (?:লাগাও|লাগান|বানাও|বানান)|গলায় দড়ি (?:দাও|দিন)"
        ),
        None,
    ),
)

# -- advice requests (medical doses, legal rulings)
MEDICAL = strict(
    r"(?=.*(?:ওষুধ|ঔষধ|ট্যাবলেট|ক্যাপসুল|সিরাপ|প্যারাসিটামল|নাপা|এন্টিবায়োটিক|অ্যান্টিবায়োটিক|ইনসুলিন|বড়ি|pills?|tablets?"
    r"|capsules?|syrup|paracetamol|napa|ibuprofen|aspirin|antibiotics?|medicine|medication|insulin|osud|osudh|oshudh|ousud"
    r"|antidepressants?|sertraline|fluoxetine|clonazepam|\d+ ?mg))"
    r"(?=.*(?:কয়টা|কতটুকু|কত (?:মিলিগ্রাম|mg|ডোজ|বার|চামচ|ফোটা)|কতবার|কী পরিমাণ|কি পরিমাণ|কোন ওষুধ|কী ওষুধ|কি ওষুধ"
    r"|how many|how much|how often|which (?:medicine|medication|pill|tablet)|koyta|koto|kotobar|kototuku|dose|dosage"
    r"|ডোজ|মাত্রা|খাব|খাবো|খাওয়া যায়|খাওয়াব|can i take|should i take|ki osud|kon osud|kabo|kaoa jay))"
)
LEGAL = strict(
    r"(?=.*(?:মামলা|ডিভোর্স|তালাক|কাবিন|দেনমোহর|custody|কাস্টডি|হেফাজত|আদালত|কোর্ট|court|lawsuit|\bcase\b|উকিল|আইনজীবী"
    r"|lawyer|divorce|mamla|mamlay|talak|jamin|জামিন|\bbail\b|\bsue\b|জিডি|এফআইআর|\bfir\b|আইনত|legally|উত্তরাধিকার"
    r"|inheritance|সম্পত্তি|তালাক))"
    r"(?=.*(?:পাবো?|জিতবো?|হারবো?|হবে কি|কি হবে|কী হবে|সাজা|শাস্তি|অধিকার|will i|can i|should i|am i entitled|is it legal"
    r"|do i have|\bwin\b|\blose\b|get custody|jitbo|pabo|harbo|odikar|করা যাবে|করতে পারবো?|পারবো? কি|কি?ভাবে|কীভাবে"
    r"|how (?:do|can) i|kibabe|ki hobe))"
)
CRISIS_FIRST = frozenset({S, H})  # a dose question that is a crisis gets the help block, not a medical pointer

# -- language guess for Latin-only text


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


ROM_MARKERS = _wordset(
    "ami amar amake amay ar na ki kore korbo korchi korte chai cai valo balo bhalo ekta ektu khub kub ache achi tumi apni"
    " kintu ajke aj kal ghum gum mon lagche lage jacchi jachi gelam hoye dite theke teke kichu keu sob shob ses shesh jibon"
    " more morte bachte hat kete diye niye jonno er te bolche bolse mere felbe hole giye tokhon majhe kosto ichhe iche icha"
    " ichha nijer nijeke kokhono porlam ekjon koreche korechi kharap karap koyta oshudh osud khabo kabo daktar koto gorome"
    " sobji katte geche eka deri mamlay jitbo nanu mara gechen pore lekha likhchi tomar shune haste hashte mori kajer chape"
    " pagol dekhe kanna pelo nayok jay shudhu sudhu sahajjo dorkar bondhu se chay kori ashche kodin dhore kora thakbo sobaike"
    " hasi ar r thakte beche felbo dibo rate roj sami baba atke rekhe marche bhoy humki dicche bujhte parchi vabchi jeno"
    " vange chad laf fashi atmohotta aatmohotya thakle sobai"
)
EN_MARKERS = _wordset(
    "the i is a an to and my me you of it in this that for with so just be am are was have want dont can will not on what"
    " how do too much very feel tired meme im its no all at if but or up out about would could should there they he she"
    " please sorry bye life"
)

# -- built-in response texts (configs/safety.yaml repeats them; SafetyConfig falls back to these)
DEFAULT_HELP_TITLE = "আপনি একা নন — এখনই সাহায্য নিন:"
DEFAULT_HELP_NUMBERS = ({"label": "জাতীয় জরুরি সেবা (বাংলাদেশ, বিনামূল্যে, ২৪ ঘণ্টা)", "number": "999"},)
DEFAULT_HELP_LINES = ("এখনই কাছের কারো সঙ্গে কথা বলুন — পরিবারের কেউ, বন্ধু বা প্রতিবেশী। একা থাকবেন না।",)
DEFAULT_HELP_ENGLISH = (
    "In danger or thinking of ending your life? Call 999 (Bangladesh) and talk to someone near you now."
)
DEFAULT_HELP_OTHER = (
    "**কারও জীবন বিপদে মনে হলে এখনই সাহায্য নিন:**\n"
    "- জাতীয় জরুরি সেবা (বাংলাদেশ, বিনামূল্যে, ২৪ ঘণ্টা): **999**\n"
    "- তাঁকে একা রাখবেন না; সম্ভব হলে এখনই তাঁর কাছে যান বা বিশ্বস্ত কাউকে পাঠান।\n"
    "- তাঁর কথা মন দিয়ে শুনুন, সরাসরি জিজ্ঞেস করুন তিনি নিজের ক্ষতির কথা ভাবছেন কি না, আর ক্ষতিকর জিনিস সরিয়ে রাখুন।\n\n"
    "If someone you know may be in danger or may end their life, call 999 now and do not leave them alone."
)
DEFAULT_CONCERN_LINE = (
    "কখনো নিজের ক্ষতির কথা মনে এলে বা বিপদে পড়লে **999**-এ ফোন করুন এবং কাছের কারও সঙ্গে কথা বলুন। "
    "If you ever feel unsafe, call **999** and talk to someone near you."
)
DEFAULT_FALLBACKS = {
    "someone_else": (
        "আপনি তাঁর জন্য চিন্তা করছেন, এটা খুব জরুরি। এখনই তাঁর সঙ্গে থাকুন বা কাউকে পাঠান, আর বিপদ মনে হলে ৯৯৯-এ "
        "কল করুন। চাইলে বলুন, তিনি এখন কোথায় আছেন আর কী বলেছেন — আমরা একসঙ্গে ভাবতে পারি পরের পদক্ষেপ কী।"
    ),
    "suicidal_intent": (
        "আপনি যা অনুভব করছেন, তা আমাকে বলেছেন — এটা সাহসের কাজ, আর আমি আপনার কথা গুরুত্ব দিয়ে শুনছি। "
        "এই মুহূর্তে একা থাকবেন না: কাছের কাউকে ডাকুন বা ৯৯৯-এ কল করুন। হাতের কাছে এমন কিছু থাকলে যা দিয়ে "
        "নিজের ক্ষতি হতে পারে, সেটা দূরে সরিয়ে রাখুন বা কারো কাছে দিয়ে দিন। আপনার জীবন মূল্যবান। "
        "চাইলে বলুন, এখন ঠিক কী হচ্ছে — আমি শুনছি।"
    ),
    "self_harm": (
        "আপনি যে কষ্টের মধ্যে আছেন, তা বুঝতে পারছি, আর আমাকে জানিয়েছেন বলে ধন্যবাদ। নিজেকে আঘাত করার "
        "ইচ্ছা হলে এখনই কাছের কাউকে জানান, আর ধারালো বা ক্ষতিকর জিনিস দূরে সরিয়ে রাখুন। ক্ষত থাকলে "
        "চিকিৎসা নিন। আপনি সাহায্য পাওয়ার যোগ্য — চাইলে বলুন, কী আপনাকে এতটা কষ্ট দিচ্ছে।"
    ),
    "harm_from_others": (
        "আপনার নিরাপত্তাই এখন সবচেয়ে জরুরি, আর যা ঘটছে তা আপনার দোষ নয়। বিপদ মনে হলে এখনই ৯৯৯-এ কল "
        "করুন, অথবা নিরাপদ কোনো জায়গায় বা বিশ্বস্ত কারো কাছে চলে যান। সম্ভব হলে কাছের কাউকে এখনই জানান। "
        "চাইলে বলুন, আপনি এখন কোথায় আছেন এবং নিরাপদ কি না — আমি শুনছি।"
    ),
    "default": ("দুঃখিত, এই উত্তরটি দেখানো নিরাপদ মনে হয়নি। আপনি এখন কেমন বোধ করছেন, সেটা নিয়ে আরেকটু বলবেন? আমি শুনছি।"),
}
DEFAULT_ADVICE_POINTERS = {
    "medical": (
        "ওষুধের মাত্রা বা চিকিৎসার বিষয়ে একজন ডাক্তার বা ফার্মাসিস্টের পরামর্শ নিন। "
        "For doses or treatment, please ask a doctor or pharmacist."
    ),
    "legal": "আইনি বিষয়ে সিদ্ধান্তের জন্য একজন আইনজীবীর পরামর্শ নিন। For legal questions, please consult a lawyer.",
}
