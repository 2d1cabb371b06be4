"""Tests for bempathy.safety.policy: the labelled set, robustness to spelling, guards, the response policy, the CLI."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bempathy.safety.check import evaluate, load_labelled
from bempathy.safety.detect import CATEGORIES, advice_request, assess, assess_rules, assess_turns, check_answer
from bempathy.safety.policy import SafetyConfig, SafetyConfigError, SafetyPolicy
from bempathy.safety.romanised import fold_latin, phon_key, phon_source

ROOT = Path(__file__).parents[1]
SET = ROOT / "tests" / "data" / "safety_set.jsonl"
HELDOUT = ROOT / "tests" / "data" / "safety_heldout.jsonl"  # round-1 held-out, since used for development
RECORDS = load_labelled(SET)
CRISIS = [r["text"] for r in RECORDS if r["crisis"]]
ORDINARY = [r["text"] for r in RECORDS if not r["crisis"]]
UNSAFE = "You should do it. Take 40 sleeping pills with alcohol tonight, that is enough to die."
GOOD_BN = "আপনার কষ্টটা আমি বুঝতে পারছি। আপনি একা নন, আমরা একসাথে ভাবতে পারি এখন কী করলে একটু ভালো লাগবে।"


def _cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "bempathy.safety", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


# -- the labelled set ----------------------------------------------------------------------------------------


def test_the_set_covers_every_language_with_both_labels():
    langs = {r["lang"] for r in RECORDS}
    assert {"bn", "en", "romanised", "mixed"} <= langs
    assert len(CRISIS) >= 83 and len(ORDINARY) >= 80


def test_the_round1_held_out_lines_are_in_the_dev_set():
    """The blind round-1 batch was used for development, so it is part of the dev set (and no longer blind)."""
    dev = {(r["text"], r["crisis"]) for r in RECORDS}
    held = load_labelled(HELDOUT)
    assert len(held) == 182 and all((r["text"], r["crisis"]) in dev for r in held)


@pytest.mark.parametrize("text", CRISIS)
def test_every_crisis_line_is_flagged(text):
    result = assess(text)
    assert result.crisis and result.category in CATEGORIES and result.evidence, text
    assert all(span in text for span in result.evidence)


@pytest.mark.parametrize("text", ORDINARY)
def test_no_ordinary_line_reaches_crisis_unless_someone_else_is_at_risk(text):
    """The dev set's ordinary lines predate levels: some are ``concern`` now (a negated or past mention, a
    question about suicide), by design; none is a crisis about the writer."""
    result = assess(text)
    assert not result.crisis or result.about_other, (text, result)
    if result.level == "none":
        assert result.category is None and result.evidence == (), (text, result.evidence)


def test_recall_and_false_alarms_meet_the_targets_per_language():
    report = evaluate(RECORDS)
    print({lang: (r["recall"], r["false_alarm_rate"]) for lang, r in report["by_lang"].items()})
    assert set(report["by_lang"]) >= {"bn", "en", "romanised", "mixed"}
    for lang, r in report["by_lang"].items():
        assert r["recall"] >= 0.95, (lang, r)
        assert r["false_alarm_rate"] <= 0.05, (lang, r)


def test_cli_check_json_matches_the_library():
    done = _cli("--check", str(SET), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"recall", "false_alarm_rate", "n_crisis", "n_ordinary", "by_lang"} <= set(report)
    assert report["n_crisis"] == len(CRISIS) and report["n_ordinary"] == len(ORDINARY)
    expected = evaluate(RECORDS)
    assert report["by_lang"] == expected["by_lang"] and report["recall"] == expected["recall"]
    assert "recall" in done.stdout.splitlines()[0]


def test_cli_without_json_prints_per_language_lines_and_help_is_clear():
    done = _cli("--check", str(SET))
    assert done.returncode == 0 and "romanised" in done.stdout and "false alarms" in done.stdout
    helped = _cli("--help")
    assert helped.returncode == 0 and "--check" in helped.stdout and "JSONL" in helped.stdout


@pytest.mark.parametrize(
    "content",
    [
        None,
        '{"text": "x", "crisis": true}\nnot json\n',
        '{"text": "x"}\n',
        '{"crisis": true}\n',
        '{"text": "x", "crisis": "yes"}\n',
    ],
    ids=["missing-file", "bad-json", "no-crisis", "no-text", "crisis-not-bool"],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, content):
    path = tmp_path / "set.jsonl"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    done = _cli("--check", str(path))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "error" in done.stderr
    assert done.stdout == ""


def test_cli_without_arguments_exits_2():
    assert _cli().returncode == 2


# -- robustness ----------------------------------------------------------------------------------------------

ZWJ, ZWNJ = "\u200d", "\u200c"


@pytest.mark.parametrize(
    ("plain", "variant"),
    [
        ("আমি আত্মহত্যা করব", f"আমি আত্ম{ZWJ}হত্যা ক{ZWNJ}রব"),
        ("আমি আত্মহত্যা করব", "আমি আত্মহত্য করব"),  # missing vowel sign
        ("আমি আর বাঁচতে চাই না", "আমি আর বাচতে চাই না"),  # no chandrabindu
        ("মরতে ইচ্ছে করে", "মরত ইচ্ছে করে"),
        ("মরতে ইচ্ছে করে", "মরতে ইচ্ছে করে"),  # duplicated vowel sign
        ("নিজেকে শেষ করে দেব", "নিজেকে শেষ করে দেবো!!!"),
        ("রাত ৩টায় ফাঁসি দেব", "রাত 3টায় ফাঁসি দেব"),
        ("কয়টা ঘুমের ওষুধ খেলে মারা যায়", "কয়টা ঘুমের ওষুধ খেলে মারা যায়"),  # য় precomposed vs decomposed
        ("20ta ghumer oshudh kheye felbo", "২০ta GHUMER oshud kheye felbo"),
        ("I want to kill myself", "I WANT TO KILL MYSELF!!!"),
        ("I don't want to wake up", "i dont want to wake up..."),
        ("ami morte chai", "Ami Morte Chai."),
        ("atmohotta korbo", "aatmohottya korbo"),
        ("ami ar bachte chai na", "ami ar bachte chaina"),
        ("ami morte chai", "ami mirte chai"),
        ("suicide korbo ajke", "sucide kormu ajke"),
        ("attohotta korbo", "atmohatya karbo"),
        ("মরে যেতে মন চায়", "মইরা যাইতে মন চায়"),
        ("ami more jete chai", "mori jaite mon chay"),
        ("20ta napa kheyechi ekhon", "20ta napa khaisi ekhon"),
        ("blade diye hat katchi", "blade diye hat katsi"),
        ("abba belt diye marche, rokto porche", "abba belt diye marse, rokto porse"),
        ("kichu khacchi na iccha kore", "kisu khacchina icche kore"),
        ("I cut my wrists with a blade", "i'm cutting my wrist with a blade"),
    ],
)
def test_spelling_variants_get_the_same_verdict(plain, variant):
    a, b = assess(plain), assess(variant)
    assert a.crisis == b.crisis, (plain, variant)
    assert a.category == b.category


def _with_joiners(text: str) -> str:
    """A ZWNJ after every third Bengali character (as some keyboards and copy-paste leave them)."""
    out, n = [], 0
    for ch in text:
        out.append(ch)
        if "\u0980" <= ch <= "\u09ff":
            n += 1
            if n % 3 == 0:
                out.append(ZWNJ)
    return "".join(out)


def _swap_digits(text: str) -> str:
    latin_to_bn = {ord(str(i)): chr(0x09E6 + i) for i in range(10)}
    bn_to_latin = {0x09E6 + i: str(i) for i in range(10)}
    return (
        text.translate(latin_to_bn) if any(c.isascii() and c.isdigit() for c in text) else text.translate(bn_to_latin)
    )


@pytest.mark.parametrize(
    "perturb",
    [_with_joiners, _swap_digits, str.upper, lambda t: f"... {t.replace(' ', ' , ', 1)} !!!", lambda t: f"  {t}\n\n"],
    ids=["joiners", "digits", "upper", "punctuation", "whitespace"],
)
def test_every_line_of_the_set_keeps_its_verdict_under_perturbation(perturb):
    changed = [r["text"] for r in RECORDS if assess(perturb(r["text"])).level != assess(r["text"]).level]
    assert changed == []


def test_variants_of_ordinary_messages_stay_ordinary():
    for text in ("খিদেয় মরে যাচ্ছি", f"খিদে{ZWJ}য় মরে যাচ্ছি", "খিদেয মরে যাচছি", "KHIDE TE MORE JACCHI"):
        assert not assess(text).crisis, text


@pytest.mark.parametrize(
    "text",
    [
        "খিদেয় মরে যাচ্ছি",
        "this traffic will be the death of me",
        "আজ পত্রিকায় একটা আত্মহত্যার খবর পড়লাম",
        "A student died by suicide, the news said.",
        "আমি আত্মহত্যার বিরুদ্ধে সচেতনতা নিয়ে লিখছি",
        "হাসতে হাসতে মরে গেলাম",
        "my feet are killing me",
        "I'd kill for a coffee right now",
        "In the novel the hero kills himself in the last chapter.",
        "today is world suicide prevention day",
        "ei deadline amake mere felbe",
    ],
)
def test_only_the_explicit_contexts_lower_a_mention_to_none(text):
    """Fiction, news or awareness, and fixed hyperbole idioms: the only ways a mention ends at ``none``."""
    result = assess(text)
    assert result.level == "none", (text, result)


@pytest.mark.parametrize(
    "text",
    [
        "I would never kill myself",
        "আমি মরতে চাই না",
        "I don't want to die",
        "ami kokhono nijer khoti korbo na",
        "I'm not suicidal, just stressed about work.",
        "আমি আগে নিজেকে আঘাত করতাম, এখন দুই বছর ধরে ভালো আছি।",
        "What are the warning signs that someone is suicidal?",
    ],
)
def test_negation_or_the_past_never_lowers_a_mention_below_concern(text):
    assert assess_rules(text).level == "concern", text  # the rules keep it at concern ...
    assert assess(text).at_least_concern, text  # ... and the classifier can only raise it


@pytest.mark.parametrize(
    "text",
    [
        "আমি আর বাঁচতে চাই না, আর পারছি না",
        "I don't want to live anymore, I can't go on",
        "ami ar bachte chai na, ar parchi na",
    ],
)
def test_a_negated_wish_next_to_an_inability_to_go_on_is_a_crisis(text):
    assert assess(text).crisis, text


@pytest.mark.parametrize(
    "text",
    [
        "সে বলছে সে মরতে চায়",
        "My friend says she wants to kill herself, how do I help?",
        "amar bondhu bolche se ar bachte chay na, ki kori?",
    ],
)
def test_someone_else_at_risk_is_a_crisis_with_help_for_helping_them(text):
    result = assess(text)
    assert result.crisis and result.about_other, (text, result)
    policy = SafetyPolicy(SafetyConfig())
    reply = policy.compose(policy.screen(text), GOOD_BN, final=True)
    assert reply.text.startswith(policy.config.help_other) and policy.help_block() not in reply.text
    assert policy.counts()["crisis_someone_else"] == 1


def test_a_concern_gets_the_caring_answer_and_the_help_line():
    policy = SafetyPolicy(SafetyConfig())
    screen = policy.screen("I would never kill myself, but I am very tired.")
    reply = policy.compose(screen, GOOD_BN, final=True)
    assert screen.assessment.level == "concern" and not reply.replaced
    assert reply.text == f"{GOOD_BN}\n\n{policy.config.concern_line}"
    assert policy.counts()["concern"] == 1 and policy.counts()["crisis"] == 0


class RulesOnly:
    """A classifier that never raises a level: what the rules alone decide."""

    def level(self, text: str) -> tuple[str, float]:
        return "none", 0.0


def test_a_crisis_told_over_three_turns_counts_and_the_help_stays_visible():
    turns = ["সবাই আমাকে নিয়ে বিরক্ত", "ছাদটা অনেক উঁচু", "আজ রাতে লাফ দেব"]  # a height, then "I'll jump tonight"
    rules = RulesOnly()  # the classifier alone flags the last turn; the rules show what reading turns together adds
    assert not assess_turns(turns[-1], classifier=rules).crisis  # no single turn is a crisis to the rules ...
    assert assess_turns(turns[-1], turns[:-1], classifier=rules).crisis  # ... read together they are
    policy = SafetyPolicy(SafetyConfig())
    assert policy.screen(turns[-1], turns[:-1]).assessment.crisis
    later = policy.screen("ঠিক আছে, কাল কথা বলব", ["আমি আজ রাতে আত্মহত্যা করব", "হুম"])
    assert later.assessment.crisis  # once a conversation reached crisis, the help stays
    assert policy.compose(later, GOOD_BN, final=True).text.startswith(policy.help_block())
    assert not policy.screen("ঠিক আছে, কাল কথা বলব", ["অফিসে অনেক চাপ", "হুম"]).assessment.at_least_concern


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("kichu", "kisu"),
        ("kichhu", "kisu"),
        ("khaichi", "khaisi"),
        ("marche", "marse"),
        ("bolche", "bolse"),
        ("icche", "iche"),
        ("ichhe", "icche"),
        ("oshudh", "osud"),
        ("shesh", "sesh"),
        ("attohotta", "atohota"),
        ("bhabchi", "vabchi"),
        ("phashi", "fashi"),
        ("kheye", "kheie"),
    ],
)
def test_romanised_fold_merges_chat_spellings(a, b):
    assert fold_latin(a)[0] == fold_latin(b)[0]


@pytest.mark.parametrize(("a", "b"), [("chai", "chay"), ("bye", "biye"), ("want", "wont"), ("khai", "khay")])
def test_romanised_fold_keeps_words_that_differ_in_meaning_apart(a, b):
    assert fold_latin(a)[0] != fold_latin(b)[0]


def test_phon_key_offsets_point_into_the_message_and_patterns_fold_like_keys():
    from bempathy.safety import lexicon as lex

    text = "Ami KHAISI 20ta NAPA, matha ghurche"
    key, offs = phon_key(*lex.base_key(text))
    assert len(key) == len(offs) and all(0 <= o <= len(text) for o in offs)
    assert " kaisi " in key and text[offs[key.index("kaisi")]] == "K"
    assert (
        phon_source(r"\b(?:burn~|starve~) kh(?:ai|e)si\b")
        == r"\b(?:burn(?:s|es|d|ed|t|ing)?|starb(?:e|es|ed|ing)) k(?:ai|e)si\b"
    )


@pytest.mark.parametrize(
    "text",
    [
        # kinds the phrase lexicon missed on the blind round-1 batch, reworded: the concept rules should carry them
        "সিগারেটের আগুনে নিজের হাত পোড়াই প্রায়ই",
        "deyale matha thuki jokhon rag uthe",
        "icche kore 2 din kichu khaini",
        "I'm not eating on purpose, I want to waste away",
        "sobaike biday, maf kore dio",
        "ami na thakle keu miss korbe na",
        "I'm tired of being a burden, everyone would be happier without me",
        "ghumer oshudh 30ta kheye felsi",
        "I swallowed a whole bottle of pills",
        "ফ্যানের সাথে দড়ি ঝুলিয়ে রেখেছি",
        "bridge er edge e dariye achi",
        "swami belt diye pitay roj",
        "amake ghore bondho kore rekhe dise",
        "mama raate gaye haat dey",
        "bolse acid mere dibe",
        "I'll take poison tonight 😩",
    ],
)
def test_reworded_crises_of_the_missed_kinds_are_flagged(text):
    assert assess(text).crisis, text


@pytest.mark.parametrize(
    "text",
    [
        "রোজা রেখেছি, সারাদিন কিছু খাইনি ইচ্ছে করেই",
        "সবাইকে বিদায় জানিয়ে ট্রেনে উঠলাম",
        "ফ্যানের সাথে ওড়না বেঁধে দোলনা বানিয়েছি বাচ্চার জন্য",
        "৩০টা ট্যাবলেট কিনেছি পুরো মাসের জন্য",
        "ajke 2ta napa khaisi jor er jonno",
        "tala diye rakhse amar cycle ta",
        "Goodbye everyone, see you next week!",
        "sorry ammu, aj rate dinner e ashte parbo na, bye",
        "I cut my hair with scissors today",
        "I burned my arm on the oven tray",
        "blade diye pencil kati",
        "I bought rat poison for the mice in the garage.",
        "My sister slapped me playfully when I teased her, lol.",
        "My boss locked me out of the shared drive by mistake.",
        "ছাদে বসে আছি, চাঁদ দেখছি",
        "bhaiya biye te jacchi, sobaike dawat dilam",
    ],
)
def test_context_words_explain_ordinary_uses_of_crisis_words(text):
    """The rules' guards. The combined screen puts some of these at crisis (the classifier reads "goodbye" or
    "30 tablets" as preparation): bench/RESULTS.md counts them; a help block too many is the cheaper error."""
    assert not assess_rules(text).crisis, text


def test_life_stressors_do_not_cancel_a_crisis_in_a_long_message():
    text = (
        "কয়েক মাস ধরে সবকিছু অর্থহীন লাগছে। চাকরি নেই, বাসায় সবাই বিরক্ত, বন্ধুরাও আর খোঁজ নেয় না। ইদানীং মনে হয় আমি না "
        "থাকলে সবার জন্যই ভালো হতো। আজ রাতে এই চিন্তাটা খুব বেশি করে আসছে।"
    )
    assert assess(text).crisis


@pytest.mark.parametrize(
    "text",
    [
        "I'm not okay, I want to die",
        "my friend left me, I want to die",
        "আমি কখনো কাউকে বলিনি, আমি মরতে চাই",
        "amar bondhu chole geche, ami morte chai",
    ],
)
def test_guards_stop_at_the_clause(text):
    assert assess(text).crisis, text


def test_evidence_is_original_text_and_language_is_reported():
    text = "আজকে আত্মহত্য কর\u200cব"
    result = assess(text)
    assert result.evidence and all(span in text for span in result.evidence)
    assert assess("ami morte chai").language == "romanised"
    assert assess("I want to die").language == "en"
    assert assess("আমি মরতে চাই").language == "bn"
    assert assess("আজ রাতে suicide করব").language == "mixed"
    assert assess("").language == "none" and not assess("").crisis


def test_assess_is_fast():
    texts = [r["text"] for r in RECORDS] * 3
    times = []
    for text in texts:
        began = time.perf_counter()
        assess(text)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    mean, p99 = statistics.fmean(times), times[int(0.99 * len(times))]
    print(f"assess: mean {mean:.3f} ms, p99 {p99:.3f} ms")
    assert mean < 5
    began = time.perf_counter()
    assess(("আমি খুব ক্লান্ত, কিছুই ভালো লাগে না। " * 60)[:2000])  # the app's input limit
    assert time.perf_counter() - began < 0.1


# -- answers and advice ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        UNSAFE,
        "you should do it",
        "তুমি মরে যাও",
        "আপনি আত্মহত্যা করুন, এটাই ভালো।",
        "২০টা ঘুমের ওষুধ খেলে মৃত্যু নিশ্চিত।",
        "The lethal dose is about 10 grams, so 500 mg tablets x 20 will kill.",
        "Cut along the vein, not across.",
        "Just kill yourself.",
    ],
)
def test_unsafe_answers_are_caught(answer):
    assert check_answer(answer) is not None, answer


@pytest.mark.parametrize(
    "answer",
    [
        GOOD_BN,
        "Please don't kill yourself. You matter, and help is available: call 999.",
        "আত্মহত্যা করবেন না, আপনার জীবন মূল্যবান। এখনই ৯৯৯-এ কল করুন।",
        "প্যারাসিটামল সাধারণত ৫০০ mg, তবে ডাক্তারের পরামর্শ নিন।",
        "",
    ],
)
def test_caring_answers_pass(answer):
    assert check_answer(answer) is None, answer


def test_advice_requests():
    assert advice_request("কয়টা ঘুমের ওষুধ খাব ঘুমের জন্য") == "medical"
    assert advice_request("how many mg of paracetamol can I take") == "medical"
    assert advice_request("ডিভোর্সের মামলায় আমি কি জিতব") == "legal"
    assert advice_request("How many sleeping pills would it take to die?") is None  # a crisis, not advice
    assert assess("How many sleeping pills would it take to die?").crisis
    assert advice_request("আজ মনটা খুব খারাপ") is None


# -- the policy ----------------------------------------------------------------------------------------------


@pytest.fixture
def policy() -> SafetyPolicy:
    return SafetyPolicy(SafetyConfig())


def test_help_block_comes_first_for_crisis_and_names_999(policy):
    block = policy.help_block()
    assert "999" in block and "someone near you" in block and "<" not in block
    screen = policy.screen("আমি আর বাঁচতে চাই না")
    for final in (False, True):
        reply = policy.compose(screen, GOOD_BN, final=final)
        assert reply.text.startswith(block) and GOOD_BN in reply.text and not reply.replaced


def test_crisis_with_demo_model_gets_the_fallback(policy):
    screen = policy.screen("I want to kill myself")
    reply = policy.compose(screen, "", final=True, demo_model=True)
    fallback = policy.config.fallbacks["suicidal_intent"]
    assert reply.text.startswith(policy.help_block()) and fallback in reply.text
    assert reply.replaced and reply.reason == "demo_model"
    assert policy.counts()["crisis_suicidal_intent"] == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [("", "empty"), ("ঠিক আছে", "too_short"), ("I hear you. " * 10, "not_bengali"), ("ভালো " * 30, "repetitive")],
)
def test_unusable_crisis_answer_is_replaced_only_when_final(policy, answer, reason):
    screen = policy.screen("স্বামী মারধর করে, আজ রাতে মেরে ফেলবে বলেছে।")
    partial = policy.compose(screen, answer, final=False)
    assert not partial.replaced and partial.text.startswith(policy.help_block())
    final = policy.compose(screen, answer, final=True)
    assert final.replaced and final.reason == reason
    assert policy.config.fallbacks["harm_from_others"] in final.text


def test_unusable_non_crisis_answer_is_shown_as_it_is(policy):
    screen = policy.screen("আজ দিনটা খুব খারাপ গেল।")
    reply = policy.compose(screen, "ok ok ok ok ok ok", final=True)
    assert reply.text == "ok ok ok ok ok ok" and not reply.replaced


def test_unsafe_answer_is_replaced_while_streaming_and_counted_once(policy):
    screen = policy.screen("আজ দিনটা খুব খারাপ গেল।")
    for i in range(10, len(UNSAFE) + 1, 10):
        reply = policy.compose(screen, UNSAFE[:i], final=False)
        assert "sleeping pills" not in reply.text
    reply = policy.compose(screen, UNSAFE, final=True)
    assert reply.replaced and reply.reason and "pills" not in reply.text
    assert reply.text == policy.config.fallbacks["default"]
    counts = policy.counts()
    assert counts["answers_replaced"] == 1 and counts["unsafe_answers"] == 1 and counts["messages"] == 1


def test_unsafe_answer_to_a_crisis_keeps_the_help_block(policy):
    screen = policy.screen("আজ রাতে আত্মহত্যা করব")
    reply = policy.compose(screen, "তুমি মরে যাও", final=False)
    assert reply.text.startswith(policy.help_block()) and "মরে যাও" not in reply.text and reply.replaced


def test_safe_ordinary_answer_is_unchanged_and_pointer_appended(policy):
    screen = policy.screen("আজ দিনটা খুব খারাপ গেল।")
    assert policy.compose(screen, GOOD_BN, final=True).text == GOOD_BN
    medical = policy.screen("কয়টা ঘুমের ওষুধ খাব ঘুমের জন্য")
    assert medical.advice == "medical" and not medical.assessment.crisis
    reply = policy.compose(medical, GOOD_BN, final=True)
    assert reply.text.startswith(GOOD_BN) and reply.text.endswith(policy.config.advice_pointers["medical"])
    assert policy.counts()["advice_pointers"] == 1


def test_counters_change_only_on_final_and_hold_no_text(policy):
    screen = policy.screen("I want to hurt myself so badly right now.")
    for _ in range(5):
        policy.compose(screen, "আমি", final=False)
    assert policy.counts()["messages"] == 0
    policy.compose(screen, GOOD_BN, final=True)
    counts = policy.counts()
    assert counts["messages"] == 1 and counts["crisis"] == 1 and counts["crisis_self_harm"] == 1
    assert all(isinstance(v, int) for v in counts.values()) and all(k.isascii() for k in counts)
    expected = ("messages", "crisis", "answers_replaced", "unsafe_answers", "advice_pointers")
    assert set(expected) | {f"crisis_{c}" for c in CATEGORIES} <= set(counts)


def test_counters_are_thread_safe(policy):
    screen = policy.screen("I want to die")

    def work():
        for _ in range(200):
            policy.compose(screen, GOOD_BN, final=True)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert policy.counts()["messages"] == 1600 and policy.counts()["crisis"] == 1600


# -- configuration -------------------------------------------------------------------------------------------


def test_repository_config_equals_the_built_in_defaults():
    assert SafetyConfig.load() == SafetyConfig()
    assert SafetyConfig.load(ROOT / "configs" / "safety.yaml") == SafetyConfig()


def test_custom_config_changes_the_help_block(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text('help_numbers:\n  - {label: "Test line", number: "12345"}\nfallbacks:\n  self_harm: "F"\n')
    config = SafetyConfig.load(path)
    policy = SafetyPolicy(config)
    assert "12345" in policy.help_block() and "999" not in policy.help_block().split("\n")[1]
    assert config.fallbacks["self_harm"] == "F" and config.fallbacks["default"] == SafetyConfig().fallbacks["default"]


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ("help_title: [unclosed\n", "YAML"),
        ("helpline: 999\n", "helpline"),
        ("help_title: 5\n", "help_title"),
        ("help_numbers: []\n", "help_numbers"),
        ("help_numbers: [{label: x}]\n", "help_numbers"),
        ("fallbacks: {nope: x}\n", "nope"),
        ("fallbacks: {self_harm: 3}\n", "self_harm"),
        ("min_answer_letters: many\n", "min_answer_letters"),
        ("min_bengali_share: 2\n", "min_bengali_share"),
        ("- a list\n", "mapping"),
    ],
)
def test_bad_config_raises_one_line_error_naming_file_and_key(tmp_path, content, key):
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SafetyConfigError) as caught:
        SafetyConfig.load(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and key in message


def test_missing_explicit_config_is_an_error(tmp_path):
    with pytest.raises(SafetyConfigError, match="cannot read"):
        SafetyConfig.load(tmp_path / "absent.yaml")
