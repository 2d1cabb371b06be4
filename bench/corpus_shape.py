"""Benchmark data shaped like the real corpus, built offline.

Reported for the Bengali Empathetic Conversations Corpus (tokens per example under the Llama 3 tokenizer):
median ~144, p95 ~840, p99 ~1,900, max ~4,500. It is not said whether that counts a system prompt; we read it as
the conversation alone (question + answer) and put our system prompt on top, as training does. A log-normal
with median 144 and p95 840 (sigma = ln(840/144) / 1.645 = 1.07) has p99 ~1,750; the longest example is set to
4,500 tokens, so the benchmark always runs at the corpus's full length. The answer gets 60% of each
conversation's tokens (answers are 52-74% of the characters in ``data/sample``).

Token ids of the question and answer bodies are drawn at random from the tokenizer's ordinary vocabulary (the
work per token does not depend on which token it is); the system prompt and the chat template's headers are
the real tokens of our template under the tokenizer given, so the fixed prompt costs what it costs.
"""

from __future__ import annotations

import math
import random
from typing import Any

MEDIAN_TOKENS = 144
P95_TOKENS = 840
LONGEST_TOKENS = 4500
SIGMA = math.log(P95_TOKENS / MEDIAN_TOKENS) / 1.645
ANSWER_SHARE = 0.6
SHORTEST_TOKENS = 16
# The project's previous default system prompt (574 Llama 3 tokens against today's 112): the benchmarks report
# the epoch time with the old and the new prompt.
OLD_SYSTEM_PROMPT = (
    "আপনি একজন সহানুভূতিশীল বাংলাভাষী সহায়ক। মানুষ আপনাকে তাঁদের কষ্ট, দুশ্চিন্তা আর অনুভূতির কথা বলেন। "
    "মন দিয়ে শুনুন, তাঁদের অনুভূতিকে স্বীকৃতি দিন, নরম ও সম্মানজনক সহজ বাংলায় উত্তর দিন এবং "
    "ছোট ছোট বাস্তবসম্মত পরামর্শ দিন। আপনি চিকিৎসক বা আইনজীবী নন: চিকিৎসা বা আইনি পরামর্শ দেবেন না, "
    "প্রয়োজনে যোগ্য পেশাদারের সাহায্য নিতে বলুন। কেউ নিজের ক্ষতি করার কথা বললে বা বিপদে থাকলে "
    "তাঁকে এখনই কাছের কারও সঙ্গে যোগাযোগ করতে এবং জরুরি প্রয়োজনে ৯৯৯ নম্বরে ফোন করতে বলুন।"
)


def conversation_lengths(n: int, seed: int = 0) -> list[int]:
    """``n`` conversation lengths in tokens (without system prompt); the first is the corpus's longest."""
    rng = random.Random(seed)
    lengths = [LONGEST_TOKENS]
    while len(lengths) < n:
        value = round(MEDIAN_TOKENS * math.exp(rng.gauss(0.0, SIGMA)))
        lengths.append(min(LONGEST_TOKENS, max(SHORTEST_TOKENS, value)))
    rng.shuffle(lengths)
    return lengths[:n]


def _template_pieces(tokenizer: Any, system_prompt: str | None) -> tuple[list[int], list[int], list[int], list[int]]:
    """Token ids of: the start (bos + system turn, or bos alone), the user header, the end of the user turn
    plus the assistant header, and the end of the answer (``<|eot_id|>``), from our chat template."""
    from bempathy.prompts import EOT_TOKEN, LLAMA31_CHAT_TEMPLATE

    marker_user, marker_answer = "\u0995\u0996", "\u0997\u0998"  # two Bengali letters, split out below
    messages = [{"role": "user", "content": marker_user}, {"role": "assistant", "content": marker_answer}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    text = tokenizer.apply_chat_template(messages, tokenize=False, chat_template=LLAMA31_CHAT_TEMPLATE)
    before_user, rest = text.split(marker_user)
    between, after = rest.split(marker_answer)
    assert after == EOT_TOKEN, after

    def encode(piece: str) -> list[int]:
        return tokenizer(piece, add_special_tokens=False)["input_ids"]

    user_header = "<|start_header_id|>user<|end_header_id|>\n\n"
    start, header = before_user[: -len(user_header)], user_header
    return encode(start), encode(header), encode(between), encode(after)


def system_prompt_tokens(tokenizer: Any, system_prompt: str) -> int:
    """Tokens the system turn adds to every example (its header, text and end token) under this tokenizer."""
    with_prompt = _template_pieces(tokenizer, system_prompt)[0]
    without = _template_pieces(tokenizer, None)[0]
    return len(with_prompt) - len(without)


def ordinary_token_ids(tokenizer: Any) -> tuple[int, int]:
    """[low, high) range of ids that are ordinary (not special) tokens."""
    special = set(tokenizer.all_special_ids) | {i for i in tokenizer.added_tokens_decoder}
    low, high = 0, len(tokenizer)
    while high - 1 in special:
        high -= 1
    while low in special:
        low += 1
    return low, high


def tokenized_rows(tokenizer: Any, lengths: list[int], system_prompt: str | None, seed: int = 0) -> list[dict]:
    """Pre-tokenised chat rows (``input_ids``, ``assistant_masks``: 1 on the answer and its ``<|eot_id|>``),
    the format TRL's SFTTrainer trains on without tokenising again."""
    rng = random.Random(seed)
    start, user_header, between, end = _template_pieces(tokenizer, system_prompt)
    low, high = ordinary_token_ids(tokenizer)
    rows = []
    for length in lengths:
        answer = max(1, round(length * ANSWER_SHARE))
        question = max(1, length - answer)
        prompt = start + user_header + [rng.randrange(low, high) for _ in range(question)] + between
        reply = [rng.randrange(low, high) for _ in range(answer)] + end
        rows.append({"input_ids": prompt + reply, "assistant_masks": [0] * len(prompt) + [1] * len(reply)})
    return rows
