"""Reports tab: experiments, loss curves (live while training), metrics, breakdowns, data, answers, human scores.

Everything is read from the logs and rendered by :mod:`bempathy.eval.report` (the same tables and figures as
``report.md``), so the app and the Markdown report never disagree. Text from the logs is escaped by that renderer
or shown in plain-text cells. No listener here touches the model, so none waits behind a generation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gradio as gr

from bempathy.eval import figures, report
from bempathy.rating.identity import StudySecret
from bempathy.rating.stats import summarize
from bempathy.rating.tables import format_summary, plot_summary
from bempathy.runs import RunFolder
from bempathy.storage.log import StoreCorruptError
from bempathy.ui.context import LOGS_CONCURRENCY, LOGS_QUEUE, AppContext

LIVE_REFRESH_S = 5.0
EXPERIMENT_COLUMNS = ["id", "status", "model", "strategy", "train_loss", "val_loss", "steps", "started", "runtime_min"]
RESPONSE_COLUMNS = ["topic", "prompt", "reference", "left", "right"]
HIDDEN_WHILE_RATED = (
    "_রেটিং চলাকালে উত্তরগুলো লুকানো থাকে (যাতে রেটাররা জানতে না পারেন কোনটি কোন মডেলের)। "
    "While answers are being rated they are hidden here, so raters cannot tell which model wrote which: "
    "enter the admin token to see them._"
)


def experiment_rows(ctx: AppContext) -> list[dict[str, Any]]:
    """One summary per experiment, newest first."""
    rows = []
    for e in ctx.store.experiments.all():
        steps = [h.get("step") for h in e.get("loss_history") or [] if "loss" in h]
        runtime = e.get("runtime_s")
        rows.append(
            {
                "id": e.get("id"),
                "status": e.get("status"),
                "model": e.get("model_name"),
                "strategy": e.get("strategy"),
                "train_loss": _round(e.get("train_loss")),
                "val_loss": _round(e.get("val_loss")),
                "steps": max(steps) if steps else None,
                "started": e.get("timestamp"),
                "runtime_min": round(runtime / 60, 1) if isinstance(runtime, int | float) else None,
                "has_metrics": bool((e.get("metrics") or {}).get("base")),
            }
        )
    return sorted(rows, key=lambda r: str(r["started"] or ""), reverse=True)


def _round(value: Any) -> float | None:
    return round(value, 4) if isinstance(value, int | float) else None


# What /report returns of an evaluation (a preference run adds sft, delta_vs_sft and the prompts it left out).
REPORT_METRIC_KEYS = (
    "variants",
    "base",
    "sft",
    "tuned",
    "delta",
    "delta_vs_sft",
    "n_examples",
    "left_out_trained_prompts",
    "evaluation_id",
)


def report_payload(ctx: AppContext, experiment_id: str | None) -> dict[str, Any]:
    """One experiment's figures as data (the ``/report`` endpoint): metrics, loss history, data, human scores."""
    experiment = _experiment(ctx, experiment_id)
    if experiment is None:
        return {"experiment_id": experiment_id, "found": False}
    metrics = experiment.get("metrics") or {}
    return {
        "experiment_id": experiment["id"],
        "found": True,
        "status": experiment.get("status"),
        "model_name": experiment.get("model_name"),
        "metrics": {key: metrics.get(key) for key in REPORT_METRIC_KEYS},
        "by_topic": metrics.get("by_topic"),
        "by_subcorpus": metrics.get("by_subcorpus"),
        "loss_history": experiment.get("loss_history") or [],
        "data": _without_path_keys(experiment.get("data") or {}),
        "human": human_summary(ctx, experiment["id"]),
    }


def _without_path_keys(value: Any) -> Any:
    """gradio_client takes any dict with a "path" key for a file and tries to download it: rename that key."""
    if isinstance(value, dict):
        return {("file" if key == "path" else key): _without_path_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_path_keys(item) for item in value]
    return value


def human_summary(ctx: AppContext, experiment_id: str | None) -> dict[str, Any]:
    """The human scores with rater ids replaced by keyed pseudonymous labels: the page and /report are public
    (with OAuth, rater ids are Hugging Face usernames, and an unkeyed hash of one can be computed by anyone);
    the CLI over the logs shows the real ids. Empty, with the reason, when the ratings log cannot be read."""
    try:
        records = ctx.store.ratings.all()
    except StoreCorruptError as error:
        return {"n_ratings": 0, "error": str(error)}
    secret = ctx.rating.secret if ctx.rating is not None else StudySecret(ctx.store.logs_dir)
    return _public(summarize(records, experiment_id=experiment_id), secret.label)


def _public(summary: dict[str, Any], label: Callable[[str], str]) -> dict[str, Any]:
    summary = dict(summary)
    summary["raters"] = {label(r): v for r, v in (summary.get("raters") or {}).items()}
    summary["flagged_raters"] = [label(r) for r in summary.get("flagged_raters") or []]
    return summary


def _experiment(ctx: AppContext, experiment_id: str | None) -> dict[str, Any] | None:
    if not experiment_id:
        rows = experiment_rows(ctx)
        experiment_id = next((r["id"] for r in rows if r["has_metrics"]), rows[0]["id"] if rows else None)
    return ctx.store.experiments.get(experiment_id) if experiment_id else None


def response_rows(ctx: AppContext, experiment: dict, left: str, right: str, topic: str | None) -> list[list[str]]:
    """Prompt, reference and two variants' answers side by side, paired within the evaluation run shown."""
    by_example: dict[Any, dict[str, dict]] = {}
    for r in report.evaluation_responses(ctx.store, experiment):
        key = r.get("example_id") if r.get("example_id") is not None else r.get("input_text")
        by_example.setdefault(key, {})[r.get("variant")] = r
    rows = []
    for answers in by_example.values():
        first = next(iter(answers.values()))
        if topic and first.get("topic") != topic:
            continue
        rows.append(
            [
                str(first.get("topic") or ""),
                str(first.get("input_text") or ""),
                str(first.get("reference_text") or ""),
                str((answers.get(left) or {}).get("response_text") or "—"),
                str((answers.get(right) or {}).get("response_text") or "—"),
            ]
        )
    return rows


def _answers(ctx: AppContext, exp: dict, left: str, right: str, topic: str | None, token: Any, rows_out, note_out):
    """The answers table, or nothing while a rating study is open and no admin token was given: the Rate tab
    shows these very answers as A and B, so showing them here under their variant would unblind every rater."""
    if ctx.study_open() and not ctx.is_admin(token):
        return {rows_out: [], note_out: HIDDEN_WHILE_RATED}
    return {rows_out: response_rows(ctx, exp, left, right, topic or None), note_out: ""}


def build_reports_tab(ctx: AppContext):
    """Build the tab; returns the (fn, inputs, outputs) the page runs on load to fill the experiment list."""
    queue = {"concurrency_id": LOGS_QUEUE, "concurrency_limit": LOGS_CONCURRENCY}
    with gr.Row():
        experiment = gr.Dropdown(label="Experiment", choices=[], elem_id="reports-experiment", scale=4)
        refresh = gr.Button("Refresh", size="sm", scale=1)
    table = gr.Dataframe(headers=EXPERIMENT_COLUMNS, label="LLAMAExperiments", interactive=False, wrap=True)
    status = gr.Markdown(elem_id="reports-status")
    with gr.Row():
        loss_plot = gr.Plot(label="Loss")
        comparison = gr.Markdown(elem_id="reports-comparison")
    metrics_plot = gr.Plot(label="Base vs tuned")
    with gr.Accordion("Per sub-corpus and per topic", open=False):
        groups = gr.Markdown()
    with gr.Accordion("Data report", open=False):
        data = gr.Markdown()
        lengths_plot = gr.Plot(label="Example lengths")
    with gr.Accordion("Generated responses", open=False):
        with gr.Row():
            left = gr.Dropdown(["base", "tuned"], value="base", label="Left variant")
            right = gr.Dropdown(["base", "tuned"], value="tuned", label="Right variant")
            topic = gr.Dropdown([""], value="", label="Topic (empty = all)")
            admin_token = gr.Textbox(label="Admin token (while rating is open)", type="password")
        responses_note = gr.Markdown(elem_id="reports-responses-note")
        responses = gr.Dataframe(
            headers=RESPONSE_COLUMNS, datatype="str", interactive=False, wrap=True, elem_id="reports-responses"
        )
    with gr.Accordion("Human evaluation scores", open=False):
        human = gr.Markdown(elem_id="reports-human")
        human_plot = gr.Plot(label="Human scores")
    with gr.Accordion("Safety counters (this app process; counts only, no text)", open=False):
        safety = gr.JSON()
    timer = gr.Timer(LIVE_REFRESH_S)

    def refresh_list(current):
        rows = experiment_rows(ctx)
        ids = [r["id"] for r in rows]
        chosen = current if current in ids else (_experiment(ctx, None) or {}).get("id")
        table_rows = [[r[c] for c in EXPERIMENT_COLUMNS] for r in rows]
        labels = [(f"{r['id']} · {r['status']} · {r['model']}", r["id"]) for r in rows]
        return gr.update(choices=labels, value=chosen), table_rows

    def show(experiment_id, left_variant, right_variant, topic_name, token):
        exp = _experiment(ctx, experiment_id)
        if exp is None:
            return {status: "_No experiments in the logs yet: run `python demo.py` or `python train.py`._"}
        metrics = exp.get("metrics") or {}
        run_dir = exp.get("output_dir")
        variants = sorted({r.get("variant") for r in report.evaluation_responses(ctx.store, exp)} - {None})
        topics = sorted({str(t) for t in (metrics.get("by_topic") or {})})
        human_text, human_fig = _human(ctx, exp["id"])
        evaluated = report.variants_of(metrics)
        by_group = [
            "### Per sub-corpus",
            report.groups_table(metrics.get("by_subcorpus") or {}, "sub-corpus", evaluated),
            "### Per topic",
            report.groups_table(metrics.get("by_topic") or {}, "topic", evaluated),
        ]
        return {
            status: _status_line(exp),
            loss_plot: figures.loss_figure(exp.get("loss_history") or []),
            metrics_plot: figures.metrics_figure(metrics),
            comparison: report.comparison_table(metrics),
            groups: "\n\n".join(by_group),
            data: "\n\n".join(report.data_section(exp.get("data") or {})),
            lengths_plot: figures.length_histogram(
                RunFolder(Path(run_dir)).data_run().token_lengths() if run_dir else []
            ),
            topic: gr.update(choices=["", *topics], value=topic_name if topic_name in topics else ""),
            **_answers(ctx, exp, left_variant, right_variant, topic_name, token, responses, responses_note),
            human: human_text,
            human_plot: human_fig,
            safety: ctx.policy.counts(),
            left: gr.update(choices=variants or ["base"]),
            right: gr.update(choices=variants or ["base"]),
        }

    def live(experiment_id):
        """While the selected experiment trains, redraw its loss curve; otherwise change nothing."""
        exp = _experiment(ctx, experiment_id)
        if exp is None or exp.get("status") != "running":
            return gr.skip(), gr.skip()
        return _status_line(exp), figures.loss_figure(exp.get("loss_history") or [])

    outputs = [status, loss_plot, metrics_plot, comparison, groups, data, lengths_plot, topic, responses]
    outputs += [responses_note, human, human_plot, safety, left, right]
    inputs = [experiment, left, right, topic, admin_token]
    refresh.click(refresh_list, [experiment], [experiment, table], api_visibility="private", **queue)
    experiment.change(show, inputs, outputs, api_visibility="private", **queue)
    for control in (left, right, topic):
        control.input(show, inputs, outputs, api_visibility="private", **queue)
    admin_token.submit(show, inputs, outputs, api_visibility="private", **queue)
    timer.tick(live, [experiment], [status, loss_plot], api_visibility="private", **queue)

    _register_api(ctx, queue)
    return refresh_list, [experiment], [experiment, table]


def _register_api(ctx: AppContext, queue: dict[str, Any]) -> None:
    """``/experiments``, ``/report`` and ``/safety_counts``: what the tab shows, as data."""

    def experiments() -> list[dict[str, Any]]:
        """Every experiment in LLAMAExperiments: id, status, model, losses, steps, start time."""
        return experiment_rows(ctx)

    def report_endpoint(experiment_id: str | None = None) -> dict[str, Any]:
        """One experiment's figures as data: metrics (base, tuned, delta with CIs), loss history, data, human scores."""
        return report_payload(ctx, experiment_id)

    def safety_counts() -> dict[str, int]:
        """Counts kept by the safety layer in this app process (no message text)."""
        return ctx.policy.counts()

    gr.api(experiments, api_name="experiments", **queue)
    gr.api(report_endpoint, api_name="report", **queue)
    gr.api(safety_counts, api_name="safety_counts", **queue)


def _status_line(exp: dict[str, Any]) -> str:
    history = exp.get("loss_history") or []
    last = next((h for h in reversed(history) if "loss" in h), None)
    live = " · refreshing every 5 s while it trains" if exp.get("status") == "running" else ""
    loss = f" · last loss {last['loss']:.4f} at step {last.get('step')}" if last else ""
    return f"**{report.escape(exp.get('id'))}** · {report.escape(exp.get('status'))}{loss}{live}"


def _human(ctx: AppContext, experiment_id: str) -> tuple[str, Any]:

    summary = human_summary(ctx, experiment_id)
    if summary.get("error"):
        return f"_The human ratings log cannot be read: {report.escape(summary['error'])}_", None
    if not summary.get("n_ratings"):
        return "_No human ratings for this experiment yet (Rate tab)._", None
    return format_summary(summary), plot_summary(summary)  # Markdown whose cells the renderer escapes
