"""What a Chat or Compare request may carry, checked before any model work: text cleaned and within its limits,
decoding settings in range, a seed torch accepts, Gradio's message history flattened to text turns.

Why a module of its own: the app's edge, the service and the API tests refuse the same inputs with the same
one-line messages (Bengali first, then English), and none of it needs a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bempathy.model.chat import DecodingSettings
from bempathy.text import UnsafeTextError, hygienic_text

MAX_INPUT_CHARS = 2000
MAX_NEW_TOKENS_LIMIT = 1024
MAX_SYSTEM_PROMPT_CHARS = 4000
# The app samples (greedy decoding of a small model loops); evaluation stays greedy (DecodingSettings' default).
CHAT_TEMPERATURE, CHAT_TOP_P, CHAT_MAX_NEW_TOKENS = 0.7, 0.9, 256
# Accepted ranges, inclusive (the app's sliders use them too).
TEMPERATURE_RANGE = (0.0, 2.0)
TOP_P_RANGE = (0.01, 1.0)
MAX_NEW_TOKENS_RANGE = (1, MAX_NEW_TOKENS_LIMIT)
SEED_LIMIT = 2**32  # seeds are 0 <= seed < SEED_LIMIT (what every RNG we may hand them to accepts)


class InputError(ValueError):
    """A request the service refuses before any model work; the message is one line, Bengali first, then English."""


def refuse(bn: str, en: str) -> InputError:
    return InputError(f"{bn} / {en}")


def clean(text: str) -> str:
    """:func:`bempathy.text.hygienic_text`, its refusal as an :class:`InputError`: text reaching the model or the
    logs is the same text, whichever path it came by."""
    try:
        return hygienic_text(text)
    except UnsafeTextError as error:
        raise InputError(str(error)) from None


def cleaned_within(text: str, limit: int, too_long: Callable[[int], InputError]) -> str:
    """``text`` stripped and cleaned, refused over ``limit`` characters: checked before cleaning (a huge text costs
    no work) and after (NFC can lengthen a text)."""
    raw = text.strip()
    if len(raw) > limit:
        raise too_long(len(raw))
    cleaned = clean(raw).strip()
    if len(cleaned) > limit:
        raise too_long(len(cleaned))
    return cleaned


def system_too_long(n: int) -> InputError:
    limit = MAX_SYSTEM_PROMPT_CHARS
    return refuse(
        f"সিস্টেম প্রম্পট খুব দীর্ঘ ({n} অক্ষর; সর্বোচ্চ {limit})।",
        f"the system prompt is too long: {n} characters, the limit is {limit}.",
    )


def _check_range(value: float, name: str, bounds: tuple[float, float]) -> None:
    """Refuse ``value`` outside ``bounds`` (NaN included); its type is the caller's (the app's edge checks it)."""
    lo, hi = bounds
    if not lo <= value <= hi:
        raise refuse(
            f"{name} {lo} থেকে {hi}-এর মধ্যে হতে হবে, পাওয়া গেছে {value!r}।",
            f"{name} must be between {lo} and {hi}, got {value!r}.",
        )


def check_seed(seed: int | None) -> int | None:
    """None (random) or 0 <= seed < SEED_LIMIT: torch would overflow on a huge one, inside the model thread."""
    if seed is not None:
        _check_range(seed, "seed", (0, SEED_LIMIT - 1))
    return seed


def sampling_settings(
    temperature: float = CHAT_TEMPERATURE, top_p: float = CHAT_TOP_P, max_new_tokens: int = CHAT_MAX_NEW_TOKENS
) -> DecodingSettings:
    """Decoding from the app's controls: temperature 0 means greedy; out-of-range values are refused."""
    _check_range(temperature, "temperature", TEMPERATURE_RANGE)
    _check_range(top_p, "top_p", TOP_P_RANGE)
    _check_range(max_new_tokens, "max_new_tokens", MAX_NEW_TOKENS_RANGE)
    return DecodingSettings(
        max_new_tokens=int(max_new_tokens),
        do_sample=float(temperature) > 0,
        temperature=float(temperature) or 1.0,
        top_p=float(top_p),
    )


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if isinstance(block, dict):
        text = block.get("text", block.get("content"))
        return text if isinstance(text, str) else ""
    return ""


def flatten_content(content: Any) -> str:
    """Gradio 6 sends message content as a list of blocks; the chat template needs a plain string.

    One level of blocks only (strings or ``{"text": ...}``; files and other blocks count as no text): nothing a
    client sends is walked recursively.
    """
    if isinstance(content, list | tuple):
        return "\n".join(text for text in map(_block_text, content) if text)
    return _block_text(content)


def role_and_text(message: Any) -> tuple[Any, str]:
    if isinstance(message, dict):
        return message.get("role"), flatten_content(message.get("content"))
    return getattr(message, "role", None), flatten_content(getattr(message, "content", None))


def flatten_history(history: Sequence[Any] | None) -> list[dict[str, str]]:
    """Chatbot history (messages format, content blocks or strings) as ``[{"role", "content"}]`` text turns."""
    turns = []
    for message in history or []:
        role, raw = role_and_text(message)
        text = clean(raw).strip() if role in ("user", "assistant") else ""
        if text:
            turns.append({"role": role, "content": text})
    return turns


__all__ = [
    "CHAT_MAX_NEW_TOKENS",
    "CHAT_TEMPERATURE",
    "CHAT_TOP_P",
    "MAX_INPUT_CHARS",
    "MAX_NEW_TOKENS_LIMIT",
    "MAX_SYSTEM_PROMPT_CHARS",
    "InputError",
    "check_seed",
    "clean",
    "cleaned_within",
    "flatten_content",
    "flatten_history",
    "refuse",
    "role_and_text",
    "sampling_settings",
    "system_too_long",
]
