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
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from bempathy.config import ConfigError
from bempathy.data.read import DataError
from bempathy.data.subsets import select_examples
from bempathy.eval import metrics as text_metrics
from bempathy.eval.report import report_from_logs
from bempathy.hardware import is_main_process
from bempathy.model.chat import BASE, SFT, TUNED, ChatModel, DecodingSettings
from bempathy.model.lm_head import LOGITS_CHUNK_BYTES, body_and_head, vocab_size
from bempathy.model.thread import model_thread
from bempathy.runs import RunFolder
from bempathy.serve.openai_backend import backend_for_plan
from bempathy.serve.plan import plan_from_run
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
        self, rows: Sequence[dict[str, Any]], experiment_id: str | None, split: str, samples: int, seed: int
    ) -> dict[str, Any]:
        """``samples`` sampled answers of the tuned model per prompt, logged as ``sample1`` .. ``sampleK`` and not
        scored: on-policy candidates, so a rating round compares answers the model itself writes (a preference
        stage learns more from those than from base-vs-tuned pairs it never produced)."""
        prompts, references = zip(*(split_prompt(row["messages"]) for row in rows), strict=True)
        names = [f"sample{k + 1}" for k in range(samples)]
        rows_per_call = self._rows_per_call(samples)
        result: dict[str, Any] = {
            "evaluation_id": uuid.uuid4().hex[:12],
            "split": split,
            "kind": "candidates",
            "n_examples": len(rows),
            "example_ids": [row.get("id") for row in rows],
            "decoding": {**self._decoding(rows_per_call), "seed": seed, "sampled_variant": TUNED},
            "variants": names,
        }
        conversations = [prompt for prompt in prompts for _ in names]
        with tqdm(total=len(conversations), desc=f"sampling {samples} answers per prompt", unit="answer") as bar:
            generated = self.generator.generate(
                conversations, [TUNED] * len(conversations), self.decoding, rows_per_call, progress=bar, seed=seed
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


def run_evaluation(config, store: Store | None = None) -> dict[str, Any] | None:
    """train.py's evaluate stage: score DIR/adapter on DIR/data/test.jsonl, store metrics, write the report."""
    if not is_main_process():
        return None
    run = RunFolder(Path(config.train.output_dir))
    corpus = run.data_run()  # a preference run's data is the SFT run's
    split = config.eval.eval_split
    rows = select_examples(corpus.read_split(split), config.eval.eval_max_examples, config.data.split_seed)
    rows, trained_on = held_out_rows(rows, run.preference_user_turns())
    if not rows:
        why = f" ({trained_on} left out: the preference stage trained on their prompts)" if trained_on else ""
        raise DataError(f"{corpus.split_path(split)} has nothing to evaluate{why}")
    experiment_id = run.experiment_id()
    if experiment_id is None:
        raise DataError(f"{run.experiment_path} is missing: train this run folder before evaluating it")
    store = store if store is not None else Store(config.run.logs_dir)
    adapters = plan_from_run(run.path).adapters  # the run's adapter, and a preference run's SFT adapter as "sft"
    server = _server(config, run) if config.eval.eval_backend == "openai" else None  # checked before any load
    chat = ChatModel.load(
        config.model.model_name_or_path,
        load_in_4bit=bool(config.model.load_in_4bit),
        adapters=dict(adapters),
        revision=config.model.model_revision,  # the revision training used (the strategies pass it too)
    )
    sampling = config.eval.eval_samples
    sampled = {"do_sample": True, "temperature": config.eval.eval_temperature, "top_p": config.eval.eval_top_p}
    decoding = DecodingSettings(max_new_tokens=config.eval.max_new_tokens, **(sampled if sampling else {}))
    evaluator = Evaluator(
        chat,
        store,
        decoding,
        batch_size=config.eval.generation_batch_size,
        bootstrap_resamples=config.eval.bootstrap_resamples,
        perplexity_batch_size=config.train.per_device_eval_batch_size,
        generator=server,
    )
    with model_thread().adopted():  # this thread may have just trained: keep the math on it (model_thread.py)
        if sampling:
            result = evaluator.sample_candidates(rows, experiment_id, split, sampling, config.eval.eval_seed)
        else:
            result = evaluator.evaluate(rows, experiment_id, split)
    if trained_on:
        result["left_out_trained_prompts"] = trained_on
    if split != "test":
        # Answers to rate, not the run's metrics: the report, Reports and the Rate tab keep the test evaluation.
        rounds = store.experiments.get(experiment_id).get("split_evaluations") or {}
        store.experiments.update(experiment_id, {"split_evaluations": {**rounds, result["evaluation_id"]: result}})
        if sampling:
            print(candidates_note(result, experiment_id))
            return result
        print(
            f"\n{format_comparison(result)}\n\nNot held out: the {split} split's answers are logged as evaluation "
            f"{result['evaluation_id']} for a rating round (--evaluation {result['evaluation_id']}); the run's "
            "metrics and report are unchanged.\n"
        )
        return result
    store.experiments.update(experiment_id, {"metrics": result})
    report = report_from_logs(experiment_id, run.path, store)
    print(f"\n{format_comparison(result)}\n\nReport: {report}\n")
    return result


def _server(config, run: RunFolder):
    """The run's variants on --eval_endpoint, each checked there (the same names the app asks for)."""
    if not config.eval.eval_endpoint:
        raise ConfigError("--eval_backend openai needs --eval_endpoint URL (the server's address)")
    api_key = os.environ.get(config.eval.eval_api_key_env) if config.eval.eval_api_key_env else None
    if config.eval.eval_api_key_env and not api_key:
        raise ConfigError(f"--eval_api_key_env {config.eval.eval_api_key_env}: that environment variable is not set")
    return backend_for_plan(
        plan_from_run(run.path), config.eval.eval_endpoint, api_key=api_key, served_names=config.eval.eval_served_names
    )


def candidates_note(result: dict[str, Any], experiment_id: str) -> str:
    """What a candidates round logged, and the commands that rate and export it."""
    names, evaluation = result["variants"], result["evaluation_id"]
    pairs = [f"{names[k]},{names[k + 1]}" for k in range(0, len(names) - 1, 2)]
    at, every = f"--experiment {experiment_id} --evaluation {evaluation}", ",".join(names)
    lines = [
        f"\n{result['n_examples']} prompts of the {result['split']} split, {len(names)} sampled answers each "
        f"(temperature {result['decoding']['temperature']}, top_p {result['decoding']['top_p']}), logged as "
        f"evaluation {evaluation}, variants {', '.join(names)}. Rate them in pairs, e.g.:",
        *(f"  python -m bempathy.rating.simulated {at} --variants {pair}" for pair in pairs),
        f"  python -m bempathy.human_eval export {at} {' '.join('--variants ' + p for p in pairs)} --output FILE",
        "or every pair, then one pair per prompt, its best answer against its worst (best-of-N through ratings):",
        f"  python -m bempathy.rating.simulated {at} --variants {every}",
        f"  python -m bempathy.human_eval export {at} --variants {every} --best-vs-worst --output FILE\n",
    ]
    return "\n".join(lines)


def format_comparison(result: dict[str, Any]) -> str:
    """Every evaluated variant as a terminal table, with tuned minus base (and minus SFT) and their intervals."""
    variants = result.get("variants") or [v for v in (BASE, TUNED) if v in result]
    against = [(key, other) for key, other in (("delta", BASE), ("delta_vs_sft", SFT)) if key in result]
    header = ("metric", *variants, *(f"{TUNED} − {other} [95% CI]" for _, other in against))
    rows = [header]
    for name in ("perplexity", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "bengali_share", "mean_length"):
        values = [result.get(v, {}).get(name) for v in variants]
        cells = [name, *("" if value is None else f"{value:.3f}" for value in values)]
        for key, _ in against:
            delta = result[key].get(name)
            text = ""
            if delta is not None:
                text = f"{delta['delta']:+.3f}"
                if "ci_low" in delta:
                    text += f" [{delta['ci_low']:+.3f}, {delta['ci_high']:+.3f}]"
            cells.append(text)
        rows.append(tuple(cells))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    left_out = result.get("left_out_trained_prompts")
    note = f" ({left_out} left out: the preference stage trained on their prompts)" if left_out else ""
    split = result.get("split", "test")
    title = "Held-out test split" if split == "test" else f"The {split} split (not held out)"
    return f"{title}, {result['n_examples']} examples{note}\n" + "\n".join(lines)
