"""Chat and Compare as library calls: input checks, the safety policy, generation and opt-in logging.

The app's tabs and API endpoints are thin wrappers around :class:`ConversationService`, so every path a message
can take (browser, ``gradio_client``, tests) goes through the same crisis screening and answer checks. Nothing
here imports Gradio.

Privacy: a conversation is written to ``GeneratedResponses`` only when the caller passes ``log=True`` (the user
opted in); otherwise only the safety policy's counters (numbers, no text) change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bempathy.model.chat import BASE, ChatModel, DecodingSettings
from bempathy.prompts import SYSTEM_PROMPT
from bempathy.safety.policy import Reply, SafetyPolicy, Screen
from bempathy.storage.store import Store

MAX_INPUT_CHARS = 2000
MAX_NEW_TOKENS_LIMIT = 1024
MAX_SYSTEM_PROMPT_CHARS = 4000
SCREENED_USER_TURNS = 20  # earlier user turns the safety screen reads (a crisis keeps its help visible)
HISTORY_MESSAGES = 6  # history kept: at most this many maximum-length messages' worth of characters
# Streamed text runs this far behind the model: an unsafe phrase is checked with some context after it before
# any of it is on screen (the final reply is checked whole).
HOLD_BACK_CHARS = 80
CHAT_KIND = "chat"
# The app samples (greedy decoding of a small model loops); evaluation stays greedy (DecodingSettings' default).
CHAT_TEMPERATURE, CHAT_TOP_P, CHAT_MAX_NEW_TOKENS = 0.7, 0.9, 256


class InputError(ValueError):
    """A message the service refuses before any model work (empty, too long, unknown variant)."""


def _held_back(partial: str) -> str:
    return partial[:-HOLD_BACK_CHARS] if len(partial) > HOLD_BACK_CHARS else ""


def sampling_settings(
    temperature: float = CHAT_TEMPERATURE, top_p: float = CHAT_TOP_P, max_new_tokens: int = CHAT_MAX_NEW_TOKENS
) -> DecodingSettings:
    """Decoding from the app's controls: temperature 0 means greedy; out-of-range values are refused."""
    if not 0 <= float(temperature) <= 2:
        raise InputError(f"temperature must be between 0 and 2, got {temperature}")
    if not 0 < float(top_p) <= 1:
        raise InputError(f"top_p must be in (0, 1], got {top_p}")
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS_LIMIT:
        raise InputError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}, got {max_new_tokens}")
    return DecodingSettings(
        max_new_tokens=int(max_new_tokens),
        do_sample=float(temperature) > 0,
        temperature=float(temperature) or 1.0,
        top_p=float(top_p),
    )


def flatten_content(content: Any) -> str:
    """Gradio 6 sends message content as a list of blocks; the chat template needs a plain string."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return str(content.get("text") or content.get("content") or "")
    if isinstance(content, Sequence):
        return "\n".join(part for part in (flatten_content(block) for block in content) if part)
    return str(content)


def flatten_history(history: Sequence[Any] | None) -> list[dict[str, str]]:
    """Chatbot history (messages format, content blocks or strings) as ``[{"role", "content"}]`` text turns."""
    turns = []
    for message in history or []:
        role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
        content = message.get("content") if isinstance(message, dict) else getattr(message, "content", None)
        if role in ("user", "assistant"):
            text = flatten_content(content).strip()
            if text:
                turns.append({"role": role, "content": text})
    return turns


@dataclass
class ColumnState:
    """One column of a comparison: the text shown so far and how fast it came."""

    variant: str
    text: str
    done: bool
    new_tokens: int
    first_token_s: float | None
    latency_s: float | None
    replaced: bool = False

    @property
    def tokens_per_s(self) -> float | None:
        return self.new_tokens / self.latency_s if self.latency_s and self.new_tokens else None

    def stats_line(self) -> str:
        if not self.done:
            return f"{self.variant}: generating… {self.new_tokens} tokens"
        rate = self.tokens_per_s
        parts = [
            f"{self.variant}",
            f"latency {self.latency_s:.2f} s" if self.latency_s is not None else "latency —",
            f"{self.new_tokens} tokens",
            f"{rate:.1f} tokens/s" if rate else "— tokens/s",
        ]
        if self.replaced:
            parts.append("safety fallback shown")
        return " · ".join(parts)


class ConversationService:
    """Answers chat turns and comparisons from one ChatModel, with the safety policy on every reply."""

    def __init__(
        self,
        chat: ChatModel,
        policy: SafetyPolicy,
        store: Store | None = None,
        *,
        experiment_ids: dict[str, str | None] | None = None,
        max_input_chars: int = MAX_INPUT_CHARS,
        system_prompt: str = SYSTEM_PROMPT,
    ) -> None:
        self.chat = chat
        self.system_prompt = system_prompt  # the served run's (ModelPlan.system_prompt); a caller may override it
        self.policy = policy
        self.store = store
        self.experiment_ids = experiment_ids or {}
        self.max_input_chars = max_input_chars

    # -- checks
    def check_message(self, message: str) -> str:
        text = (message or "").strip()
        if not text:
            raise InputError("বার্তাটি খালি। The message is empty: please type something.")
        if len(text) > self.max_input_chars:
            raise InputError(
                f"বার্তাটি খুব দীর্ঘ ({len(text)} অক্ষর; সর্বোচ্চ {self.max_input_chars})। "
                f"The message is too long: {len(text)} characters, the limit is {self.max_input_chars}."
            )
        return text

    def check_variant(self, variant: str | None, default: str) -> str:
        variant = variant or default
        if variant not in self.chat.variants:
            raise InputError(f"unknown variant {variant!r}; loaded: {', '.join(self.chat.variants)}")
        return variant

    def default_pair(self) -> tuple[str, str]:
        """Base vs tuned when an adapter is loaded (base on the left)."""
        adapters = [v for v in self.chat.variants if v != BASE]
        return (BASE, adapters[0]) if adapters else (BASE, BASE)

    # -- chat
    def chat_turn(
        self,
        message: str,
        history: Sequence[Any] | None = None,
        variant: str | None = None,
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        system_prompt: str | None = None,
        log: bool = False,
    ) -> Iterator[str]:
        """Yield the reply as it grows; the last value is the final, checked reply."""
        text = self.check_message(message)
        variant = self.check_variant(variant, self.chat.variants[0])
        turns = flatten_history(history)
        earlier = [t["content"] for t in turns if t["role"] == "user"][-SCREENED_USER_TURNS:]
        screen = self.policy.screen(text, earlier)  # a crisis told over several turns, or earlier, still counts
        conversation = self._conversation(system_prompt, turns, text)
        reply = yield from self._stream_reply(screen, conversation, variant, settings, seed)
        if log:
            self._log(text, reply, variant, settings, screen)

    def _conversation(self, system_prompt: str | None, history: list[dict[str, str]], text: str) -> list[dict]:
        """System prompt, as much recent history as fits ``max_history_chars``, then the new message.

        Only the new message is refused when too long; older turns are dropped (oldest first) so a long chat
        keeps working and no client can send megabytes of "history" into the one model queue.
        """
        system = (system_prompt or "").strip() or self.system_prompt
        if len(system) > MAX_SYSTEM_PROMPT_CHARS:
            limit = MAX_SYSTEM_PROMPT_CHARS
            raise InputError(f"the system prompt is too long: {len(system)} characters, the limit is {limit}")
        kept: list[dict[str, str]] = []
        budget = self.max_input_chars * HISTORY_MESSAGES
        for turn in reversed(history):
            budget -= len(turn["content"])
            if budget < 0:
                break
            kept.insert(0, turn)
        while kept and kept[0]["role"] != "user":  # a conversation restarts on a user turn
            kept.pop(0)
        return [{"role": "system", "content": system}, *kept, {"role": "user", "content": text}]

    def _stream_reply(self, screen: Screen, conversation, variant, settings, seed) -> Iterator[str]:
        demo = self.chat.demo
        if screen.assessment.crisis and demo:
            reply = self.policy.compose(screen, "", final=True, demo_model=True)
            yield reply.text
            return reply
        answer = ""
        for answer in self.chat.stream(conversation, variant, settings, seed):
            yield self.policy.compose(screen, _held_back(answer), final=False, demo_model=demo).text
        reply = self.policy.compose(screen, answer, final=True, demo_model=demo)
        yield reply.text
        return reply

    # -- compare
    def compare(
        self,
        prompt: str,
        left: str | None = None,
        right: str | None = None,
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        system_prompt: str | None = None,
        log: bool = False,
    ) -> Iterator[tuple[ColumnState, ColumnState]]:
        """Both columns from one ``generate`` call (a mixed-adapter batch), streamed together."""
        text = self.check_message(prompt)
        default_left, default_right = self.default_pair()
        variants = [self.check_variant(left, default_left), self.check_variant(right, default_right)]
        screen = self.policy.screen(text)
        conversation = self._conversation(system_prompt, [], text)
        if screen.assessment.crisis and self.chat.demo:
            # One reply per column, as on the model path, so the counters count replies shown.
            replies = [self.policy.compose(screen, "", final=True, demo_model=True) for _ in variants]
            yield tuple(
                ColumnState(v, r.text, True, 0, None, None, r.replaced) for v, r in zip(variants, replies, strict=True)
            )
            return
        began = time.perf_counter()
        snapshot = None
        for snapshot in self.chat.stream_many([conversation, conversation], variants, settings, seed):
            yield tuple(self._column(screen, variants[i], snapshot, i, final=False) for i in range(2))
        if snapshot is None:  # generation produced nothing at all
            raise RuntimeError(f"generation ended without output after {time.perf_counter() - began:.1f} s")
        columns = tuple(self._column(screen, variants[i], snapshot, i, final=True) for i in range(2))
        yield columns
        if log:
            for column in columns:
                self._log(text, Reply(column.text, column.replaced, None), column.variant, settings, screen)

    def _column(self, screen: Screen, variant: str, snapshot, row: int, final: bool) -> ColumnState:
        text = snapshot.texts[row] if final else _held_back(snapshot.texts[row])
        reply = self.policy.compose(screen, text, final=final, demo_model=self.chat.demo)
        stats = snapshot.stats[row]
        return ColumnState(
            variant=variant,
            text=reply.text,
            done=final or snapshot.done[row],
            new_tokens=stats.new_tokens,
            first_token_s=stats.first_token_s,
            latency_s=stats.latency_s,
            replaced=reply.replaced,
        )

    # -- opt-in logging
    def _log(self, text: str, reply: Reply, variant: str, settings: DecodingSettings | None, screen: Screen) -> None:
        if self.store is None:
            return
        self.store.responses.insert(
            {
                "kind": CHAT_KIND,
                "experiment_id": self.experiment_ids.get(variant),
                "evaluation_id": None,
                "variant": variant,
                "input_text": text,
                "response_text": reply.text,
                "decoding": (settings or DecodingSettings()).as_dict(),
                "safety": {
                    "crisis": screen.assessment.crisis,
                    "level": screen.assessment.level,
                    "category": screen.assessment.category,
                    "replaced": reply.replaced,
                },
            }
        )


__all__ = ["ColumnState", "ConversationService", "InputError", "flatten_history"]
