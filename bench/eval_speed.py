"""Generation speed the way evaluation and the app generate: batched vs a loop, mixed adapters vs two passes, chat.

    python bench/eval_speed.py [--quick] [--json] [--tokenizer PATH]

The model is bench/bench_model.py's small random Llama (2 layers, Llama 3.1's 128,256-token vocabulary) with a
random LoRA adapter (r=16 on all seven projections, ``init_lora_weights=False`` so tuned differs from base), saved
and loaded with ``ChatModel.load`` like a train.py run. Prompts are Questions from data/sample rendered with the
default system prompt. Everything goes through bempathy's own generation path:

- eval: ``ChatModel.generate`` (what ``Evaluator.evaluate`` calls) on all prompts at ``batch_size`` rows per call
  vs one call per prompt; ``eval_speedup`` = loop seconds / batched seconds.
- compare: base + tuned for the same prompts as one mixed-adapter batch vs two passes (base, then tuned).
  App case (the headline ``compare_speedup``): one prompt through ``ChatModel.stream_many``, the Compare tab's
  path, as one call of 2 rows vs 2 calls of 1 row. Evaluation case (``compare_eval_speedup``): all prompts through
  ``ChatModel.generate`` laid out as ``Evaluator.evaluate`` lays them out (base and tuned rows of a prompt side by
  side) vs a base pass and a tuned pass, ``batch_size`` rows per call on both sides.
- chat: ``ConversationService.chat_turn`` (the Chat tab) with the app's sampling defaults.

Same work on both sides of every ratio: greedy decoding (chat: the app's sampling, seeded) and every answer forced
to exactly ``max_new_tokens`` tokens by blocking the end-of-turn, end-of-text and padding ids at every step
(:class:`BlockIds`, a logits processor; ``min_new_tokens`` would leave the padding and tokenizer-eos ids possible).
Outputs are compared as token ids (the tiny tokenizer decodes most of a random model's ids to nothing); left
padding can change float rounding, so the match counts are reported, never assumed.

The machine is shared: ``other_cpu_cores`` is how many cores other processes kept busy on average while this ran
(from /proc/stat), so a disturbed run can be told from a quiet one.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bempathy.model.chat import BASE, TUNED, ChatModel, DecodingSettings  # noqa: E402

SAMPLE_FILES = ("counselling_family_health.csv", "counselling_work_study.csv", "dialogues.csv")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
BATCH_SIZE = 16
# Per mode: prompts for eval/compare, answer tokens, timed repeats, Compare-tab pairs, chat answer tokens and turns.
QUICK = {"prompts": 16, "max_new_tokens": 32, "repeats": 1, "app_pairs": 6, "chat_new_tokens": 64, "chat_repeats": 3}
FULL = {"prompts": 32, "max_new_tokens": 64, "repeats": 3, "app_pairs": 16, "chat_new_tokens": 256, "chat_repeats": 5}


class BlockIds:
    """A logits processor that makes ``ids`` impossible at every step (one ``index_fill_``, no per-step mask)."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.ids = list(ids)
        self._index: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        if self._index is None or self._index.device != scores.device:
            self._index = torch.tensor(self.ids, dtype=torch.long, device=scores.device)
        return scores.index_fill_(1, self._index, float("-inf"))


@dataclass
class ForcedLength(DecodingSettings):
    """DecodingSettings whose answers cannot end early: the stop and padding ids are blocked at every step.

    Both sides of a comparison then generate exactly ``max_new_tokens`` tokens per row, so a ratio compares the
    same work (a random model would otherwise stop at different points in different layouts). Blocking costs
    microseconds per step; ``min_new_tokens`` or ``suppress_tokens`` build a vocabulary-wide mask per step (an
    ``isin`` over 128,256 ids: ~0.4 ms, 10% of a 1-row step of the small model) and would skew 1-row timings.
    """

    block: tuple[int, ...] = field(default_factory=tuple)

    def generate_kwargs(self) -> dict[str, Any]:
        from transformers import LogitsProcessorList

        return {**super().generate_kwargs(), "logits_processor": LogitsProcessorList([BlockIds(self.block)])}


def forced(chat: ChatModel, max_new_tokens: int, base: DecodingSettings | None = None) -> ForcedLength:
    """``base``'s decoding (greedy by default) forced to ``max_new_tokens`` tokens for ``chat``'s stop ids."""
    base = base or DecodingSettings()
    return ForcedLength(
        max_new_tokens=max_new_tokens,
        do_sample=base.do_sample,
        temperature=base.temperature,
        top_p=base.top_p,
        block=tuple(sorted(chat._stop_ids())),
    )


class Recorder:
    """Keeps the new token ids of every ``model.generate`` call ChatModel makes (texts alone can hide differences)."""

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat
        self.rows: list[list[int]] = []

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        model = self.chat.model
        original = model.generate

        def generate(*args: Any, **kwargs: Any) -> Any:
            output = original(*args, **kwargs)
            self.rows.extend(output[:, kwargs["input_ids"].shape[1] :].tolist())
            return output

        model.generate = generate
        try:
            yield self
        finally:
            del model.generate  # the instance attribute: PeftModel.generate shows through again

    def take(self) -> list[list[int]]:
        rows, self.rows = self.rows, []
        return rows


# -- set-up -------------------------------------------------------------------------------------------------------


def sample_questions(n: int) -> list[str]:
    """``n`` distinct Questions spread evenly over data/sample (counselling Q&A and dialogue turns alike)."""
    seen: dict[str, None] = {}
    for name in SAMPLE_FILES:
        with open(ROOT / "data" / "sample" / name, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                text = (row.get("Questions") or "").strip()
                if text:
                    seen.setdefault(text)
    questions = list(seen)
    if n >= len(questions):
        return questions[:n]
    step = len(questions) / n
    return [questions[int(i * step)] for i in range(n)]


def conversations(prompts: Sequence[str]) -> list[list[dict[str, str]]]:
    """System prompt + user turn, as evaluation and the app send them."""
    from bempathy.prompts import chat_messages

    return [chat_messages(p) for p in prompts]


def make_adapter(model_dir: Path, out_dir: Path, tokenizer: Any, seed: int = 1) -> Path:
    """A random LoRA adapter (r=16, alpha 32, seven projections) saved like train.py saves one: weights + tokenizer."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(r=16, lora_alpha=32, target_modules=list(LORA_TARGETS), init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


def build_chat(tokenizer: Any, tmp_dir: str | Path) -> ChatModel:
    """Save the small benchmark model and a random adapter under ``tmp_dir`` and load them as the app does.

    ``use_cache`` is turned back on, as in Llama 3.1's own config.json: bench_model's config turns it off for
    training, and without the KV cache every generated token would recompute the whole prompt.
    """
    from bench_model import build_model

    tmp = Path(tmp_dir)
    model = build_model("small", tokenizer)
    model.config.use_cache = True
    model.generation_config.use_cache = True
    model.save_pretrained(tmp / "model")
    tokenizer.save_pretrained(tmp / "model")
    del model
    adapter_dir = make_adapter(tmp / "model", tmp / "adapter", tokenizer)
    return ChatModel.load(str(tmp / "model"), adapter_dir)


def describe(chat: ChatModel) -> str:
    """The loaded benchmark model's shape, from its config (bench_model's "small" shape may change)."""
    c = chat.model.get_base_model().config
    return (
        f"bench_model small: {c.num_hidden_layers} layers, hidden {c.hidden_size}, vocab {c.vocab_size:,}, "
        f"use_cache {c.use_cache}; random LoRA r=16 on {len(LORA_TARGETS)} projections"
    )


# -- measurements -------------------------------------------------------------------------------------------------


def _median_seconds(runs: list[float]) -> float:
    return round(statistics.median(runs), 4)


def _identical(a: Sequence[list[int]], b: Sequence[list[int]]) -> int:
    return sum(x == y for x, y in zip(a, b, strict=True))


def _full_length(rows: Sequence[list[int]], n: int) -> bool:
    return all(len(r) == n for r in rows)


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _pairs_range(ratios: Sequence[float]) -> str:
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def measure_eval(
    chat: ChatModel,
    prompts: Sequence[str],
    batch_size: int = BATCH_SIZE,
    max_new_tokens: int = 32,
    repeats: int = 1,
    variant: str = TUNED,
) -> dict[str, Any]:
    """Batched ``ChatModel.generate`` (``batch_size`` rows per call) vs one call per prompt, same prompts and work.

    Why: evaluation answers hundreds of test prompts; this is how much batching saves over the obvious loop.
    Timed in pairs, ``batch_size`` prompts at a time (one batched call, then the same prompts one by one; the
    order alternates), so a load change on a shared machine hits both sides alike. Seconds are medians over
    ``repeats`` of the totals over all prompts, after one untimed warm-up of each side;
    ``eval_speedup_pairs`` is the range of the per-pair ratios.
    """
    settings = forced(chat, max_new_tokens)
    recorder = Recorder(chat)
    batched_s, loop_s, ratios = [0.0] * repeats, [0.0] * repeats, []
    batched_ids: list[list[int]] = []
    loop_ids: list[list[int]] = []
    batched_texts: list[str] = []
    loop_texts: list[str] = []
    chunks = _chunks(conversations(prompts), batch_size)
    with recorder.recording():
        chat.generate(chunks[0], variant, settings, batch_size)  # warm-up
        chat.generate(chunks[0][:1], variant, settings, 1)
        recorder.take()
        for r in range(repeats):
            batched_ids, loop_ids, batched_texts, loop_texts = [], [], [], []
            for c, chunk in enumerate(chunks):
                seconds = {}
                for side in ("batched", "loop") if (r + c) % 2 == 0 else ("loop", "batched"):
                    began = time.perf_counter()
                    if side == "batched":
                        texts = [g.text for g in chat.generate(chunk, variant, settings, batch_size)]
                    else:
                        texts = [chat.generate([conv], variant, settings, 1)[0].text for conv in chunk]
                    seconds[side] = time.perf_counter() - began
                    (batched_texts if side == "batched" else loop_texts).extend(texts)
                    (batched_ids if side == "batched" else loop_ids).extend(recorder.take())
                batched_s[r] += seconds["batched"]
                loop_s[r] += seconds["loop"]
                ratios.append(seconds["loop"] / seconds["batched"])
    tokens = len(prompts) * max_new_tokens
    b, lp = _median_seconds(batched_s), _median_seconds(loop_s)
    return {
        "eval_prompts": len(prompts),
        "eval_batch_size": batch_size,
        "eval_max_new_tokens": max_new_tokens,
        "eval_repeats": repeats,
        "eval_variant": variant,
        "eval_batched_s": b,
        "eval_loop_s": lp,
        "eval_batched_tokens_per_s": round(tokens / b, 1),
        "eval_loop_tokens_per_s": round(tokens / lp, 1),
        "eval_speedup": round(lp / b, 2),
        "eval_speedup_pairs": _pairs_range(ratios),
        "eval_identical_outputs": _identical(batched_ids, loop_ids),
        "eval_identical_texts": sum(x == y for x, y in zip(batched_texts, loop_texts, strict=True)),
        "eval_outputs": len(prompts),
        "eval_all_full_length": _full_length(batched_ids + loop_ids, max_new_tokens),
    }


def _stream_rows(chat: ChatModel, convs: list, variants: list[str], settings: DecodingSettings) -> list[str]:
    """Consume one ``stream_many`` call to the end, as the Compare tab does; the final texts."""
    last = None
    for snapshot in chat.stream_many(convs, variants, settings):
        last = snapshot
    if last is None or not all(last.done):
        raise RuntimeError("stream_many ended without finishing every row")
    return last.texts


def measure_compare(
    chat: ChatModel,
    prompts: Sequence[str],
    batch_size: int = BATCH_SIZE,
    max_new_tokens: int = 32,
    repeats: int = 1,
    app_pairs: int = 3,
) -> dict[str, Any]:
    """Base + tuned answers as one mixed-adapter batch vs two passes, for the app's Compare and for evaluation.

    Why: one mixed-variant batch (bempathy.model.adapter_rows) serves both variants in one forward pass; this measures
    what that buys where each is used. ``compare_speedup`` (the headline) is the app's case: one prompt streamed through
    ``stream_many`` as one call of 2 rows vs 2 calls of 1 row (base, then tuned), median over ``app_pairs``
    prompts. ``compare_eval_speedup`` is evaluation's: ``batch_size`` prompts at a time through
    ``ChatModel.generate``, rows laid out like ``Evaluator.evaluate`` (each prompt's base and tuned rows side by
    side, ``batch_size`` rows per call) vs a base pass then a tuned pass over the same prompts (``batch_size``
    rows per call); seconds are medians over ``repeats`` of the totals. Both are timed in alternating pairs.
    """
    settings = forced(chat, max_new_tokens)
    convs = conversations(prompts)
    recorder = Recorder(chat)
    app_mixed_s: list[float] = []
    app_two_s: list[float] = []
    app_ratios: list[float] = []
    app_ids_equal = app_texts_equal = app_base_differs = 0
    full = True
    with recorder.recording():
        _stream_rows(chat, [convs[0]] * 2, [BASE, TUNED], settings)  # warm-up
        _stream_rows(chat, [convs[0]], [BASE], settings)
        recorder.take()
        for r in range(app_pairs):
            conv = convs[r % len(convs)]
            results = {}
            for side in ("mixed", "two") if r % 2 == 0 else ("two", "mixed"):
                began = time.perf_counter()
                if side == "mixed":
                    texts = _stream_rows(chat, [conv, conv], [BASE, TUNED], settings)
                else:
                    texts = [_stream_rows(chat, [conv], [v], settings)[0] for v in (BASE, TUNED)]
                (app_mixed_s if side == "mixed" else app_two_s).append(time.perf_counter() - began)
                results[side] = (texts, recorder.take())
            app_ratios.append(app_two_s[-1] / app_mixed_s[-1])
            (mixed_texts, mixed_ids), (two_texts, two_ids) = results["mixed"], results["two"]
            app_ids_equal += mixed_ids == two_ids
            app_texts_equal += mixed_texts == two_texts
            app_base_differs += mixed_ids[0] != mixed_ids[1]
            full = full and _full_length(mixed_ids + two_ids, max_new_tokens)

        chunks = _chunks(convs, batch_size)
        warm = chunks[0]
        chat.generate([c for c in warm for _ in (BASE, TUNED)], [BASE, TUNED] * len(warm), settings, batch_size)
        recorder.take()  # warm-up
        mixed_s, two_s, ratios = [0.0] * repeats, [0.0] * repeats, []
        for r in range(repeats):
            mixed: list[list[int]] = []
            base: list[list[int]] = []
            tuned: list[list[int]] = []
            for c, chunk in enumerate(chunks):
                seconds = {}
                for side in ("mixed", "two") if (r + c) % 2 == 0 else ("two", "mixed"):
                    began = time.perf_counter()
                    if side == "mixed":
                        rows = [conv for conv in chunk for _ in (BASE, TUNED)]
                        chat.generate(rows, [BASE, TUNED] * len(chunk), settings, batch_size)
                        seconds[side] = time.perf_counter() - began
                        mixed.extend(recorder.take())
                    else:
                        chat.generate(chunk, BASE, settings, batch_size)
                        base.extend(recorder.take())
                        chat.generate(chunk, TUNED, settings, batch_size)
                        seconds[side] = time.perf_counter() - began
                        tuned.extend(recorder.take())
                mixed_s[r] += seconds["mixed"]
                two_s[r] += seconds["two"]
                ratios.append(seconds["two"] / seconds["mixed"])
    full = full and _full_length(mixed + base + tuned, max_new_tokens)
    n = len(convs)
    app_m, app_t = _median_seconds(app_mixed_s), _median_seconds(app_two_s)
    ev_m, ev_t = _median_seconds(mixed_s), _median_seconds(two_s)
    app_tokens, eval_tokens = 2 * max_new_tokens, 2 * n * max_new_tokens
    return {
        "compare_max_new_tokens": max_new_tokens,
        "compare_app_pairs_timed": app_pairs,
        "compare_app_mixed_s": app_m,
        "compare_app_two_calls_s": app_t,
        "compare_app_mixed_tokens_per_s": round(app_tokens / app_m, 1),
        "compare_app_two_calls_tokens_per_s": round(app_tokens / app_t, 1),
        "compare_speedup": round(app_t / app_m, 2),
        "compare_speedup_pairs": _pairs_range(app_ratios),
        "compare_app_samples_s": {  # every timed pair, in order (a dict: bench/run.py's table leaves it out)
            "mixed": [round(x, 4) for x in app_mixed_s],
            "two_calls": [round(x, 4) for x in app_two_s],
        },
        "compare_speedup_is": "app Compare tab: 1 prompt, stream_many of 2 rows vs 2 calls of 1 row",
        "compare_app_identical_pairs": app_ids_equal,
        "compare_app_identical_text_pairs": app_texts_equal,
        "compare_app_base_differs_from_tuned": app_base_differs,
        "compare_eval_prompts": n,
        "compare_eval_batch_size": batch_size,
        "compare_eval_repeats": repeats,
        "compare_eval_mixed_s": ev_m,
        "compare_eval_two_passes_s": ev_t,
        "compare_eval_mixed_tokens_per_s": round(eval_tokens / ev_m, 1),
        "compare_eval_two_passes_tokens_per_s": round(eval_tokens / ev_t, 1),
        "compare_eval_speedup": round(ev_t / ev_m, 2),
        "compare_eval_speedup_pairs": _pairs_range(ratios),
        "compare_eval_identical_base": _identical(mixed[0::2], base),
        "compare_eval_identical_tuned": _identical(mixed[1::2], tuned),
        "compare_all_full_length": full,
    }


def chat_prompts(prompts: Sequence[str], policy: Any) -> list[str]:
    """Prompts the safety layer passes through untouched (no crisis help block, no advice pointer), so what the
    chat shows is the model's text and the first visible characters are the model's."""
    plain = []
    for text in prompts:
        screen = policy.screen(text)
        if not screen.assessment.crisis and screen.advice is None:
            plain.append(text)
    return plain or list(prompts)


def measure_chat(
    chat: ChatModel,
    prompts: Sequence[str],
    max_new_tokens: int = 64,
    repeats: int = 3,
) -> dict[str, Any]:
    """Chat latency through ``ConversationService.chat_turn``, the Chat tab's path, with the app's sampling.

    Why: time to first token is what a user waits for. Two first-token times, both from the call to the first
    value that shows it, median over ``repeats`` turns (one untimed warm-up):
    - ``chat_first_token_s``: model side: the first value ``chat_turn`` yields, which arrives once the model's
      first token does (prompt encoding, the prefill and one decode step); its text is still empty, because
    - ``chat_first_visible_s``: the app shows text ``HOLD_BACK_CHARS`` (80) characters behind the model, so the
      safety check sees some context first; this is the first value with any text on screen.
    ``chat_stream_tokens_per_s`` is the rate after the first token: (tokens - 1) / (last value - first value).
    """
    from bempathy.safety.policy import SafetyPolicy
    from bempathy.serve.conversation import HOLD_BACK_CHARS, ConversationService
    from bempathy.serve.requests import sampling_settings

    policy = SafetyPolicy()
    service = ConversationService(chat, policy)
    plain = chat_prompts(prompts, policy)
    settings = forced(chat, max_new_tokens, sampling_settings())
    recorder = Recorder(chat)
    first_token: list[float] = []
    first_visible: list[float] = []
    visible_only_at_end = 0
    rates: list[float] = []
    totals: list[float] = []
    tokens: list[int] = []
    with recorder.recording():
        for _ in service.chat_turn(plain[0], [], None, settings, seed=0):  # warm-up
            pass
        recorder.take()
        for i in range(repeats):
            began = time.perf_counter()
            first = visible = last = None
            for text in service.chat_turn(plain[(i + 1) % len(plain)], [], None, settings, seed=i + 1):
                last = time.perf_counter() - began
                first = last if first is None else first
                if visible is None and text:
                    visible = last
            rows = recorder.take()
            n = len(rows[0])
            tokens.append(n)
            first_token.append(first)
            totals.append(last)
            if visible is None or visible == last:  # nothing shown before the final, whole-answer check
                visible_only_at_end += 1
            first_visible.append(last if visible is None else visible)
            rates.append((n - 1) / (last - first) if last > first else float("nan"))
    return {
        "chat_variant": chat.variants[0],
        "chat_max_new_tokens": max_new_tokens,
        "chat_turns_timed": repeats,
        "chat_decoding": f"sampling t={settings.temperature} top_p={settings.top_p}, seeded",
        "chat_first_token_s": _median_seconds(first_token),
        "chat_first_token_is": "model side: first chat_turn value after the model's first token (text still held)",
        "chat_first_visible_s": _median_seconds(first_visible),
        "chat_first_visible_is": f"first chat_turn value with text on screen ({HOLD_BACK_CHARS} chars held back)",
        "chat_visible_only_at_end": visible_only_at_end,
        "chat_turn_s": _median_seconds(totals),
        "chat_stream_tokens_per_s": round(statistics.median(rates), 1),
        "chat_all_full_length": all(n == max_new_tokens for n in tokens),
        "chat_samples_s": {  # every timed turn (a dict: bench/run.py's table leaves it out)
            "first_token": [round(x, 4) for x in first_token],
            "first_visible": [round(x, 4) for x in first_visible],
            "turn": [round(x, 4) for x in totals],
        },
    }


def measure_all(
    tokenizer_path: str | None = None,
    quick: bool = False,
    chat: bool = True,
    evaluation: bool = True,
    settings: dict[str, int] | None = None,
) -> dict[str, Any]:
    """bench/run.py's eval section: build the model and adapter in a temp dir, then eval, compare and chat.

    Flat numbers (bench/run.py prints every non-dict value as a table row) plus ``settings``.
    """
    import torch
    from real_tokenizer import load_bench_tokenizer

    s = {**(QUICK if quick else FULL), **(settings or {})}
    tokenizer, label = load_bench_tokenizer(tokenizer_path)
    prompts = sample_questions(s["prompts"])
    lengths = [len(ids) for ids in tokenizer.apply_chat_template(conversations(prompts), return_dict=True)["input_ids"]]
    result: dict[str, Any] = {
        "tokenizer": label,
        "torch_threads": torch.get_num_threads(),
        "prompt_tokens_median": int(statistics.median(lengths)),
        "prompt_tokens_range": f"{min(lengths)}-{max(lengths)}",
        "forced_length": "stop and pad ids blocked (BlockIds logits processor): every answer is max_new_tokens long",
        "settings": s,
    }
    with tempfile.TemporaryDirectory(prefix="bempathy-eval-bench-") as tmp:
        model = build_chat(tokenizer, tmp)
        result["model"] = describe(model)
        with OtherLoad() as other:
            if evaluation:
                result |= measure_eval(model, prompts, BATCH_SIZE, s["max_new_tokens"], s["repeats"])
                result |= measure_compare(model, prompts, BATCH_SIZE, s["max_new_tokens"], s["repeats"], s["app_pairs"])
            if chat:
                result |= measure_chat(model, prompts, s["chat_new_tokens"], s["chat_repeats"])
        result["other_cpu_cores"] = other.cores
    return result


class OtherLoad:
    """Average cores other processes used while the block ran: the machine's busy time (/proc/stat) minus ours.

    ``cores`` is None where /proc/stat is missing (not Linux).
    """

    def __init__(self) -> None:
        self.cores: float | None = None

    @staticmethod
    def _busy_s() -> float | None:
        try:
            with open("/proc/stat", encoding="ascii") as handle:
                fields = [int(x) for x in handle.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> OtherLoad:
        self._busy, self._ours, self._began = self._busy_s(), sum(os.times()[:2]), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        busy = self._busy_s()
        if busy is None or self._busy is None:
            return
        elapsed = time.perf_counter() - self._began
        others = (busy - self._busy) - (sum(os.times()[:2]) - self._ours)
        self.cores = round(max(0.0, others) / elapsed, 2) if elapsed > 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/eval_speed.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK['prompts']} prompts, fewer tokens and repeats")
    parser.add_argument("--json", action="store_true", help="also print one JSON object as the last line")
    parser.add_argument("--tokenizer", help="the real Llama 3 tokenizer.json, a folder with it, or the wheel")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    result = {
        "command": " ".join(["python bench/eval_speed.py", *(argv if argv is not None else sys.argv[1:])]),
        "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        **measure_all(args.tokenizer, quick=args.quick),
    }
    result["load_average_at_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    result["seconds"] = round(time.perf_counter() - began, 1)
    for key, value in result.items():
        print(f"{key:40s} {value}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
