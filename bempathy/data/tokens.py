"""Token counts of chat examples under the run's tokenizer, without rendering each one through Jinja.

Preparation measures every example (its length decides the training length and the cap). Rendering 38k
examples with ``apply_chat_template`` and tokenising the whole text re-tokenised the same system prompt in
each one. With our template, an example is ``bos``, then one ``<|start_header_id|>``-led piece per turn; a
tokenizer splits its text at special tokens before pre-tokenising, so the pieces never merge and the count of
the whole is the sum of the pieces' counts: the system turn is counted once per distinct prompt, each other
turn once. The same pieces give the report's figures for free: the system turn's tokens and the answer tokens
(what ``{% generation %}`` marks for the loss). ``tests/test_data.py`` checks every count against a full
render + tokenise (and the answer count against the template's assistant mask) on the tiny and the real
Llama 3 tokenizer; at run time the first example of each call is checked the same way, and any other template
or tokenizer falls back to the full render.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from bempathy.prompts import BOS_TOKEN, END_HEADER, EOT_TOKEN, LLAMA31_CHAT_TEMPLATE, START_HEADER

BATCH = 4096  # strings per tokenizer call: keeps the encodings' memory bounded on the real corpus


@dataclass(frozen=True)
class Counts:
    """Tokens of one rendered example: all of them, its system turn's, and its trained (answer) tokens."""

    total: int
    system: int | None = None  # the system turn (header, prompt, <|eot_id|>); bos not included
    answer: int | None = None  # each answer plus its <|eot_id|>: what the loss is on


def turn_text(message: dict[str, str]) -> str:
    """One turn exactly as LLAMA31_CHAT_TEMPLATE renders it (Jinja's ``trim`` is ``str.strip``)."""
    return f"{START_HEADER}{message['role']}{END_HEADER}\n\n{message['content'].strip()}{EOT_TOKEN}"


def render(messages: Sequence[dict[str, str]]) -> str:
    """The whole conversation as LLAMA31_CHAT_TEMPLATE renders it (no generation prompt)."""
    return BOS_TOKEN + "".join(turn_text(m) for m in messages)


class TokenCounter:
    """Counts tokens of conversations the way ``apply_chat_template`` + tokenising would, only faster."""

    def __init__(self, tokenizer: Any):
        self.tokenizer = tokenizer
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._encode_batch = getattr(backend, "encode_batch_fast", None) or getattr(backend, "encode_batch", None)
        self.fast = (
            self._encode_batch is not None
            and getattr(tokenizer, "chat_template", None) == LLAMA31_CHAT_TEMPLATE
            and getattr(tokenizer, "bos_token", None) == BOS_TOKEN
        )
        self._system: dict[str, int] = {}  # system turn text -> its tokens, counted once
        if self.fast:
            self._bos = self._lengths([BOS_TOKEN])[0]
            self._answer_header = self._lengths([f"{START_HEADER}assistant{END_HEADER}\n\n"])[0]

    def _lengths(self, texts: Sequence[str]) -> list[int]:
        lengths: list[int] = []
        for start in range(0, len(texts), BATCH):
            chunk = list(texts[start : start + BATCH])
            lengths.extend(len(encoding) for encoding in self._encode_batch(chunk, add_special_tokens=False))
        return lengths

    def full_count(self, conversations: Sequence[Sequence[dict[str, str]]]) -> list[int]:
        """The reference: render with the tokenizer's chat template, tokenise the text, count."""
        counts: list[int] = []
        for start in range(0, len(conversations), BATCH):
            chunk = [list(c) for c in conversations[start : start + BATCH]]
            texts = self.tokenizer.apply_chat_template(chunk, tokenize=False)
            counts.extend(len(ids) for ids in self.tokenizer(texts, add_special_tokens=False)["input_ids"])
        return counts

    def system_turn_tokens(self, prompt: str) -> int | None:
        """Tokens a system turn with this prompt adds to an example (None when only the full render works)."""
        if not self.fast:
            return None
        text = turn_text({"role": "system", "content": prompt})
        if text not in self._system:
            self._system[text] = self._lengths([text])[0]
        return self._system[text]

    def count(self, conversations: Sequence[Sequence[dict[str, str]]]) -> list[Counts]:
        """Counts of each conversation; the first is checked against the full render before trusting the rest."""
        if self.fast and conversations and not self._agrees(conversations[0]):
            self.fast = False
        if not self.fast:
            return [Counts(n) for n in self.full_count(conversations)]
        parts = [_split(messages) for messages in conversations]
        lengths = iter(self._lengths([turn_text(m) for _, body in parts for m in body]))  # one batch of turns
        return [self._counts(system, body, lengths) for system, body in parts]

    def _counts(self, system: str | None, body: Sequence[dict[str, str]], lengths: Iterator[int]) -> Counts:
        system_tokens = 0 if system is None else self.system_turn_tokens(system)
        total, answer = self._bos + system_tokens, 0
        for message in body:
            n = next(lengths)
            total += n
            if message["role"] == "assistant":
                answer += n - self._answer_header
        return Counts(total, system_tokens, answer)

    def _agrees(self, messages: Sequence[dict[str, str]]) -> bool:
        """Our rendering is the template's and the piecewise count is the whole count, on this example."""
        if render(messages) != self.tokenizer.apply_chat_template([list(messages)], tokenize=False)[0]:
            return False
        system, body = _split(messages)
        fast = self._counts(system, body, iter(self._lengths([turn_text(m) for m in body]))).total
        return fast == self.full_count([messages])[0]


def _split(messages: Sequence[dict[str, str]]) -> tuple[str | None, Sequence[dict[str, str]]]:
    """(the leading system prompt or None, the other turns)."""
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return None, messages
