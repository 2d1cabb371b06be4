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
from bempathy.serve.errors import GenerationFailed
from bempathy.serve.requests import (
    MAX_INPUT_CHARS,
    MAX_SYSTEM_PROMPT_CHARS,
    InputError,
    check_seed,
    clean,
    cleaned_within,
    refuse,
    role_and_text,
    system_too_long,
)
from bempathy.storage.store import Store

MAX_COMPARE_VARIANTS = 4  # columns of one comparison: base, SFT, preference and one more
SCREENED_USER_TURNS = 20  # earlier user turns the safety screen reads (a crisis keeps its help visible)
# Bounded work per request: one client must not hold the one model queue with a huge "history". The newest turns
# are kept while they fit every budget below; older ones are dropped, and nothing past the first refusal is read.
HISTORY_ENTRIES_LIMIT = 200  # history entries looked at at all: a longer list is cut to its newest ones first
HISTORY_TURNS_LIMIT = 40  # user or assistant messages sent to the model (20 exchanges)
HISTORY_MESSAGES = 6  # characters: at most this many maximum-length messages' worth
HISTORY_TOKENS_LIMIT = 3072  # tokens, counted with the model's tokenizer (characters when it has none)
TURN_TEMPLATE_TOKENS = 5  # what the chat template adds around each turn (Llama 3.1: role header and <|eot_id|>)
# Streamed text runs this far behind the model: an unsafe phrase is checked with some context after it before
# any of it is on screen (the final reply is checked whole).
HOLD_BACK_CHARS = 80
CHAT_KIND = "chat"


def failure_note(error: str) -> str:
    """What a reply says when the backend produced no answer (Bengali first, then English)."""
    return f"⚠️ উত্তর তৈরি করা যায়নি, পরে আবার চেষ্টা করুন। / No answer could be generated: {error}"


def _held_back(partial: str) -> str:
    return partial[:-HOLD_BACK_CHARS] if len(partial) > HOLD_BACK_CHARS else ""


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
    error: str | None = None  # the backend's failure for this column (no answer)

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
        if self.error:
            parts.append("failed")
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
    def _too_long(self, n: int) -> InputError:
        limit = self.max_input_chars
        return refuse(
            f"বার্তাটি খুব দীর্ঘ ({n} অক্ষর; সর্বোচ্চ {limit})।",
            f"The message is too long: {n} characters, the limit is {limit}.",
        )

    def check_message(self, message: str) -> str:
        """The message as the model and the logs get it (:func:`hygienic_text`, stripped), or InputError."""
        text = cleaned_within(message or "", self.max_input_chars, self._too_long)
        if not text:
            raise refuse("বার্তাটি খালি।", "The message is empty: please type something.")
        return text

    def check_variant(self, variant: str | None, default: str) -> str:
        variant = variant or default
        if variant not in self.chat.variants:
            loaded = ", ".join(self.chat.variants)
            raise refuse(
                f"অজানা মডেল {variant!r}; লোড করা আছে: {loaded}।", f"unknown variant {variant!r}; loaded: {loaded}."
            )
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
        check_seed(seed)
        turns, earlier = self.recent_history(history)
        screen = self.policy.screen(text, earlier)  # a crisis told over several turns, or earlier, still counts
        conversation = self._conversation(system_prompt, turns, text)
        reply = yield from self._stream_reply(screen, conversation, variant, settings, seed)
        if log and reply is not None:
            self._log(text, reply, variant, settings, screen)

    def _count_tokens(self, text: str) -> int:
        """Tokens a turn costs in the prompt: the model's tokenizer when there is one, else one per character."""
        tokenizer = getattr(self.chat, "tokenizer", None)
        if tokenizer is None:
            return len(text) + TURN_TEMPLATE_TOKENS
        return len(tokenizer.encode(text, add_special_tokens=False)) + TURN_TEMPLATE_TOKENS

    def recent_history(self, history: Sequence[Any] | None) -> tuple[list[dict[str, str]], list[str]]:
        """(turns for the model, earlier user messages for the safety screen), both oldest first.

        Turns: the newest that fit :data:`HISTORY_TURNS_LIMIT` turns, ``max_input_chars * HISTORY_MESSAGES``
        characters and :data:`HISTORY_TOKENS_LIMIT` tokens, starting on a user turn; older ones are dropped so a
        long chat keeps working. Screen: the last :data:`SCREENED_USER_TURNS` user messages, each read up to
        ``max_input_chars`` (what the app accepts). The walk starts at the newest entry and stops once both are
        full, after at most :data:`HISTORY_ENTRIES_LIMIT` entries: the work is bounded however long the history.
        """
        entries = list((history or [])[-HISTORY_ENTRIES_LIMIT:])
        kept: list[dict[str, str]] = []
        earlier: list[str] = []
        chars, tokens = self.max_input_chars * HISTORY_MESSAGES, HISTORY_TOKENS_LIMIT
        filling = True
        for message in reversed(entries):
            screening = len(earlier) < SCREENED_USER_TURNS
            if not (filling or screening):
                break
            role, raw = role_and_text(message)
            if role not in ("user", "assistant"):
                continue
            if filling and (len(kept) >= HISTORY_TURNS_LIMIT or len(raw) > chars):
                filling = False  # checked before cleaning: no work on a turn that cannot be kept
            if not (filling or role == "user"):
                continue
            text = clean(raw if filling else raw[: self.max_input_chars]).strip()
            if not text:
                continue
            if role == "user" and screening:
                earlier.append(text[: self.max_input_chars])
            if filling:
                cost = self._count_tokens(text)
                if len(text) > chars or cost > tokens:
                    filling = False
                    continue
                kept.append({"role": role, "content": text})
                chars, tokens = chars - len(text), tokens - cost
        kept.reverse()
        while kept and kept[0]["role"] != "user":  # a conversation restarts on a user turn
            kept.pop(0)
        return kept, earlier[::-1]

    def _conversation(self, system_prompt: str | None, turns: list[dict[str, str]], text: str) -> list[dict]:
        """System prompt, the kept history turns (:meth:`recent_history`), then the new message."""
        system = cleaned_within(system_prompt or "", MAX_SYSTEM_PROMPT_CHARS, system_too_long) or self.system_prompt
        return [{"role": "system", "content": system}, *turns, {"role": "user", "content": text}]

    def _stream_reply(self, screen: Screen, conversation, variant, settings, seed) -> Iterator[str]:
        demo = self.chat.demo
        if screen.assessment.crisis and demo:
            reply = self.policy.compose(screen, "", final=True, demo_model=True)
            yield reply.text
            return reply
        answer = ""
        try:
            for answer in self.chat.stream(conversation, variant, settings, seed):
                yield self.policy.compose(screen, _held_back(answer), final=False, demo_model=demo).text
        except GenerationFailed as error:  # a crisis message still gets its help block, then the failure
            reply = self.policy.compose(screen, "", final=True, demo_model=demo, failed=True)
            yield "\n\n".join(part for part in (reply.text, failure_note(str(error))) if part)
            return None
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
    ) -> Iterator[tuple[ColumnState, ...]]:
        """Both columns from one ``generate`` call (a mixed-adapter batch), streamed together."""
        default_left, default_right = self.default_pair()
        return self.compare_variants(
            prompt, [left or default_left, right or default_right], settings, seed, system_prompt, log
        )

    def compare_variants(
        self,
        prompt: str,
        variants: Sequence[str] | None = None,
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        system_prompt: str | None = None,
        log: bool = False,
    ) -> Iterator[tuple[ColumnState, ...]]:
        """One column per variant (default: every loaded one, base first), all rows of one ``generate`` call."""
        text = self.check_message(prompt)
        variants = [self.check_variant(v, BASE) for v in (variants or self.compare_order())]
        if len(variants) > MAX_COMPARE_VARIANTS:
            raise refuse(
                f"একসঙ্গে সর্বোচ্চ {MAX_COMPARE_VARIANTS}টি মডেল তুলনা করা যায়।",
                f"At most {MAX_COMPARE_VARIANTS} variants can be compared at once, got {len(variants)}.",
            )
        check_seed(seed)
        return self._compare(text, variants, settings, seed, system_prompt, log)

    def compare_order(self) -> list[str]:
        """Every loaded variant, base first, then as loaded reversed (base, sft, tuned): the order of training."""
        return [BASE, *reversed([v for v in self.chat.variants if v != BASE])]

    def _compare(self, text, variants, settings, seed, system_prompt, log) -> Iterator[tuple[ColumnState, ...]]:
        screen = self.policy.screen(text)
        conversation = self._conversation(system_prompt, [], text)
        rows = range(len(variants))
        if screen.assessment.crisis and self.chat.demo:
            # One reply per column, as on the model path, so the counters count replies shown.
            replies = [self.policy.compose(screen, "", final=True, demo_model=True) for _ in variants]
            yield tuple(
                ColumnState(v, r.text, True, 0, None, None, r.replaced) for v, r in zip(variants, replies, strict=True)
            )
            return
        began = time.perf_counter()
        snapshot = None
        for snapshot in self.chat.stream_many([conversation] * len(variants), variants, settings, seed):
            yield tuple(self._column(screen, variants[i], snapshot, i, final=False) for i in rows)
        if snapshot is None:  # generation produced nothing at all
            raise RuntimeError(f"generation ended without output after {time.perf_counter() - began:.1f} s")
        columns = tuple(self._column(screen, variants[i], snapshot, i, final=True) for i in rows)
        yield columns
        if log:
            for column in (c for c in columns if c.error is None):  # a failed column has no answer to keep
                self._log(text, Reply(column.text, column.replaced, None), column.variant, settings, screen)

    def _column(self, screen: Screen, variant: str, snapshot, row: int, final: bool) -> ColumnState:
        error = snapshot.errors[row] if snapshot.errors else None
        text = snapshot.texts[row] if final or error else _held_back(snapshot.texts[row])
        # A failed row has no answer: the help block of a crisis still shows; counted once, with the final columns.
        reply = self.policy.compose(
            screen, "" if error else text, final=final, demo_model=self.chat.demo, failed=bool(error)
        )
        stats = snapshot.stats[row]
        shown = "\n\n".join(part for part in (reply.text, failure_note(error)) if part) if error else reply.text
        return ColumnState(
            variant=variant,
            text=shown,
            done=final or snapshot.done[row],
            new_tokens=stats.new_tokens,
            first_token_s=stats.first_token_s,
            latency_s=stats.latency_s,
            replaced=reply.replaced,
            error=error,
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


__all__ = ["ColumnState", "ConversationService", "failure_note"]
