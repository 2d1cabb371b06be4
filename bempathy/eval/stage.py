"""train.py's evaluate stage: which rows, which model, where the results go (the Evaluator does the work).

- ``--eval_split test`` (default): every variant's greedy answers, scored; the run's metrics and report.
- ``--eval_split train|val``: the same, logged as a round to rate (``split_evaluations``), never as the metrics.
- ``--eval_samples K``: sampled answers, not scored, logged as a round to rate: the tuned model's candidates
  (``sample1..K``), or with ``--eval_sample_variants sft,tuned`` a sampled comparison on any split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bempathy.config import ConfigError, sample_variants
from bempathy.data.read import DataError
from bempathy.data.subsets import select_examples
from bempathy.eval.evaluator import Evaluator, evaluated_variants, held_out_rows
from bempathy.eval.report import report_from_logs
from bempathy.hardware import is_main_process
from bempathy.model.chat import BASE, SFT, TUNED, ChatModel, DecodingSettings
from bempathy.model.thread import model_thread
from bempathy.runs import RunFolder
from bempathy.serve.openai_backend import backend_for_plan
from bempathy.serve.plan import plan_from_run
from bempathy.storage.store import Store


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
    samplers, known = sample_variants(config.eval.eval_sample_variants), evaluated_variants(dict(adapters))
    missing = sorted(set(samplers) - set(known))
    if config.eval.eval_samples and missing:
        raise ConfigError(
            f"--eval_sample_variants {config.eval.eval_sample_variants}: this run has no {', '.join(missing)} "
            f"(it has {', '.join(known)}; sft is a preference run's SFT model)"
        )
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
            result = evaluator.sample_candidates(rows, experiment_id, split, sampling, config.eval.eval_seed, samplers)
        else:
            result = evaluator.evaluate(rows, experiment_id, split)
    if trained_on:
        result["left_out_trained_prompts"] = trained_on
    if split != "test" or sampling:
        # Answers to rate, not the run's metrics: the report, Reports and the Rate tab keep the test evaluation.
        rounds = store.experiments.get(experiment_id).get("split_evaluations") or {}
        store.experiments.update(experiment_id, {"split_evaluations": {**rounds, result["evaluation_id"]: result}})
        if sampling:
            print(sampled_note(result, experiment_id))
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


def sampled_note(result: dict[str, Any], experiment_id: str) -> str:
    """What a sampled round logged, and the commands that rate (and, for candidates, export) it."""
    names, evaluation, decoding = result["variants"], result["evaluation_id"], result["decoding"]
    at, every = f"--experiment {experiment_id} --evaluation {evaluation}", ",".join(names)
    logged = (
        f"\n{result['n_examples']} prompts of the {result['split']} split, {len(names)} sampled answers each "
        f"(temperature {decoding['temperature']}, top_p {decoding['top_p']}), logged as evaluation {evaluation}, "
        f"variants {', '.join(names)}."
    )
    if result.get("kind") == "sampled":
        models = decoding["sampled_variants"]
        pairs = [f"{a},{b}" for k, a in enumerate(models) for b in models[k + 1 :]]
        return "\n".join(
            [
                logged,
                "Not the run's metrics. Rate two models, each one's k-th sampled answer against the other's k-th:",
                *(f"  python -m bempathy.rating.simulated {at} --variants {pair}" for pair in pairs),
                "",
            ]
        )
    pairs = [f"{names[k]},{names[k + 1]}" for k in range(0, len(names) - 1, 2)]
    lines = [
        f"{logged} Rate them in pairs, e.g.:",
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
