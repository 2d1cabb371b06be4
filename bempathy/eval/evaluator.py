"""Evaluator: honest numbers for base vs fine-tuned on the held-out test split.

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
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bempathy.data.read import DataError
from bempathy.data.subsets import select_examples
from bempathy.eval import metrics as text_metrics
from bempathy.eval.report import report_from_logs
from bempathy.hardware import is_main_process
from bempathy.model.chat import ChatModel, DecodingSettings
from bempathy.model.lm_head import LOGITS_CHUNK_BYTES, body_and_head, vocab_size
from bempathy.model.thread import model_thread
from bempathy.runs import RunFolder
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
    ) -> None:
        self.chat = chat_model
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

    def evaluate(self, rows: Sequence[dict[str, Any]], experiment_id: str | None = None) -> dict[str, Any]:
        """Generate, log and score every variant the model has on the same prompts."""

        prompts, references = zip(*(split_prompt(row["messages"]) for row in rows), strict=True)
        variants = ["base", "tuned"] if self.chat.has_adapter else ["base"]
        answers: dict[str, list[str]] = {}
        result: dict[str, Any] = {
            "evaluation_id": uuid.uuid4().hex[:12],  # ties these metrics to the answers logged with them
            "split": "test",
            "n_examples": len(rows),
            "example_ids": [row.get("id") for row in rows],
            "decoding": self._decoding(),
        }
        # Every prompt once per variant, side by side in the same generate calls (mixed-adapter batches): base
        # and tuned share each batch and its cost instead of taking two passes.
        conversations = [prompt for prompt in prompts for _ in variants]
        with tqdm(total=len(conversations), desc=f"generating ({' + '.join(variants)})", unit="answer") as bar:
            generated = self.chat.generate(
                conversations, variants * len(prompts), self.decoding, self.batch_size, progress=bar
            )
        for offset, variant in enumerate(variants):
            generations = generated[offset :: len(variants)]
            answers[variant] = [g.text for g in generations]
            scores = self.score_texts(answers[variant], references)
            result["signatures"] = scores.pop("signatures")
            scores.update(self.perplexity([row["messages"] for row in rows], variant))
            result[variant] = scores
            self._log(experiment_id, result["evaluation_id"], variant, rows, prompts, references, generations)
        result["by_topic"] = self._breakdown(rows, "topic", answers, references)
        result["by_subcorpus"] = self._breakdown(rows, "subcorpus", answers, references)
        if "tuned" in answers:
            result["delta"] = text_metrics.paired_bootstrap(
                answers["base"], answers["tuned"], list(references), DELTA_METRICS, self.bootstrap_resamples
            )
            base_ppl, tuned_ppl = result["base"]["perplexity"], result["tuned"]["perplexity"]
            result["delta"]["perplexity"] = {
                "base": base_ppl,
                "tuned": tuned_ppl,
                "delta": tuned_ppl - base_ppl,
            }
        result["evaluated_at"] = utc_now()
        return result

    def _decoding(self) -> dict[str, Any]:
        # batch_size counts rows per generate call; base and tuned rows of a prompt share a call.
        return {**self.decoding.as_dict(), "batch_size": self.batch_size, "mixed_variant_batches": True}

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

    def _log(self, experiment_id, evaluation_id, variant, rows, prompts, references, generations) -> None:
        if self.store is None:
            return
        decoding = self._decoding()
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


def run_evaluation(config, store: Store | None = None) -> dict[str, Any] | None:
    """train.py's evaluate stage: score DIR/adapter on DIR/data/test.jsonl, store metrics, write the report."""
    if not is_main_process():
        return None
    run = RunFolder(Path(config.train.output_dir))
    rows = select_examples(run.read_split("test"), config.eval.eval_max_examples, config.data.split_seed)
    if not rows:
        raise DataError(f"{run.split_path('test')} is empty: nothing to evaluate")
    experiment_id = run.experiment_id()
    if experiment_id is None:
        raise DataError(f"{run.experiment_path} is missing: train this run folder before evaluating it")
    store = store if store is not None else Store(config.run.logs_dir)
    chat = ChatModel.load(
        config.model.model_name_or_path,
        run.adapter_dir,
        bool(config.model.load_in_4bit),
        revision=config.model.model_revision,  # the revision training used (the strategies pass it too)
    )
    evaluator = Evaluator(
        chat,
        store,
        DecodingSettings(max_new_tokens=config.eval.max_new_tokens),
        batch_size=config.eval.generation_batch_size,
        bootstrap_resamples=config.eval.bootstrap_resamples,
        perplexity_batch_size=config.train.per_device_eval_batch_size,
    )
    with model_thread().adopted():  # this thread may have just trained: keep the math on it (model_thread.py)
        result = evaluator.evaluate(rows, experiment_id)
    store.experiments.update(experiment_id, {"metrics": result})
    report = report_from_logs(experiment_id, run.path, store)
    print(f"\n{format_comparison(result)}\n\nReport: {report}\n")
    return result


def format_comparison(result: dict[str, Any]) -> str:
    """Base vs tuned as a terminal table (the report has the full version)."""
    rows = [("metric", "base", "tuned", "delta [95% CI]")]
    for name in ("perplexity", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "bengali_share", "mean_length"):
        base = result["base"].get(name)
        tuned = result.get("tuned", {}).get(name)
        delta = result.get("delta", {}).get(name)
        delta_text = ""
        if delta is not None:
            delta_text = f"{delta['delta']:+.3f}"
            if "ci_low" in delta:
                delta_text += f" [{delta['ci_low']:+.3f}, {delta['ci_high']:+.3f}]"
        rows.append((name, f"{base:.3f}", "" if tuned is None else f"{tuned:.3f}", delta_text))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    return f"Held-out test split, {result['n_examples']} examples\n" + "\n".join(lines)
