"""Evaluator: honest numbers for base vs fine-tuned on the held-out test split.

A preference run is scored as three variants in the same pass (base, the SFT run it started from as ``sft``, and
its own adapter as ``tuned``), with deltas against base and against SFT, on the test examples whose prompts it
did not train on.

- Perplexity counts answer tokens only (the chat template's generation markers say which), summed over the
  whole split and divided by the number of answer tokens: a long system prompt cannot flatter it.
- Both variants answer the same prompts from one loaded model (adapter disabled for the base), in batches,
  with fixed decoding; each answer is logged to GeneratedResponses.
- Text metrics come from :mod:`bempathy.eval.metrics` (Bengali-aware tokenisation, signatures kept), with paired
  bootstrap 95% intervals for every tuned-minus-base delta.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

from tqdm.auto import tqdm

from bempathy.eval import metrics as text_metrics
from bempathy.model.chat import BASE, SFT, TUNED, ChatModel, DecodingSettings
from bempathy.model.lm_head import LOGITS_CHUNK_BYTES, body_and_head, vocab_size
from bempathy.storage.log import utc_now
from bempathy.storage.store import Store

BREAKDOWN_METRICS = ("chrf", "rougeL", "bengali_share")
DELTA_METRICS = ("bleu", "chrf", "rougeL", "bengali_share")


def split_prompt(messages: list[dict[str, str]]) -> tuple[list[dict[str, str]], str]:
    """(conversation up to the last answer, that answer as the reference)."""
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("an evaluation example must end with an assistant answer")
    return messages[:-1], messages[-1]["content"]


def answer_labels(tokenizer: Any, messages: list[dict[str, str]]) -> tuple[list[int], list[int]]:
    """Token ids of the whole conversation and labels that keep only assistant tokens (others -100)."""
    encoded = tokenizer.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids = list(encoded["input_ids"])
    labels = [t if m else -100 for t, m in zip(ids, encoded["assistant_masks"], strict=True)]
    return ids, labels


class Evaluator:
    """Scores a ChatModel on prepared examples; logs answers and metrics to the store."""

    def __init__(
        self,
        chat_model: ChatModel,
        store: Store | None = None,
        decoding: DecodingSettings | None = None,
        batch_size: int = 8,
        bootstrap_resamples: int = 1000,
        perplexity_batch_size: int | None = None,
        generator: Any | None = None,
    ) -> None:
        self.chat = chat_model
        # Who writes the answers: the model itself, or a server serving the same variants (OpenAIBackend).
        self.generator = generator if generator is not None else chat_model
        self.store = store
        self.decoding = decoding or DecodingSettings()
        self.batch_size = batch_size
        self.bootstrap_resamples = bootstrap_resamples
        # Scoring batches like training evaluation; logits are computed for answer positions only, in chunks.
        self.perplexity_batch_size = perplexity_batch_size or batch_size

    @staticmethod
    def score_texts(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
        """BLEU, chrF++, ROUGE-1/2/L, Bengali share and length; usable without a model."""
        return text_metrics.score_texts(list(hypotheses), list(references))

    def perplexity(self, conversations: Sequence[list[dict[str, str]]], variant: str) -> dict[str, float]:
        """Token-weighted perplexity over answer tokens: exp(sum of answer-token NLL / answer tokens).

        Memory stays bounded at any length: see :func:`answer_token_nll`.
        """
        encoded = [answer_labels(self.chat.tokenizer, conv) for conv in conversations]
        pad_id, batch_size = self.chat.tokenizer.pad_token_id, self.perplexity_batch_size
        total_nll, total_tokens = self.chat.call(
            variant, lambda model: answer_token_nll(model, encoded, pad_id, batch_size)
        )
        if total_tokens == 0:
            raise ValueError("no answer tokens to score")
        return {"perplexity": math.exp(total_nll / total_tokens), "nll": total_nll, "tokens": total_tokens}

    def evaluate(
        self, rows: Sequence[dict[str, Any]], experiment_id: str | None = None, split: str = "test"
    ) -> dict[str, Any]:
        """Generate, log and score every variant the model has on the same prompts (``split`` names them)."""

        prompts, references = zip(*(split_prompt(row["messages"]) for row in rows), strict=True)
        variants = evaluated_variants(self.chat.adapters)
        rows_per_call = self._rows_per_call(len(variants))
        answers: dict[str, list[str]] = {}
        result: dict[str, Any] = {
            "evaluation_id": uuid.uuid4().hex[:12],  # ties these metrics to the answers logged with them
            "split": split,
            "n_examples": len(rows),
            "example_ids": [row.get("id") for row in rows],
            "decoding": self._decoding(rows_per_call),
            "variants": variants,
        }
        # Every prompt once per variant, side by side in the same generate calls (mixed-adapter batches): base
        # and tuned share each batch and its cost instead of taking two passes.
        conversations = [prompt for prompt in prompts for _ in variants]
        with tqdm(total=len(conversations), desc=f"generating ({' + '.join(variants)})", unit="answer") as bar:
            generated = self.generator.generate(
                conversations, variants * len(prompts), self.decoding, rows_per_call, progress=bar
            )
        for offset, variant in enumerate(variants):
            generations = generated[offset :: len(variants)]
            answers[variant] = [g.text for g in generations]
            scores = self.score_texts(answers[variant], references)
            result["signatures"] = scores.pop("signatures")
            scores.update(self.perplexity([row["messages"] for row in rows], variant))
            result[variant] = scores
            self._log(experiment_id, result, variant, rows, prompts, references, generations)
        result["by_topic"] = self._breakdown(rows, "topic", answers, references)
        result["by_subcorpus"] = self._breakdown(rows, "subcorpus", answers, references)
        if TUNED in answers:
            result["delta"] = self._deltas(answers, references, BASE, result)
        if TUNED in answers and SFT in answers:
            result["delta_vs_sft"] = self._deltas(answers, references, SFT, result)
        result["evaluated_at"] = utc_now()
        return result

    def sample_candidates(
        self,
        rows: Sequence[dict[str, Any]],
        experiment_id: str | None,
        split: str,
        samples: int,
        seed: int,
        variants: Sequence[str] = (TUNED,),
    ) -> dict[str, Any]:
        """``samples`` sampled answers per prompt from each of ``variants``, logged and not scored.

        One variant (the tuned model): ``sample1`` .. ``sampleK``, on-policy candidates, so a rating round compares
        answers the model itself writes (a preference stage learns more from those than from base-vs-tuned pairs
        it never produced). Two or more (``sft``, ``tuned``): ``sft_sample1``, ``tuned_sample1``, .., a sampled
        comparison whose k-th answers are rated against each other, because app users get sampled answers, not
        the greedy ones the metrics score. Every row of a prompt shares a generate call.
        """
        prompts, references = zip(*(split_prompt(row["messages"]) for row in rows), strict=True)
        known = evaluated_variants(self.chat.adapters)
        if not variants or len(set(variants)) != len(variants) or set(variants) - set(known):
            raise ValueError(f"sampled variants must be different names among {', '.join(known)}; got {variants}")
        names = sample_names(variants, samples)
        sources = [variant for _ in range(samples) for variant in variants]
        rows_per_call = self._rows_per_call(len(names))
        decoding = {**self._decoding(rows_per_call), "seed": seed, "sampled_variants": list(variants)}
        if len(variants) == 1:
            decoding["sampled_variant"] = variants[0]
        result: dict[str, Any] = {
            "evaluation_id": uuid.uuid4().hex[:12],
            "split": split,
            "kind": "candidates" if len(variants) == 1 else "sampled",
            "n_examples": len(rows),
            "example_ids": [row.get("id") for row in rows],
            "decoding": decoding,
            "variants": names,
        }
        conversations = [prompt for prompt in prompts for _ in names]
        desc = f"sampling {samples} answers per prompt ({' + '.join(variants)})"
        with tqdm(total=len(conversations), desc=desc, unit="answer") as bar:
            generated = self.generator.generate(
                conversations, sources * len(prompts), self.decoding, rows_per_call, progress=bar, seed=seed
            )
        for offset, name in enumerate(names):
            self._log(experiment_id, result, name, rows, prompts, references, generated[offset :: len(names)])
        result["evaluated_at"] = utc_now()
        return result

    def _rows_per_call(self, n_variants: int) -> int:
        """``batch_size`` rounded down to whole prompts, so a prompt's rows (one per variant) share a call."""
        return max(n_variants, self.batch_size - self.batch_size % n_variants)

    def _deltas(self, answers: dict[str, list[str]], references, against: str, result: dict) -> dict[str, Any]:
        """Tuned minus ``against``: paired bootstrap intervals on the text metrics, the perplexity difference."""
        deltas = text_metrics.paired_bootstrap(
            answers[against], answers[TUNED], list(references), DELTA_METRICS, self.bootstrap_resamples
        )
        if against != BASE:  # paired_bootstrap calls its first system "base"
            deltas = {m: {against if k == BASE else k: v for k, v in d.items()} for m, d in deltas.items()}
        other, tuned = result[against]["perplexity"], result[TUNED]["perplexity"]
        deltas["perplexity"] = {against: other, TUNED: tuned, "delta": tuned - other}
        return deltas

    def _decoding(self, rows_per_call: int) -> dict[str, Any]:
        # batch_size counts rows per generate call; every variant's row of a prompt shares a call.
        decoding = {**self.decoding.as_dict(), "batch_size": rows_per_call, "mixed_variant_batches": True}
        if self.generator is not self.chat:  # rows of a batch are concurrent requests the server batches
            decoding.update(backend="openai", endpoint=getattr(self.generator, "endpoint", None))
        return decoding

    def _breakdown(self, rows, key: str, answers: dict[str, list[str]], references) -> dict[str, Any]:
        groups: dict[str, list[int]] = {}
        for index, row in enumerate(rows):
            groups.setdefault(str(row.get(key) or "unknown"), []).append(index)
        table = {}
        for name, indices in sorted(groups.items(), key=lambda item: -len(item[1])):
            refs = [references[i] for i in indices]
            entry: dict[str, Any] = {"n": len(indices)}
            for variant, texts in answers.items():
                scores = self.score_texts([texts[i] for i in indices], refs)
                entry[variant] = {m: scores[m] for m in BREAKDOWN_METRICS}
            table[name] = entry
        return table

    def _log(self, experiment_id, result, variant, rows, prompts, references, generations) -> None:
        if self.store is None:
            return
        evaluation_id, decoding = result["evaluation_id"], result["decoding"]
        self.store.responses.insert_many(
            [
                {
                    "experiment_id": experiment_id,
                    "evaluation_id": evaluation_id,
                    "variant": variant,
                    "example_id": row.get("id"),
                    "topic": row.get("topic"),
                    "input_text": prompt[-1]["content"],
                    "response_text": generation.text,
                    "reference_text": reference,
                    "decoding": decoding,
                    "latency_s": round(generation.latency_s, 4),
                    "new_tokens": generation.new_tokens,
                }
                for row, prompt, reference, generation in zip(rows, prompts, references, generations, strict=True)
            ]
        )


def sample_names(variants: Sequence[str], samples: int) -> list[str]:
    """The logged names of a sampled round, sample by sample: ``sample1..K`` for one variant, ``{variant}_sample{k}``
    for several (the rating side pairs ``sft_sample{k}`` with ``tuned_sample{k}``)."""
    if len(variants) == 1:
        return [f"sample{k + 1}" for k in range(samples)]
    return [f"{variant}_sample{k + 1}" for k in range(samples) for variant in variants]


def evaluated_variants(adapters: Sequence[str]) -> list[str]:
    """Base first, then the SFT run a preference run started from, then the run's own adapter, then any other."""
    known = [v for v in (SFT, TUNED) if v in adapters]
    return [BASE, *known, *sorted(set(adapters) - set(known))]


def held_out_rows(rows: list[dict[str, Any]], trained_turns: set[str]) -> tuple[list[dict[str, Any]], int]:
    """The rows none of whose user turns a preference run trained on, and how many were left out."""
    kept = [
        row
        for row in rows
        if not any(m["role"] == "user" and m["content"].strip() in trained_turns for m in row["messages"])
    ]
    return kept, len(rows) - len(kept)


def answer_token_nll(
    model: Any,
    encoded: Sequence[tuple[list[int], list[int]]],
    pad_token_id: int,
    batch_size: int,
    chunk_bytes: int = LOGITS_CHUNK_BYTES,
) -> tuple[float, int]:
    """(sum of answer-token negative log-likelihoods, number of answer tokens) for (ids, labels) pairs; labels
    are -100 outside the answers.

    Never materialises full-vocabulary logits: the model body gives hidden states, and the LM head runs only on
    the positions that predict an answer token, ``chunk_bytes`` of fp32 logits at a time, each chunk upcast to
    fp32 for its log-softmax. (Full logits for one 4,500-token example with Llama 3's 128,256-token vocabulary
    are 2.3 GB in fp32, ~14 GB for a batch of four with the upcasts.) Examples are sorted by length so batches pad
    little. Models without a body/head split (``get_decoder``/``get_output_embeddings``) are scored from their
    ``forward`` logits, one row at a time.
    """
    import torch
    import torch.nn.functional as F

    split = body_and_head(model)
    order = sorted(encoded, key=lambda pair: len(pair[0]))  # the sum does not depend on the order
    total_nll, total_tokens = 0.0, 0
    device = model.device
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(ids) for ids, _ in batch)
            ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
            labels = torch.full((len(batch), width), -100, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, (row_ids, row_labels) in enumerate(batch):
                ids[row, : len(row_ids)] = torch.tensor(row_ids)
                labels[row, : len(row_labels)] = torch.tensor(row_labels)
                mask[row, : len(row_ids)] = 1
            shifted = labels[:, 1:].to(device)
            total_tokens += int((shifted != -100).sum())
            if split is None:
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
                for row in range(len(batch)):  # upcast one row at a time
                    total_nll += float(
                        F.cross_entropy(logits[row, :-1].float(), shifted[row], ignore_index=-100, reduction="sum")
                    )
                del logits
                continue
            body, head = split
            hidden = body(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False)
            hidden = hidden.last_hidden_state if hasattr(hidden, "last_hidden_state") else hidden[0]
            rows, cols = (shifted != -100).nonzero(as_tuple=True)  # position t predicts token t + 1
            targets = shifted[rows, cols]
            chunk = max(1, chunk_bytes // (4 * vocab_size(model, head)))
            for begin in range(0, len(rows), chunk):
                states = hidden[rows[begin : begin + chunk], cols[begin : begin + chunk]]
                logits = head(states).float()
                total_nll += float(F.cross_entropy(logits, targets[begin : begin + chunk], reduction="sum"))
                del logits
            del hidden
    return total_nll, total_tokens
