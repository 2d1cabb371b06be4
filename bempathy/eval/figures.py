"""The figures of an evaluation (loss curve, base vs tuned metrics, example lengths), as matplotlib Figures.

The report saves them as PNGs and the app's Reports tab shows them; both draw from the logged numbers alone.
Figures are drawn with the Agg canvas, never through pyplot, so no global backend state is touched. matplotlib
is imported when the first figure is drawn: it was about a tenth of the app's import time (``python -X importtime
-c "import bempathy.ui.app"``), paid by every start-up.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bempathy.storage.log import write_atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# (key, plot label, scale): the metrics plotted on one 0-100 axis.
PLOT_METRICS = (
    ("chrf", "chrF++", 1.0),
    ("bleu", "BLEU", 1.0),
    ("rougeL", "ROUGE-L\n×100", 100.0),
    ("bengali_share", "Bengali\nshare (%)", 100.0),
)


def as_number(value: Any) -> float | None:
    """A finite float or None: logs may hold None, strings or NaN (e.g. a CI from a single example)."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)  # Agg without touching pyplot's global backend state
    return fig


def _save_figure(fig: Figure, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    write_atomic(path, buffer.getvalue())


def plot_loss(history: list[dict], path: Path) -> None:
    _save_figure(loss_figure(history), path)


def loss_figure(history: list[dict]) -> Figure:
    """Training loss (line) and validation loss (markers) against the optimizer step."""
    fig = _new_figure(7, 4.2)
    ax = fig.add_subplot()
    for key, label, style in (("loss", "training loss", "-"), ("eval_loss", "validation loss", "o-")):
        steps = [e["step"] if as_number(e.get("step")) is not None else i for i, e in enumerate(history)]
        points = [(step, as_number(e.get(key))) for step, e in zip(steps, history, strict=True)]
        points = [(s, v) for s, v in points if v is not None]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=label, markersize=5, linewidth=1.6)
    if ax.lines:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no loss history logged", ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[])
    ax.set(title="Loss during fine-tuning", xlabel="optimizer step", ylabel="cross-entropy loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_metrics(metrics: dict, path: Path) -> None:
    _save_figure(metrics_figure(metrics), path)


def length_histogram(lengths: list[int]) -> Figure:
    """How long the prepared examples are (tokens): the reason nothing is padded to one length."""
    fig = _new_figure(7, 3.6)
    ax = fig.add_subplot()
    if lengths:
        ax.hist(lengths, bins=min(40, max(5, len(set(lengths)))), color="#1f77b4", alpha=0.85)
        ordered = sorted(lengths)
        median = ordered[len(ordered) // 2]
        ax.axvline(median, color="black", linestyle="--", linewidth=1, label=f"median {median}")
        ax.axvline(ordered[-1], color="#c62828", linestyle=":", linewidth=1, label=f"max {ordered[-1]}")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no prepared data found for this run", ha="center", va="center", transform=ax.transAxes)
        ax.set(xticks=[], yticks=[])
    ax.set(title=f"Example lengths ({len(lengths)} examples)", xlabel="tokens per example", ylabel="examples")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


VARIANT_COLORS = {"base": "#9e9e9e", "sft": "#90caf9", "tuned": "#1f77b4"}


def metrics_figure(metrics: dict) -> Figure:
    """Every evaluated variant on one 0-100 axis, plus tuned minus base (and minus SFT) with the bootstrap 95% CI."""
    fig = _new_figure(12, 4.6)
    left, right = fig.subplots(1, 2)
    xs = list(range(len(PLOT_METRICS)))
    variants = list(metrics.get("variants") or ["base", "tuned"])
    width = 0.8 / len(variants)
    for index, variant in enumerate(variants):
        offset = (index - (len(variants) - 1) / 2) * width
        scores = metrics.get(variant) or {}
        values = [as_number(scores.get(key)) for key, _, _ in PLOT_METRICS]
        scaled = [None if v is None else v * s for v, (_, _, s) in zip(values, PLOT_METRICS, strict=True)]
        color = VARIANT_COLORS.get(variant)
        bars = left.bar([x + offset for x in xs], [v or 0.0 for v in scaled], width, label=variant, color=color)
        left.bar_label(bars, ["n/a" if v is None else f"{v:.1f}" for v in scaled], fontsize=8, padding=2)
    left.set(title=" vs ".join(variants) + "\n(held-out test split)", ylabel="score (0-100)", ylim=(0, 108))
    left.legend(loc="upper left", ncols=len(variants))
    deltas = [(key, other) for key, other in (("delta", "base"), ("delta_vs_sft", "sft")) if metrics.get(key)]
    bar_width = 0.55 / max(1, len(deltas))
    for index, (delta_key, other) in enumerate(deltas):
        offset = (index - (len(deltas) - 1) / 2) * bar_width
        for x, (key, _, scale) in zip(xs, PLOT_METRICS, strict=True):
            d, low, high = (
                as_number(((metrics.get(delta_key) or {}).get(key) or {}).get(k))
                for k in ("delta", "ci_low", "ci_high")
            )
            if d is None:
                continue
            has_ci = low is not None and high is not None
            color = "#2e7d32" if has_ci and low > 0 else "#c62828" if has_ci and high < 0 else "#9e9e9e"
            yerr = [[(d - low) * scale], [(high - d) * scale]] if has_ci else None
            bar = right.bar(x + offset, d * scale, bar_width, color=color, yerr=yerr, capsize=6, ecolor="black")
            labels = [f"− {other}" if len(deltas) > 1 else ""] if has_ci else ["no CI logged"]
            right.bar_label(bar, labels, fontsize=8, padding=2)
    right.axhline(0, color="black", linewidth=0.9)
    right.set(ylabel="difference (points, same scale as left)", xlim=(-0.6, len(xs) - 0.4))
    versus = " and − ".join(other for _, other in deltas) or "base"
    right.set_title(f"Tuned − {versus} with 95% CI\n(green: CI above 0 · red: CI below 0 · grey: CI spans 0)")
    for ax, empty, note in ((left, not metrics, "no metrics logged"), (right, not right.patches, "no deltas logged")):
        ax.set_xticks(xs, [label for _, label, _ in PLOT_METRICS])
        ax.grid(axis="y", alpha=0.3)
        if empty:
            ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes)
            ax.set_yticks([])
    fig.tight_layout()
    return fig
