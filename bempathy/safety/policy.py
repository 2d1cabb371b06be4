"""The response policy: the help block first for a crisis, a caring answer, unsafe model output never shown;
help texts and thresholds from ``configs/safety.yaml``."""

from __future__ import annotations

import copy
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cache, partial
from itertools import groupby
from pathlib import Path
from typing import Any

import yaml

from bempathy.safety import learned
from bempathy.safety.detect import CATEGORIES, DEFAULT_CONFIG, Assessment, _advice, assess_turns, check_answer
from bempathy.safety.levels import LEVELS
from bempathy.text import bengali_share, words

# -- configuration -------------------------------------------------------------------------------------------


class SafetyConfigError(ValueError):
    """A safety config that cannot be used; the message names the file and the key."""


_FALLBACK_KEYS = (*CATEGORIES, "someone_else", "default")
_TEXT_KEYS = ("help_title", "help_english", "help_other", "concern_line")
_SUB_KEYS = {"fallbacks": _FALLBACK_KEYS, "advice_pointers": ("medical", "legal")}


def _default(key: str) -> Any:
    """A field's default: its value in configs/safety.yaml (the only home of the help texts), a fresh copy."""
    return copy.deepcopy(_defaults_from(DEFAULT_CONFIG)[key])


@dataclass
class SafetyConfig:
    """Help block text and numbers, fallbacks per category, advice pointers, answer usability thresholds.

    Every default comes from ``configs/safety.yaml``, read once; without that file, or with a key missing from
    it, making a config is a one-line :class:`SafetyConfigError`.
    """

    help_title: str = field(default_factory=partial(_default, "help_title"))
    help_numbers: list[dict[str, str]] = field(default_factory=partial(_default, "help_numbers"))
    help_lines: list[str] = field(default_factory=partial(_default, "help_lines"))
    help_english: str = field(default_factory=partial(_default, "help_english"))
    help_other: str = field(default_factory=partial(_default, "help_other"))  # when someone else is at risk
    concern_line: str = field(default_factory=partial(_default, "concern_line"))  # after a "concern" answer
    fallbacks: dict[str, str] = field(default_factory=partial(_default, "fallbacks"))
    advice_pointers: dict[str, str] = field(default_factory=partial(_default, "advice_pointers"))
    min_answer_letters: int = field(default_factory=partial(_default, "min_answer_letters"))
    min_bengali_share: float = field(default_factory=partial(_default, "min_bengali_share"))

    @classmethod
    def load(cls, path: str | Path | None = None) -> SafetyConfig:
        """Read a YAML config over the defaults (None: configs/safety.yaml itself); a mapping may override one text."""
        path = Path(path) if path is not None else DEFAULT_CONFIG
        defaults = _defaults_from(DEFAULT_CONFIG)
        if path == DEFAULT_CONFIG:
            return cls()
        return cls(**{k: _checked(path, k, v, defaults) for k, v in _read(path).items()})


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SafetyConfigError(f"{path}: cannot read: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise SafetyConfigError(f"{path}: not valid YAML: {' '.join(str(error).split())}") from error
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SafetyConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return raw


@cache
def _defaults_from(path: Path) -> dict[str, Any]:
    """The defaults file, read and checked once: every key required, with every fallback and advice pointer."""
    raw = _read(path)
    values = {k: _checked(path, k, v, {}) for k, v in raw.items()}
    for f in fields(SafetyConfig):
        if f.name not in values:
            raise SafetyConfigError(f"{path}: key {f.name!r} is missing (this file holds every default)")
    for key, subs in _SUB_KEYS.items():
        for sub in subs:
            if sub not in values[key]:
                raise SafetyConfigError(f"{path}: key '{key}.{sub}' is missing (this file holds every default)")
    return values


def _checked(path: Path, key: Any, value: Any, defaults: dict[str, Any]) -> Any:
    """Validate one top-level key; mappings are merged over ``defaults`` so a config may override one text."""
    where = f"{path}: key {key!r}"
    names = {f.name for f in fields(SafetyConfig)}
    if key not in names:
        raise SafetyConfigError(f"{where}: unknown key (known: {', '.join(sorted(names))})")
    if key in _TEXT_KEYS:
        if not isinstance(value, str) or not value.strip():
            raise SafetyConfigError(f"{where}: expected non-empty text, got {type(value).__name__}")
        return value.strip()
    if key == "help_lines":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SafetyConfigError(f"{where}: expected a list of text lines")
        return [v.strip() for v in value if v.strip()]
    if key == "help_numbers":
        ok = (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and set(v) == {"label", "number"} for v in value)
        )
        if not ok or not all(isinstance(v["label"], str) and isinstance(v["number"], str | int) for v in value):
            raise SafetyConfigError(f"{where}: expected a non-empty list of {{label: text, number: text}}")
        return [{"label": v["label"].strip(), "number": str(v["number"]).strip()} for v in value]
    if key in _SUB_KEYS:
        allowed = _SUB_KEYS[key]
        if not isinstance(value, dict):
            raise SafetyConfigError(f"{where}: expected a mapping of {', '.join(allowed)}")
        for sub, text in value.items():
            if sub not in allowed:
                raise SafetyConfigError(f"{where}.{sub}: unknown key (known: {', '.join(allowed)})")
            if not isinstance(text, str) or not text.strip():
                raise SafetyConfigError(f"{where}.{sub}: expected non-empty text, got {type(text).__name__}")
        return {**defaults.get(key, {}), **{k: v.strip() for k, v in value.items()}}
    if key == "min_answer_letters":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise SafetyConfigError(f"{where}: expected a non-negative integer, got {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise SafetyConfigError(f"{where}: expected a number between 0 and 1, got {value!r}")
    return float(value)


# -- policy --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screen:
    user_text: str
    assessment: Assessment
    advice: str | None


@dataclass(frozen=True)
class Reply:
    text: str
    replaced: bool
    reason: str | None


def unusable(answer: str, config: SafetyConfig) -> str | None:
    """Why a finished answer cannot stand as the caring reply to a crisis (empty, short, not Bengali, looping)."""
    if not answer.strip():
        return "empty"
    letters = sum(1 for ch in answer if unicodedata.category(ch)[0] in "LM")
    if letters < config.min_answer_letters:
        return "too_short"
    if bengali_share(answer) < config.min_bengali_share:
        return "not_bengali"
    tokens = [w.casefold() for w in words(answer)]
    if len(tokens) >= 6:
        top = Counter(tokens).most_common(1)[0][1]
        longest_run = max(len(list(group)) for _, group in groupby(tokens))
        if top / len(tokens) > 0.4 or longest_run >= 4 or len(set(tokens)) / len(tokens) < 0.3:
            return "repetitive"
    return None


class SafetyPolicy:
    """Screens user messages and composes what is shown; keeps message counts (never text), thread-safe."""

    COUNT_KEYS = (
        "messages",
        *LEVELS,
        *(f"crisis_{c}" for c in CATEGORIES),
        "crisis_someone_else",
        "raised_by_classifier",
        "answers_replaced",
        "unsafe_answers",
        "unusable_answers",
        "advice_pointers",
        "generation_failed",
    )

    def __init__(self, config: SafetyConfig | None = None) -> None:
        self.config = config if config is not None else SafetyConfig.load()
        learned.shared()  # the classifier is loaded (or built) now, so no user waits for it and a fault shows at start
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(self.COUNT_KEYS, 0)
        c = self.config
        lines = [f"**{c.help_title}**"]
        lines += [f"- {n['label']}: **{n['number']}**" for n in c.help_numbers]
        lines += [f"- {line}" for line in c.help_lines]
        self._help = "\n".join(lines) + "\n\n" + c.help_english

    def help_block(self) -> str:
        return self._help

    def screen(self, user_text: str, earlier_user_turns: Sequence[str] = ()) -> Screen:
        """Screen the message with the user's earlier turns of the conversation (oldest first)."""
        assessment = assess_turns(user_text, earlier_user_turns)
        return Screen(user_text, assessment, _advice(user_text, assessment))

    def compose(
        self, screen: Screen, answer: str, *, final: bool, demo_model: bool = False, failed: bool = False
    ) -> Reply:
        """The text to show for this (partial or final) answer; unsafe text is never returned.

        ``failed``: the backend produced no answer (a server's failed request): a crisis still gets the help block
        and the caring fallback, counted as a failed generation, not as an unusable answer."""
        answer = answer or ""
        assessment = screen.assessment
        crisis, concern = assessment.level == "crisis", assessment.level == "concern"
        unsafe = check_answer(answer) if answer.strip() else None
        reason = unsafe
        if reason is None and crisis and failed:
            reason = "generation_failed"
        if reason is None and crisis and demo_model:
            reason = "demo_model"
        if reason is None and crisis and final:
            reason = unusable(answer, self.config)
        replaced = reason is not None
        fallbacks = self.config.fallbacks
        fallback_key = "someone_else" if assessment.about_other else assessment.category or "default"
        body = fallbacks.get(fallback_key, fallbacks["default"]) if replaced else answer
        parts = [self.config.help_other if assessment.about_other else self._help, body.strip()] if crisis else [body]
        if concern:
            parts.append(self.config.concern_line)
        if screen.advice:
            parts.append(self.config.advice_pointers[screen.advice])
        text = "\n\n".join(p for p in parts if p) if crisis or concern or replaced or screen.advice else answer
        if final:
            with self._lock:
                n = self._counts
                n["messages"] += 1
                n[assessment.level] += 1
                if crisis:
                    n["crisis_someone_else" if assessment.about_other else f"crisis_{assessment.category}"] += 1
                n["raised_by_classifier"] += assessment.raised_by == "classifier"
                n["answers_replaced"] += replaced and not failed
                n["generation_failed"] += failed
                n["unsafe_answers"] += unsafe is not None
                n["unusable_answers"] += (
                    replaced and unsafe is None and reason not in ("demo_model", "generation_failed")
                )
                n["advice_pointers"] += screen.advice is not None
        return Reply(text, replaced, reason)

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
