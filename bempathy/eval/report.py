"""Evaluation report for one experiment, rendered from the TinyDB logs alone.

Everything shown (tables, plots, example answers) is read from ``LLAMAExperiments`` and
``GeneratedResponses``, never from a live model, so the report can be regenerated at any time with the
command it prints in its "Reproduce" section:

    python -m bempathy.report --experiment ID [--logs-dir DIR] --output-dir OUT

Files are written to temp files and ``os.replace``d, so a reader never sees a half-written report.
Model text is untrusted: it is escaped for Markdown tables and never emitted as raw HTML.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from bempathy.eval.figures import as_number, plot_loss, plot_metrics
from bempathy.runs import RunFolder
from bempathy.storage.log import write_atomic
from bempathy.storage.store import Store


class UnknownExperimentError(ValueError):
    """The requested id is not in LLAMAExperiments; ``main`` turns it into exit status 2."""


# (key, label, scale, decimals, unit): how each corpus metric is displayed in the comparison table.
METRIC_ROWS = (
    ("chrf", "chrF++ (0-100)", 1.0, 2, ""),
    ("bleu", "BLEU (0-100)", 1.0, 2, ""),
    ("rouge1", "ROUGE-1 (0-1)", 1.0, 3, ""),
    ("rouge2", "ROUGE-2 (0-1)", 1.0, 3, ""),
    ("rougeL", "ROUGE-L (0-1)", 1.0, 3, ""),
    ("bengali_share", "Bengali share", 100.0, 1, "%"),
    ("mean_length", "Mean length (words)", 1.0, 1, ""),
    ("perplexity", "Perplexity (lower is better)", 1.0, 2, ""),
)
# (key, (scale, decimals, unit)) for the per-topic / per-sub-corpus tables.
GROUP_COLUMNS = (("chrf", (1.0, 1, "")), ("rougeL", (1.0, 3, "")), ("bengali_share", (100.0, 1, "%")))
MAX_GROUPS, N_EXAMPLES, MAX_CHARS = 15, 3, 300


def _fmt(value: Any, scale: float = 1.0, decimals: int = 2, unit: str = "", signed: bool = False) -> str:
    number = as_number(value)
    if number is None:
        return "—"
    return f"{number * scale:{'+' if signed else ''}.{decimals}f}{unit}"


def escape(text: Any) -> str:
    """Make arbitrary (model) text safe inside a Markdown table cell: no HTML, no cell or row breaks."""
    if text is None:
        return "—"
    text = str(text).replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r\n", "\n").replace("\r", "\n").replace("\n", "<br>")


def _truncate(text: str, limit: int = MAX_CHARS) -> str:
    """Cut at a word boundary near ``limit`` so a Bengali grapheme is not split in the middle."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit - 60 else cut).rstrip() + " …"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    """The one Markdown table formatter; every cell goes through ``escape``."""
    return "\n".join("| " + " | ".join(map(escape, row)) + " |" for row in [headers, ["---"] * len(headers), *rows])


def variants_of(metrics: dict) -> list[str]:
    """The evaluated variants in column order (older logs did not list them: base and tuned)."""
    return list(metrics.get("variants") or [v for v in ("base", "tuned") if v in metrics] or ["base", "tuned"])


# (metrics key, the variant tuned is compared with): deltas logged by the evaluator.
DELTAS = (("delta", "base"), ("delta_vs_sft", "sft"))


def comparison_table(metrics: dict) -> str:
    """Metric | each variant | tuned − base | 95% CI (| tuned − sft | 95% CI for a preference run); a delta is
    recomputed only if the log lacks it."""
    variants = variants_of(metrics)
    against = [(key, other) for key, other in DELTAS if other in variants and "tuned" in variants]
    rows = []
    for key, label, scale, decimals, unit in METRIC_ROWS:
        values = [as_number((metrics.get(v) or {}).get(key)) for v in variants]
        if all(v is None for v in values):
            continue
        row = [label, *(_fmt(v, scale, decimals, unit) for v in values)]
        for delta_key, other in against:
            logged = (metrics.get(delta_key) or {}).get(key) or {}
            a, t = values[variants.index(other)], values[variants.index("tuned")]
            diff = as_number(logged.get("delta"))
            if diff is None and a is not None and t is not None:
                diff = t - a
            low, high = as_number(logged.get("ci_low")), as_number(logged.get("ci_high"))
            ci = [_fmt(bound, scale, decimals, signed=True) for bound in (low, high)]
            ci_cell = f"[{ci[0]}, {ci[1]}]" if low is not None and high is not None else ""
            delta_unit = " pp" if unit == "%" else unit
            row += [_fmt(diff, scale, decimals, delta_unit, signed=True), ci_cell]
        rows.append(row)
    if not rows:
        return "_No base/tuned metrics logged for this experiment (was evaluation run?)._"
    deltas = [cell for _, other in against for cell in (f"delta (tuned − {other})", "95% CI")]
    return _table(["metric", *variants, *deltas], rows)


def groups_table(groups: dict, kind: str, variants: list[str] | None = None) -> str:
    """Per-group chrF++/ROUGE-L/Bengali share, largest groups first, at most ``MAX_GROUPS`` rows."""
    if not groups:
        return f"_No per-{kind} breakdown logged._"
    variants = variants or ["base", "tuned"]
    ordered = sorted(groups.items(), key=lambda item: (-(item[1].get("n") or 0), item[0]))
    rows = []
    for name, group in ordered[:MAX_GROUPS]:
        scores = [group.get(v) or {} for v in variants]
        cells = [_fmt(v.get(key), *style) for key, style in GROUP_COLUMNS for v in scores]
        rows.append([name, group.get("n"), *cells])
    titles = ("chrF++", "ROUGE-L", "Bengali")
    table = _table([kind, "n", *(f"{title} {v}" for title in titles for v in variants)], rows)
    hidden = ordered[MAX_GROUPS:]
    if hidden:
        n_hidden = sum(g.get("n") or 0 for _, g in hidden)
        table += f"\n\n_{len(hidden)} more {kind}s omitted ({n_hidden} examples)._"
    return table


def examples_section(responses: list[dict], variants: list[str] | None = None) -> str:
    """The first few test examples answered by every variant in the same evaluation run.

    Pairs by (evaluation_id, example_id) when logged (re-running evaluate adds a new run; short dialogue turns
    can share an input text), else by identical ``input_text`` for older logs.
    """
    variants = variants or ["base", "tuned"]

    def key(r: dict) -> tuple:
        if r.get("example_id") is not None:
            return (r.get("evaluation_id"), r["example_id"])
        return (r.get("evaluation_id"), r.get("input_text"))

    by_variant = {v: {key(r): r for r in responses if r.get("variant") == v} for v in variants}
    last = variants[-1]
    shared = [k for k in by_variant[last] if all(k in by_variant[v] for v in variants)]
    if not shared or len(variants) < 2:
        return f"_No paired {'/'.join(variants)} responses logged in GeneratedResponses for this experiment._"
    examples = []
    for i, k in enumerate(shared[:N_EXAMPLES], 1):
        answers = [by_variant[v][k] for v in variants]
        first = answers[-1]
        reference = next((a.get("reference_text") for a in reversed(answers) if a.get("reference_text")), None)
        texts = [("prompt", first["input_text"]), ("reference", reference)]
        texts += [(v, a.get("response_text")) for v, a in zip(variants, answers, strict=True)]
        rows = [[name, _truncate(str(text or "—"))] for name, text in texts]
        examples.append(f"### Example {i}\n\n{_table(['', 'text'], rows)}")
    return "\n\n".join(examples)


def _pairs(mapping: dict | None) -> list[list[Any]]:
    """Key/value rows; an absent mapping ("not logged") differs from an empty one ("none")."""
    if mapping is None:
        return [["not logged", "—"]]
    return [[key, value] for key, value in mapping.items()] or [["none", "—"]]


def _joined(mapping: dict | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (mapping or {}).items()) or "—"


def data_section(data: dict) -> list[str]:
    source = data.get("source") or {}
    return [
        f"Source: {escape(source.get('path'))} (sha256 {escape(source.get('sha256'))}); "
        f"training length: {escape(data.get('training_length'))} tokens.",
        _table(["split", "examples"], _pairs(data.get("splits"))),
        _table(["dropped because", "examples"], _pairs(data.get("dropped"))),
        _table(["token length", "tokens"], _pairs(data.get("token_lengths"))),
        *_budget_table(data.get("token_budget")),
    ]


def _budget_table(budget: dict | None) -> list[str]:
    """Where the tokens go per split: the fixed system prompt (no loss on it) and the answers (the loss)."""
    if not budget:
        return []  # not measured (no tokenizer) or a run from before it was recorded

    def cell(tokens: int | None, share: float | None) -> str:
        return "—" if tokens is None or share is None else f"{tokens:,} ({100 * share:.1f}%)"

    rows = [
        [
            name,
            f"{part['tokens']:,}",
            cell(part["prompt_tokens"], part["prompt_share"]),
            cell(part["answer_tokens"], part["answer_share"]),
        ]
        for name, part in budget.items()
        if isinstance(part, dict)
    ]
    prompt = budget.get("system_prompt_tokens")
    table = _table(["split", "tokens", "system prompt", "answers (loss)"], rows)
    return [f"System prompt: {prompt} tokens in every example.", table] if prompt is not None else [table]


def _training_section(experiment: dict) -> list[str]:
    history = experiment.get("loss_history") or []
    steps = max((e.get("step") or 0 for e in history if "loss" in e), default="—")
    runtime, memory = as_number(experiment.get("runtime_s")), as_number(experiment.get("peak_memory_mb"))
    hardware = experiment.get("hardware") or {}
    rows = [
        ["train loss (final)", _fmt(experiment.get("train_loss"), decimals=4)],
        ["validation loss", _fmt(experiment.get("val_loss"), decimals=4)],
        ["optimizer steps", steps],
        ["runtime", f"{runtime / 60:.1f} min" if runtime is not None else "—"],
        [
            "peak GPU memory" if hardware.get("device") == "cuda" else "peak process memory (RSS)",
            f"{memory / 1024:.2f} GiB" if memory is not None else "—",
        ],
        ["hardware", _joined(experiment.get("hardware"))],
        ["quantization", experiment.get("quantization") or "none"],
        ["LoRA", _joined(experiment.get("lora_config"))],
        ["adapter", experiment.get("adapter_path")],
    ]
    return [_table(["", "value"], rows), "![](plots/loss.png)"]


def _title(variants: list[str]) -> str:
    names = {"base": "base", "sft": "SFT", "tuned": "preference-tuned" if "sft" in variants else "fine-tuned"}
    return " vs ".join(names.get(v, v) for v in variants).capitalize().replace("sft", "SFT")


def _left_out(metrics: dict) -> str:
    left_out = metrics.get("left_out_trained_prompts")
    return f" ({escape(left_out)} more left out: the preference stage trained on their prompts)" if left_out else ""


def _reproduce_command(experiment_id: str, output_dir: Path, logs_dir: str | None) -> str:
    args = ["python", "-m", "bempathy.report", "--experiment", experiment_id]
    if logs_dir:
        args += ["--logs-dir", str(Path(logs_dir).resolve())]
    return shlex.join([*args, "--output-dir", str(Path(output_dir).resolve())])


def render_report(experiment: dict, responses: list[dict], output_dir: Path, logs_dir: str | None) -> Path:
    """Write ``report.md`` and ``plots/{loss,metrics}.png`` for one experiment record; returns the report."""
    run = RunFolder(Path(output_dir))
    exp_id = str(experiment.get("id", "?"))
    metrics = experiment.get("metrics") or {}
    variants = variants_of(metrics)
    plot_loss(experiment.get("loss_history") or [], run.plots_dir / "loss.png")
    plot_metrics(metrics, run.plots_dir / "metrics.png")
    signatures = [
        [name, (metrics.get("signatures") or {}).get(name, "not logged")] for name in ("bleu", "chrf", "rouge")
    ]
    blocks = [
        f"# Evaluation report {escape(exp_id)}: {escape(experiment.get('model_name') or '?')}, "
        f"{escape(experiment.get('strategy') or '?')} ({escape(experiment.get('status') or 'status unknown')})",
        f"Experiment logged {escape(experiment.get('timestamp'))}; all content below is read from "
        "the LLAMAExperiments and GeneratedResponses logs.",
        "## Data",
        *data_section(experiment.get("data") or {}),
        "## Training",
        *_training_section(experiment),
        f"## {_title(variants)} (held-out test split)",
        f"{escape(metrics.get('n_examples'))} examples of the {escape(metrics.get('split'))} "
        f"split{_left_out(metrics)}, evaluated {escape(metrics.get('evaluated_at'))}; "
        f"decoding: {escape(_joined(metrics.get('decoding')))}. Deltas are tuned − the other variant (Bengali share in "
        "percentage points); 95% CIs are paired bootstrap intervals, shown only where logged. "
        "Higher is better for BLEU, chrF++, ROUGE and Bengali share; for perplexity **lower is better**; "
        "mean length is descriptive.",
        comparison_table(metrics),
        "![](plots/metrics.png)",
        _table(["metric", "signature"], signatures),
        "## Per sub-corpus",
        groups_table(metrics.get("by_subcorpus") or {}, "sub-corpus", variants),
        "## Per topic",
        groups_table(metrics.get("by_topic") or {}, "topic", variants),
        "## Example answers",
        examples_section(responses, variants),
        "## Reproduce",
        "Every number and figure above is recomputed from the logs alone by:",
        f"```\n{_reproduce_command(exp_id, run.path, logs_dir)}\n```",
    ]
    write_atomic(run.report_path, ("\n\n".join(blocks) + "\n").encode("utf-8"))
    return run.report_path


def report_from_logs(experiment_id: str, output_dir: Path, store: Store) -> Path:
    """Load the experiment and its generated responses from the Store, then render the report.

    The report names the Store's resolved logs directory, so its command still works if
    ``$BEMPATHY_LOGS_DIR`` or the working directory differ later.
    """
    experiment = store.experiments.get(experiment_id)
    if experiment is None:
        raise UnknownExperimentError(f"no experiment {experiment_id} in {store.logs_dir}")
    return render_report(experiment, evaluation_responses(store, experiment), Path(output_dir), str(store.logs_dir))


def evaluation_responses(store: Store, experiment: dict) -> list[dict]:
    """The logged answers behind the experiment's metrics (not those of an earlier evaluation, nor chats)."""
    responses = store.responses.find(experiment_id=experiment.get("id"))
    evaluation_id = (experiment.get("metrics") or {}).get("evaluation_id")
    if evaluation_id is not None:
        return [r for r in responses if r.get("evaluation_id") == evaluation_id]
    return [r for r in responses if r.get("kind") != "chat"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bempathy.report",
        description="Render a Markdown evaluation report with loss and metric plots for one experiment, "
        "recomputed from the TinyDB logs alone (no model is loaded).",
    )
    parser.add_argument("--experiment", required=True, help="experiment id in LLAMAExperiments")
    parser.add_argument("--logs-dir", default=None, help="logs directory (default: $BEMPATHY_LOGS_DIR or ./logs)")
    parser.add_argument("--output-dir", required=True, type=Path, help="where report.md and plots/ go")
    args = parser.parse_args(argv)
    try:
        report = report_from_logs(args.experiment, args.output_dir, Store(args.logs_dir))
    except UnknownExperimentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    return 0
