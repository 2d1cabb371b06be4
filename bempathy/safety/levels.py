# ruff: noqa: E501 -- word lists read better unbroken
"""Recall first: the three levels a message can reach, and the rules that decide them.

``crisis``: the help block first (as before). ``concern``: the caring answer plus a short line with the help
number. ``none``: the answer alone. A missed crisis is the worst failure the app can have, while a help line
shown to someone who did not need it costs little, so:

- any **mention** of suicide, self-harm, a wish to die or not to exist, or danger from another person is at
  least ``concern`` (:data:`MENTIONS`), in Bengali, English, romanised and code-mixed text;
- a guard of the crisis lexicon no longer cancels a hit outright: a negation or a past tense leaves it at
  ``concern`` (never below), and a negated wish next to an inability to go on is a ``crisis``;
- only an explicit list of contexts lowers a mention to ``none`` (:data:`CONTEXTS`): fiction, news or
  awareness, and fixed hyperbole idioms ("my feet are killing me", "হাসতে হাসতে মরে যাচ্ছি");
- someone else in danger ("my friend says she will kill herself") is a ``crisis`` whose help is worded for
  helping another person (:data:`SOMEONE_ELSE`).

Patterns run on the "phon" key of :mod:`bempathy.safety.lexicon` (Bengali folded, Latin spellings merged), so
one word list covers the four input kinds; ``@NAME`` is a concept of ``lexicon.CONCEPTS``.
"""

from __future__ import annotations

from typing import Literal

import regex

from bempathy.safety import lexicon as lex
from bempathy.safety.romanised import phon_source

Level = Literal["none", "concern", "crisis"]
LEVELS: tuple[Level, ...] = ("none", "concern", "crisis")  # in rising order
RANK = {level: rank for rank, level in enumerate(LEVELS)}

# What a guard of the crisis lexicon does to a hit now. Guards not named here (FIG, JOKE, LOL, TOPIC) lower a hit
# to "concern" unless a context of CONTEXTS explains it; ACCIDENT, TASK and COURT hits are not about the writer's
# safety at all (a cut while cooking, "kill this homework", a court case), a decision of ours: they count as none.
GUARD_LEVEL: dict[str, Level] = {
    "NEG": "concern",
    "PAST": "concern",
    "ACCIDENT": "none",
    "TASK": "none",
    "COURT": "none",
}


def _phon(source: str) -> regex.Pattern:
    return lex.strict(phon_source(lex.expand_concepts(rf"\b(?:{source})\b")))


# -- mentions: at least "concern" ----------------------------------------------------------------------------
MENTIONS: dict[str, regex.Pattern] = {
    "suicidal_intent": _phon(
        r"@SUICIDE|suicidal|unalive\S*|kms|kys|kill (?:my ?self|me)|end (?:my|it) (?:life|all)|end (?:it|everything)|take my (?:own )?life"
        r"|(?:want|wanna|wanted|wish|wishing|ready|going|decided|plan|planning) (?:\S+ ){0,2}(?:to )?(?:die|dead|disappear|vanish|not exist|not wake up|not be here)"
        r"|wish i (?:was|were|had) (?:dead|never been born|not born)|better off (?:dead|without me)|no (?:reason|point) (?:to|in) (?:live|living|go on|going on)"
        r"|(?:dont|do not|no longer) want to (?:live|exist|be alive|wake up)|not (?:be )?(?:here|around) (?:anymore|much longer|tomorrow)"
        r"|wont be (?:here|around)|sleep (?:and|forever and) never wake|never wake up|goodbye forever|last goodbye"
        r"|@DIE_INF (?:\S+ ){0,2}@WANT|(?:মরে|মইরা|মরেই) (?:যাব|যাবো|যামু|যাই|যেতাম|যেতে)\S*|মরব|মরবো|মরমু|মরুম|মরতে (?:\S+ )?(?:চাই|ইচ্ছা|ইচ্ছে|মন)"
        r"|বাঁচতে (?:\S+ )?(?:চাই না|চাইনা|ইচ্ছা করে না|ইচ্ছে করে না|মন চায় না)|বেঁচে থাকতে (?:\S+ )?(?:চাই না|চাইনা|ইচ্ছা করে না|ইচ্ছে করে না)"
        r"|বেঁচে (?:থেকে|থাকার) (?:\S+ )?(?:কী|কি|কোনো) (?:লাভ|মানে|দরকার)|বাঁচার (?:কোনো )?(?:ইচ্ছা|ইচ্ছে|কারণ|মানে) (?:নেই|নাই)"
        r"|নিজেকে (?:\S+ )?(?:শেষ|খতম)|জীবন(?:টা)? (?:\S+ )?শেষ করে|সব (?:কিছু )?শেষ করে (?:দেব|দেবো|দিব|দিবো|দিমু|দিই|দেই|ফেলব|ফেলবো)"
        r"|হারিয়ে যেতে (?:চাই|ইচ্ছা|ইচ্ছে|মন)|চিরতরে (?:চলে|হারিয়ে|ঘুমিয়ে)|না থাকলেই (?:ভালো|ভাল)|আর (?:থাকব|থাকবো|থাকমু) না|জন্ম না (?:হলেই|নিলেই)"
        r"|ঘুমিয়ে (?:\S+ )?আর (?:না )?(?:উঠি|উঠতে|জাগি)"
        r"|more (?:jabo|jaboi|jamu|jai|jete|zabo)|moira (?:jamu|jabo|jaite|jete)|morbo|mormu|morum|morte (?:\S+ )?(?:chai|ichha|ichhe|iccha|mon)"
        r"|bachte (?:\S+ )?(?:chai na|chaina|ichha kore na|iccha kore na|mon chay na)|beche (?:theke|thakar) (?:\S+ )?(?:ki|kono) (?:lav|labh|mane|dorkar)"
        r"|nijeke (?:\S+ )?(?:ses|sesh|khotom)|jibon(?:ta)? (?:\S+ )?(?:ses|sesh) kore|sob (?:kichu )?(?:ses|sesh) (?:kore|koira) (?:dibo|dimu|debo|felbo|dei|dii)"
        r"|hariye jete (?:chai|ichha|iccha|mon)|ar (?:thakbo|thakmu) na|ami ses|ami sesh"
    ),
    "self_harm": _phon(
        r"self ?harm\S*|hurt(?:ing)? my ?self|cut(?:ting)? my ?self|burn(?:ing|ed)? my ?self|starv(?:e|ing) my ?self|punish(?:ing)? my ?self"
        r"|(?:cut|cutting|burn|burning|scratch|scratching) (?:\S+ ){0,2}(?:@SITE_EN)|hit(?:ting)? (?:my (?:head|self)|walls?) "
        r"|নিজের (?:\S+ )?ক্ষতি|নিজেকে (?:\S+ )?(?:আঘাত|কষ্ট দিই|কষ্ট দেই|কাটি|পোড়াই)|(?:@HARM_1P) (?:\S+ ){0,3}(?:@BODY|@SH_TOOL)|(?:@BODY|@SH_TOOL) (?:\S+ ){0,3}(?:@HARM_1P)"
        r"|nijer (?:\S+ )?khoti|nijeke (?:\S+ )?(?:aghat|kosto dei|kati|porai)"
    ),
    "harm_from_others": _phon(
        r"(?:hits?|beats?|beat|beating|hitting|slaps?|kicks?|chokes?|choking|threaten\S*|abus\S*|rap(?:e|ed|ing)|molest\S*|hurts?) me\b"
        r"|(?:will|gonna|going to|threatened to|says he will|said he would) (?:\S+ )?kill me|locked me|lock me (?:in|up)|not (?:allowed|let) (?:me )?(?:to )?(?:leave|go out)"
        r"|domestic (?:violence|abuse)|@VIOLENCE (?:\S+ ){0,2}@ME_OBJ|@ME_OBJ (?:\S+ ){0,3}(?:@VIOLENCE|@THREAT_FUT)|@THREAT_FUT|ধর্ষণ\S*|নির্যাতন\S*|মারধর\S*|যৌতুক(?:ের)? (?:জন্য|জন্যে)"
        r"|(?:amake|amay|amare) (?:\S+ ){0,3}(?:mare|marse|mareche|pitay|petay|mere felbe|khun korbe)|nirjaton|dorshon|mardhor"
    ),
}

# -- someone else at risk: a crisis, help worded for helping another person -----------------------------------
_OTHER = (
    r"he|she|they|him|her|friend|sister|brother|mom|mother|dad|father|son|daughter|cousin|roommate|classmate|wife|husband|girlfriend|boyfriend"
    r"|বন্ধু\S*|বান্ধবী\S*|বোন\S*|ভাই\S*|মা|বাবা|ছেলে\S*|মেয়ে\S*|স্ত্রী|স্বামী|সে|তিনি|উনি|কাজিন\S*"
    r"|bondu\S*|bondhu\S*|bandobi|bandhobi|bon|bai|vai|vaiya|chele|meye|se|tini|uni"
)
SOMEONE_ELSE = _phon(
    rf"(?:{_OTHER}) (?:\S+ ){{0,6}}(?:"
    r"kill(?:s|ing)? (?:him|her|them)sel(?:f|ves)|end (?:his|her|their) (?:own )?life|(?:wants?|wanting|going|threaten\S*|talk\S*|says?|said|posted|texted) (?:\S+ ){0,2}(?:to )?(?:die|kill (?:him|her|them)|end it all|unalive)"
    r"|(?:posted|sent|wrote|left) (?:\S+ ){0,2}goodbye|overdos\S*|took (?:all|a lot of|too many) (?:\S+ )?(?:pills|tablets|meds)"
    r"|নিজেকে (?:\S+ )?(?:শেষ|খতম) করে (?:দেবে|দিবে|ফেলবে)|মরে (?:যাবে|যেতে চায়)|মরতে চায়|বাঁচতে চায় না|আত্মহত্যা করবে|সুইসাইড করবে"
    r"|(?:nijeke|nije) (?:\S+ )?(?:ses|sesh) kore (?:dibe|debe|felbe)|more (?:jabe|jete chay)|morte chay|bachte chay na|(?:atmohotta|suicide) korbe"
    r")"
)
OTHER_PERSON = _phon(_OTHER)

# -- the only contexts that lower a mention to "none" -----------------------------------------------------------
CONTEXTS: dict[str, regex.Pattern] = {
    "fiction": _phon(
        r"novel|story|stories|film|movie|series|episode|character|hero|heroine|villain|plot|scene|song|lyrics|poem|book|drama|serial|anime|manga|game|games"
        r"|উপন্যাস\S*|গল্প\S*|সিনেমা\S*|মুভি\S*|নাটক\S*|সিরিয়াল\S*|চরিত্র\S*|নায়ক\S*|নায়িকা\S*|ভিলেন\S*|গান\S*|কবিতা\S*|বই\S*|golpo|sinema|cinema|natok|choritro|nayok|nayika|gaan|kobita|boi"
    ),
    "news_awareness": _phon(
        r"news|newspaper|article|report|reported|awareness|prevention|campaign|seminar|workshop|research|thesis|essay|presentation|statistics|documentary|world (?:suicide )?prevention day"
        r"|খবর\S*|সংবাদ\S*|পত্রিকা\S*|নিউজ\S*|সচেতনতা\S*|প্রতিরোধ\S*|দিবস\S*|গবেষণা\S*|প্রবন্ধ\S*|পরিসংখ্যান\S*|সেমিনার\S*|প্রেজেন্টেশন\S*|kobor|khobor|potrika|news e|socetonota|sochetonota|dibos"
    ),
    "idiom": _phon(
        r"(?:feet|legs|back|head|heat|cold|traffic|suspense|this|that|it|work|homework|exam|you|shoes|cramps) (?:is |are )?kill\S* me"
        r"|(?:dying|died|dead|die) (?:of|from|with) (?:laughter|laughing|boredom|embarrassment|shame|hunger|thirst|curiosity|heat|cringe)"
        r"|dying (?:to|for) (?:see|know|meet|try|go|watch|eat|hear|tell|get|have|a |some )|(?:i'?d|i would|would) (?:kill|die) for|to die for"
        r"|(?:boss|mom|mum|mother|dad|father|teacher|coach|sir|wife|husband|ammu|abbu|amma|abba|ma|baba|মা|বাবা|আম্মু|আব্বু|স্যার|বস) (?:\S+ ){0,2}(?:will|gonna|is going to|would) kill me"
        r"|kill(?:ed|ing)? (?:it|time)|dead (?:tired|beat|serious)|drop dead|over my dead body|killing it|laughed to death|bored to death|scared to death"
        r"|(?:gonna|going to|will|would) murder me|(?:deadline|assignment|project|homework|exam|ডেডলাইন|প্রজেক্ট\S*|অ্যাসাইনমেন্ট\S*|পরীক্ষা\S*|assignment\S*) (?:\S+ ){0,3}(?:মেরে ফেলবে|kill me|murder me|mere felbe)"
        r"|(?:ঝাল|মজা|moja|jhal)\S* (?:\S+ ){0,3}(?:মরে যাব|more jabo)|(?:মরে যাব|more jabo) (?:\S+ ){0,4}(?:ঝাল|মজা|moja|jhal)\S*|বুড়ো হয়ে মর\S*|(?:die|dying) (?:old|peacefully in my sleep at)"
        r"|(?:হাসতে হাসতে|হেসে|লজ্জায়|লজ্জাতে|খিদেয়|খিদায়|ক্ষুধায়|গরমে|শীতে|ঠান্ডায়|টেনশনে|বিরক্তিতে|চিন্তায়) (?:\S+ )?(?:মরে|মইরা|মারা|শেষ)"
        r"|(?:বস|মা|আম্মু|আব্বু|বাবা|স্যার|ম্যাডাম|বউ) (?:\S+ ){0,2}(?:মেরে ফেলবে|মেরেই ফেলবে|খুন করবে|মাইরা ফালাইবো)|মরার (?:সময়|ফুরসত)|মরে গেলেও (?:না|করব না|করবো না)"
        r"|(?:haste haste|hese|lojjay|lojjai|khide|khidey|kide|gorome|sete|thandai|tension e) (?:\S+ )?(?:more|moira|mara|ses)"
        r"|(?:boss|ammu|abbu|amma|ma|baba|sir|madam|bou) (?:\S+ ){0,2}(?:mere felbe|mereii felbe|khun korbe|maira falaibo)|morar (?:somoy|fursot)"
    ),
}
# "I can't go on": next to a negated wish it makes a crisis of what a negation would leave at concern.
CANNOT_GO_ON = _phon(
    r"@DESPAIR|cant (?:go on|take (?:it|this) (?:anymore|any more)|do this anymore|keep going)|can not go on|no way out|nothing left|give up|giving up|so done|im done"
    r"|আর (?:পারছি|পারি|পারব|পারবো|পারতেছি|পারতাছি) না|সহ্য (?:হয়|হচ্ছে|করতে পারছি) না|শেষ (?:হয়ে গেছি|আমি)|কোনো (?:আশা|উপায়) (?:নেই|নাই)"
    r"|ar (?:parchi|pari|parbo|partesi|partechi|partasi) na|sojjo (?:hoy|hocche) na|ar pari na"
)


# What explains a mention away without being a context: an accident (a cut while cooking) for self-harm words,
# a game for "beat me" (lexicon concepts, so both lists stay one).
EXPLAINS: dict[str, regex.Pattern] = {
    "self_harm": lex.GUARDS["phon"]["ACCIDENT"],
    "harm_from_others": _phon(
        "@SPORT|badminton|chess|ludo|carrom|tennis|football|cricket|race|game|games|খেলা\\S*|লুডু|দাবা"
    ),
}


def context_of(key: str) -> str | None:
    """The first explicit context (fiction, news_awareness, idiom) found in a phon key, else None."""
    return next((name for name, pattern in CONTEXTS.items() if pattern.search(key)), None)


def mention_of(key: str) -> str | None:
    """The first category a phon key mentions (suicide, self-harm, a wish to die, danger from others), else None;
    a mention that :data:`EXPLAINS` accounts for (a cut while cooking, a game) is not one."""
    for category, pattern in MENTIONS.items():
        explained = category in EXPLAINS and EXPLAINS[category].search(key)
        if pattern.search(key) and not explained:
            return category
    return None


def about_someone_else(key: str) -> bool:
    """Another person at risk: a risk phrase about someone else, and no first-person risk phrase."""
    return bool(SOMEONE_ELSE.search(key) and OTHER_PERSON.search(key))


def higher(a: Level, b: Level) -> Level:
    return a if RANK[a] >= RANK[b] else b
