"""Tests for the crisis lexicon as data (configs/safety_lexicon/, bempathy.safety.lexicon_data): the shipped files
load into what bempathy.safety.lexicon publishes, every broken reference is a one-line error naming the file and
the entry, and the help texts live only in configs/safety.yaml."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from bempathy.safety import lexicon as lex
from bempathy.safety import policy
from bempathy.safety.lexicon_data import CATEGORIES, LEXICON_DIR, SIGNAL_GUARDS, LexiconError, load
from bempathy.safety.policy import SafetyConfig, SafetyConfigError

ROOT = Path(__file__).parents[1]
SAFETY_YAML = ROOT / "configs" / "safety.yaml"


def _names_and_patterns(signals) -> list[tuple[str, str, str]]:
    return [(s.name, s.key, s.pattern.pattern) for s in signals]


# -- the shipped lexicon ---------------------------------------------------------------------------------------


def test_the_shipped_lexicon_loads_into_what_lexicon_publishes():
    data = load(LEXICON_DIR)
    assert LEXICON_DIR == ROOT / "configs" / "safety_lexicon"
    assert len(data.phrase_signals) >= 100 and len(data.concept_signals) >= 50 and len(data.concepts) >= 50
    assert _names_and_patterns(lex.SIGNALS) == _names_and_patterns(data.phrase_signals + data.concept_signals)
    assert _names_and_patterns(lex.CONCEPT_SIGNALS) == _names_and_patterns(data.concept_signals)
    assert data.concepts == lex.CONCEPTS and data.rom_markers == lex.ROM_MARKERS
    assert {s.key for s in data.phrase_signals} == {"base", "rom"} and {s.key for s in data.concept_signals} == {"phon"}
    assert {s.category for s in lex.SIGNALS} == set(CATEGORIES)
    assert all(s.guards <= set(SIGNAL_GUARDS) for s in lex.SIGNALS)
    assert len({s.name for s in lex.SIGNALS}) == len(lex.SIGNALS)
    assert set(lex.GUARDS) == {"base", "rom", "phon"} and lex.GUARDS["rom"] is lex.GUARDS["base"]
    assert lex.NEG_BEFORE is lex.GUARDS["base"]["NEG_BEFORE"]
    assert {name for name, _, _ in lex.ANSWER_SIGNALS} == {"encourages_harm", "method_or_dose"}


# sha256 of every compiled pattern, flag, guard set and window the lexicon publishes, computed on the Python
# lexicon of 3cc9f3a (before the move to YAML) and on the YAML one: equal. A changed rule changes it, on purpose.
PATTERNS_SHA256 = "c5b5e2dc343a3d7c7d49efd198439c723b130afb678f1a0fe404c847362422d5"


def _pattern(x):
    return None if x is None else [x.pattern, int(x.flags)]


def _rest(signal) -> list:
    return [[_pattern(a) for a in signal.also], _pattern(signal.unless), signal.window]


def test_the_compiled_lexicon_is_the_one_of_the_python_source_it_replaced():
    import hashlib
    import json

    rows = [
        [s.name, s.category, s.key, _pattern(s.pattern), sorted(s.guards), _pattern(s.requires), *_rest(s)]
        for s in lex.SIGNALS
    ]
    rows += [[key, {n: _pattern(v) for n, v in group.items()}] for key, group in sorted(lex.GUARDS.items())]
    rows += [[name, _pattern(a), _pattern(b)] for name, a, b in lex.ANSWER_SIGNALS]
    rows += [_pattern(lex.MEDICAL), _pattern(lex.LEGAL), _pattern(lex.JOKE_MARK), _pattern(lex.CLAUSE_BREAK)]
    rows += [sorted(lex.ROM_MARKERS), sorted(lex.EN_MARKERS), sorted(lex.CONCEPTS.items())]
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()
    assert digest == PATTERNS_SHA256, "the lexicon changed: if on purpose, update PATTERNS_SHA256 with the change"


def test_pieces_fill_in_and_old_names_still_resolve():
    assert "{" not in lex.PIECES["WILL_GIVE"] and lex.PIECES["WANT"] in lex.PIECES["WILL_GIVE"]
    assert lex.PIECES["WANT"] == lex.WANT  # the pieces are still lexicon.WANT, lexicon.SUI_BN ...
    assert lex.g(2) == r"(?:\S+ ){0,2}"
    assert lex.expand_concepts("@NOT") == "(?:" + lex.CONCEPTS["NOT"] + ")"
    with pytest.raises(AttributeError):
        _ = lex.NO_SUCH_PIECE


def test_the_lexicon_module_holds_no_pattern_source():
    source = (ROOT / "bempathy" / "safety" / "lexicon.py").read_text(encoding="utf-8")
    assert "_sig(" not in source and "_cx(" not in source and "_GUARD_SOURCES" not in source
    assert len(source.splitlines()) < 400


# -- broken copies: one line naming the file and the entry -------------------------------------------------


@pytest.fixture
def broken(tmp_path):
    """A copy of the shipped lexicon with one text replaced: (file, old, new) -> the copy's folder."""

    def make(file: str, old: str, new: str) -> Path:
        folder = tmp_path / "lexicon"
        shutil.copytree(LEXICON_DIR, folder)
        path = folder / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} is not in {file}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        return folder

    return make


WANT_DIE = "  - name: bn_want_die\n    category: suicidal_intent\n    key: base\n"
WANT_DIE_SOURCE = r"    source: '\b(?:মরতে|মরে যেতে|মারা যেতে) {WANT}\b'"


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        (
            "signals.yaml",
            WANT_DIE_SOURCE + "\n    guards: NEG FIG\n",
            WANT_DIE_SOURCE + "\n    guards: NEG FIGG\n",
            ["bn_want_die", "guards: unknown guard 'FIGG'"],
        ),
        ("signals.yaml", "(?:@DIE_EN)", "(?:@DIE_ENN)", ["cx_die_want", "source: unknown concept @DIE_ENN"]),
        ("signals.yaml", "    unless: '@LEAVING'", "    unless: '@LEAVE'", ["unless: unknown concept @LEAVE"]),
        (
            "concepts.yaml",
            "@ABUSER|@ME_OBJ",
            "@ABUSER|@ME_OBJECT",
            ["concept THREAT_CTX", "unknown concept @ME_OBJECT"],
        ),
        ("concepts.yaml", "NOT: 'না|na|nah|not'", "NOT: 'না|na|nah|not|@NOT'", ["concept NOT", "loop: @NOT -> @NOT"]),
        ("concepts.yaml", "ME_OBJ: ", "ME: 'x'\nME_OBJ: ", ["'ME' given twice"]),
        ("signals.yaml", "{WANT_NOT}", "{WANT_NOPE}", ["bn_not_live", "source: unknown piece {WANT_NOPE}"]),
        ("pieces.yaml", "ফেলতে {WANT})", "ফেলতে {WANTS})", ["piece WILL_GIVE", "unknown piece {WANTS}"]),
        ("signals.yaml", "    guards: LOL\n", "    guard: LOL\n", ["bn_wont_live", "unknown field 'guard'"]),
        (
            "signals.yaml",
            WANT_DIE,
            WANT_DIE.replace("suicidal_intent", "suicidal"),
            ["bn_want_die", "category: unknown category 'suicidal'"],
        ),
        (
            "signals.yaml",
            WANT_DIE,
            WANT_DIE.replace("key: base", "key: bse"),
            ["bn_want_die", "key: unknown key 'bse' (known: base, rom, phon)"],
        ),
        (
            "signals.yaml",
            WANT_DIE,
            WANT_DIE.replace("key: base", "key: phon"),
            ["bn_want_die", "'phon' is not a key here"],
        ),
        (
            "signals.yaml",
            "  - name: bn_wish_death\n",
            "  - name: bn_want_die\n",
            ["phrase_signals[7] bn_want_die", "'bn_want_die' is given twice (also phrase_signals[5] bn_want_die)"],
        ),
        (
            "signals.yaml",
            WANT_DIE_SOURCE,
            WANT_DIE_SOURCE.replace("যেতে)", "যেতে"),
            ["bn_want_die", "source: does not compile"],
        ),
        (
            "signals.yaml",
            WANT_DIE_SOURCE,
            WANT_DIE_SOURCE.replace(r"}\b", r"}@PILLS\b"),
            ["bn_want_die", "@PILLS: concepts are expanded only in concept_signals and in unless lists"],
        ),
        ("signals.yaml", "    window: 40\n", "    window: forty\n", ["window: expected a positive whole number"]),
        ("signals.yaml", "phrase_signals:\n", "phrase_signal:\n", ["unknown section 'phrase_signal'"]),
        ("guards.yaml", "  COURT:", "  COURTS:", ["word_lists", "unknown word list 'COURTS'"]),
        ("guards.yaml", "  NEG_AFTER: '", "  # NEG_AFTER: '", ["missing word list 'NEG_AFTER' (guard NEG reads it)"]),
        (
            "answers.yaml",
            "  - name: encourages_harm\n",
            "  - name: encourages_harm\n    why: x\n",
            ["answer_signals[0] encourages_harm", "unknown field 'why'"],
        ),
        ("answers.yaml", "advice:\n", "advise:\n", ["unknown section 'advise'"]),
        ("pieces.yaml", "husband|bf|\n", "husband|bf| \n", ["piece ABUSER", "starts or ends with a space"]),
        ("markers.yaml", "romanised: >-", "romanised: [>-", ["not valid YAML"]),
    ],
)
def test_a_broken_lexicon_is_a_one_line_error_naming_file_and_entry(broken, file, old, new, expected):
    folder = broken(file, old, new)
    with pytest.raises(LexiconError) as caught:
        load(folder)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(folder / file)), message
    for part in expected:
        assert part in message, message


def test_the_error_points_at_the_line_of_the_problem(broken):
    folder = broken("signals.yaml", "    guards: LOL\n", "    guards: LOL LOUD\n")
    with pytest.raises(LexiconError) as caught:
        load(str(folder))  # a folder given as text works too
    line = int(re.match(r".*signals\.yaml:(\d+): ", str(caught.value)).group(1))
    assert "LOUD" in (folder / "signals.yaml").read_text(encoding="utf-8").splitlines()[line - 1]


def test_a_missing_lexicon_file_is_an_error(tmp_path):
    folder = tmp_path / "lexicon"
    shutil.copytree(LEXICON_DIR, folder)
    (folder / "markers.yaml").unlink()
    with pytest.raises(LexiconError, match=r"markers\.yaml: cannot read"):
        load(folder)


# -- the help texts: only in configs/safety.yaml -------------------------------------------------------------


def _help_texts() -> list[str]:
    raw = yaml.safe_load(SAFETY_YAML.read_text(encoding="utf-8"))
    texts = [raw[k] for k in ("help_title", "help_english", "help_other", "concern_line")]
    texts += raw["help_lines"] + [n["label"] for n in raw["help_numbers"]]
    return texts + list(raw["fallbacks"].values()) + list(raw["advice_pointers"].values())


def test_help_texts_live_only_in_configs_safety_yaml():
    sources = {p: p.read_text(encoding="utf-8") for p in [*(ROOT / "bempathy").rglob("*.py"), ROOT / "app.py"]}
    assert not [p for p, text in sources.items() if "DEFAULT_HELP" in text or "DEFAULT_FALLBACKS" in text]
    for help_text in _help_texts():
        fragment = help_text.strip().splitlines()[0][:40]
        assert len(fragment) >= 20
        assert not [p for p, text in sources.items() if fragment in text], fragment


def test_safety_config_defaults_are_configs_safety_yaml(monkeypatch, tmp_path):
    assert SafetyConfig() == SafetyConfig.load(SAFETY_YAML)
    assert SafetyConfig().help_title == yaml.safe_load(SAFETY_YAML.read_text(encoding="utf-8"))["help_title"]
    copy = tmp_path / "safety.yaml"
    copy.write_text(SAFETY_YAML.read_text(encoding="utf-8").replace("help_title: ", "help_title: 'T' #"), "utf-8")
    monkeypatch.setattr(policy, "DEFAULT_CONFIG", copy)
    assert SafetyConfig().help_title == "T"
    assert SafetyConfig().fallbacks == SafetyConfig.load(SAFETY_YAML).fallbacks


@pytest.mark.parametrize(
    ("pattern", "new", "expected"),
    [
        (r"concern_line: >-", "not_concern_line: >-", "key 'not_concern_line': unknown key"),
        (r"\nmin_answer_letters: 30", "\n", "key 'min_answer_letters' is missing"),
        (r"  self_harm: >-\n(?:    .*\n)+", "", "key 'fallbacks.self_harm' is missing"),
        (r"  legal: >-\n(?:    .*\n)+", "", "key 'advice_pointers.legal' is missing"),
    ],
)
def test_a_defaults_file_lacking_a_key_is_a_one_line_error(monkeypatch, tmp_path, pattern, new, expected):
    text, n = re.subn(pattern, new, SAFETY_YAML.read_text(encoding="utf-8"), count=1)
    assert n == 1
    lacking = tmp_path / "safety.yaml"
    lacking.write_text(text, encoding="utf-8")
    monkeypatch.setattr(policy, "DEFAULT_CONFIG", lacking)
    with pytest.raises(SafetyConfigError) as caught:
        SafetyConfig()
    message = str(caught.value)
    assert "\n" not in message and str(lacking) in message and expected in message, message


def test_a_missing_defaults_file_is_a_one_line_error(monkeypatch, tmp_path):
    monkeypatch.setattr(policy, "DEFAULT_CONFIG", tmp_path / "absent.yaml")
    for make in (SafetyConfig, SafetyConfig.load):
        with pytest.raises(SafetyConfigError, match=r"absent\.yaml: cannot read") as caught:
            make()
        assert "\n" not in str(caught.value)
