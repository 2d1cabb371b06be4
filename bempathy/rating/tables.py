"""Render a :func:`bempathy.rating.stats.summarize` result: Markdown tables, CSV and a matplotlib figure.

Kept apart from the statistics so that importing them (e.g. from the rating app) does not import
matplotlib, which is loaded only when a plot is asked for. Rater ids are untrusted text: they are escaped
for Markdown table cells. The CSV holds no free text from raters, only variant and criterion names.

CSV columns (:func:`summary_csv`), one row per figure:

``subset``     ``all`` or ``excluding_flagged`` (the same figures without the flagged raters' ratings)
``section``    ``mean`` | ``win_rate`` | ``alpha`` | ``position_bias`` | ``bradley_terry``
``variant``    the variant (``win_rate``: the tuned variant, compared against ``versus``)
``versus``     ``win_rate``: the base variant; ``bradley_terry``: the reference (score 0); else empty
``criterion``  empathy/tone/helpfulness; ``preference`` for win-rate, position-bias and Bradley-Terry rows
``statistic``  ``mean``; ``win``/``tie``/``loss``/``both_bad`` (shares); ``interval``/``ordinal`` (alpha);
               ``a``/``b``/``p_value`` (position bias); ``log_strength`` (Bradley-Terry)
``value``, ``low``, ``high``  the figure and its 95% interval (empty where there is none)
``n``          ratings behind the figure (alpha: blank; Bradley-Terry: comparisons involving the variant)
"""

from __future__ import annotations

import csv
import io
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CSV_COLUMNS = ("subset", "section", "variant", "versus", "criterion", "statistic", "value", "low", "high", "n")
MAX_RATER_ROWS = 50
_OUTCOMES = (("win", "tuned preferred"), ("tie", "tie"), ("both_bad", "both bad"), ("loss", "base preferred"))
_COLORS = ("#9e9e9e", "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _fmt(value: Any, decimals: int = 2, percent: bool = False) -> str:
    number = _num(value)
    if number is None:
        return "—"
    return f"{number * 100:.{decimals}f}%" if percent else f"{number:.{decimals}f}"


def _escape(text: Any) -> str:
    """Safe inside a Markdown table cell: no HTML, no cell or row breaks."""
    text = str(text).replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _mean_cell(stat: dict | None) -> str:
    stat = stat or {}
    if _num(stat.get("mean")) is None:
        return "—"
    ci = f" [{_fmt(stat.get('low'))}, {_fmt(stat.get('high'))}]" if _num(stat.get("low")) is not None else ""
    return f"{_fmt(stat.get('mean'))}{ci} (n={stat.get('n', 0)})"


def _figures_md(figures: dict, variants: list[str], criteria: list[str], base: str, tuned: str) -> list[str]:
    means = figures.get("means") or {}
    lines = [
        f"Model ratings: {figures.get('n_ratings', 0)} from {figures.get('n_raters', 0)} raters "
        f"on {figures.get('n_items', 0)} items.",
        "",
        "| Criterion | " + " | ".join(_escape(v) for v in variants) + f" | {_escape(tuned)} − {_escape(base)} |",
        "|---" * (len(variants) + 2) + "|",
    ]
    for criterion in criteria:
        cells = [_mean_cell((means.get(v) or {}).get(criterion)) for v in variants]
        b, t = (_num(((means.get(v) or {}).get(criterion) or {}).get("mean")) for v in (base, tuned))
        delta = "—" if b is None or t is None else f"{t - b:+.2f}"
        lines.append(f"| {criterion} | " + " | ".join(cells) + f" | {delta} |")
    win = figures.get("win_rate") or {}
    intervals = win.get("intervals") or {}
    lines += ["", f"Preference, {_escape(tuned)} vs {_escape(base)} (n={win.get('n', 0)}):", ""]
    lines += ["| Outcome | Share | 95% CI (Wilson) |", "|---|---|---|"]
    for key, label in _OUTCOMES:
        ci = intervals.get(key) or {}
        has_ci = _num(ci.get("low")) is not None
        ci_text = f"{_fmt(ci.get('low'), 1, True)} – {_fmt(ci.get('high'), 1, True)}" if has_ci else ""
        lines.append(f"| {label} | {_fmt(win.get(key), 1, True)} | {ci_text} |")
    bias = figures.get("position_bias") or {}
    lines += [
        "",
        f"Position bias: side A chosen in {_fmt(bias.get('a'), 1, True)} of {bias.get('n', 0)} A/B decisions "
        f"(two-sided binomial p = {_fmt(bias.get('p_value'), 3)}).",
        "",
        "| Krippendorff's alpha | interval | ordinal |",
        "|---|---|---|",
    ]
    for criterion in criteria:
        interval, ordinal = ((figures.get(key) or {}).get(criterion) for key in ("alpha", "alpha_ordinal"))
        lines.append(f"| {criterion} | {_fmt(interval, 3)} | {_fmt(ordinal, 3)} |")
    return lines


def format_summary(summary: dict) -> str:
    """Markdown (also readable in a terminal): means, preferences, agreement, raters, Bradley-Terry."""
    variants = summary.get("variants") or []
    criteria = summary.get("criteria") or []
    base, tuned = summary.get("base", "base"), summary.get("tuned", "tuned")
    experiment = summary.get("experiment_id")
    lines = [f"## Human ratings{': experiment ' + _escape(experiment) if experiment else ''}", ""]
    lines += _figures_md(summary, variants, criteria, base, tuned)
    lines += ["", f"Gold ratings (quality checks, not in the figures above): {summary.get('n_gold_ratings', 0)}."]
    issues = summary.get("data_issues") or {}
    if issues:
        lines.append("Data issues: " + ", ".join(f"{k}: {v}" for k, v in sorted(issues.items())) + ".")
    flagged = summary.get("flagged_raters") or []
    if flagged:
        lines += ["", f"### Without the {len(flagged)} flagged raters", ""]
        lines += _figures_md(summary.get("excluding_flagged") or {}, variants, criteria, base, tuned)
    raters = summary.get("raters") or {}
    lines += ["", f"### Raters ({len(raters)}; {len(flagged)} flagged)", ""]
    lines += ["| Rater | Ratings | MAD vs others | Gold accuracy | Median s | Flags |", "|---|---|---|---|---|---|"]
    order = sorted(raters, key=lambda name: (not raters[name].get("flags"), name))
    for name in order[:MAX_RATER_ROWS]:
        info = raters[name]
        gold = f"{_fmt(info.get('gold_accuracy'), 0, True)} of {info.get('n_gold', 0)}" if info.get("n_gold") else "—"
        lines.append(
            f"| {_escape(name)} | {info.get('n', 0)} | {_fmt(info.get('agreement_with_others'))} | {gold} "
            f"| {_fmt(info.get('median_seconds'), 1)} | {', '.join(info.get('flags') or []) or '—'} |"
        )
    if len(order) > MAX_RATER_ROWS:
        lines.append(f"| … {len(order) - MAX_RATER_ROWS} more | | | | | |")
    lines.append("\nMAD vs others: mean absolute difference from the other raters' mean on the same answer (0 = same).")
    bt = summary.get("bradley_terry")
    if bt:
        lines += ["", f"### Bradley–Terry ({bt.get('n_comparisons', 0)} comparisons)", ""]
        lines += [f"| Rank | Variant | log-strength vs {_escape(bt.get('reference'))} | 95% CI (bootstrap) | Games |"]
        lines.append("|---|---|---|---|---|")
        for rank, row in enumerate(bt.get("ranking") or [], 1):
            ci = f"[{_fmt(row.get('low'))}, {_fmt(row.get('high'))}]"
            lines.append(
                f"| {rank} | {_escape(row['variant'])} | {_fmt(row.get('score'))} | {ci} | {row.get('comparisons')} |"
            )
    return "\n".join(lines) + "\n"


def _csv_rows(subset: str, figures: dict, summary: dict) -> list[dict]:
    base, tuned = summary.get("base", "base"), summary.get("tuned", "tuned")
    rows = []
    for variant, by_criterion in (figures.get("means") or {}).items():
        for criterion, stat in by_criterion.items():
            rows.append(
                {"section": "mean", "variant": variant, "criterion": criterion, "statistic": "mean"}
                | {"value": stat.get("mean"), "low": stat.get("low"), "high": stat.get("high"), "n": stat.get("n")}
            )
    win = figures.get("win_rate") or {}
    for key, _ in _OUTCOMES:
        ci = (win.get("intervals") or {}).get(key) or {}
        rows.append(
            {"section": "win_rate", "variant": tuned, "versus": base, "criterion": "preference", "statistic": key}
            | {"value": win.get(key), "low": ci.get("low"), "high": ci.get("high"), "n": win.get("n")}
        )
    for level, key in (("interval", "alpha"), ("ordinal", "alpha_ordinal")):
        for criterion, value in (figures.get(key) or {}).items():
            rows.append({"section": "alpha", "criterion": criterion, "statistic": level, "value": value})
    bias = figures.get("position_bias") or {}
    for key in ("a", "b", "p_value"):
        rows.append(
            {"section": "position_bias", "criterion": "preference", "statistic": key}
            | {"value": bias.get(key), "n": bias.get("n")}
        )
    return [{"subset": subset} | row for row in rows]


def summary_csv(summary: dict) -> str:
    """CSV, one row per figure; the columns are described in this module's docstring."""
    rows = _csv_rows("all", summary, summary)
    rows += _csv_rows("excluding_flagged", summary.get("excluding_flagged") or {}, summary)
    bt = summary.get("bradley_terry") or {}
    for row in bt.get("ranking") or []:
        rows.append(
            {"subset": "all", "section": "bradley_terry", "variant": row["variant"], "versus": bt.get("reference")}
            | {"criterion": "preference", "statistic": "log_strength", "value": row.get("score")}
            | {"low": row.get("low"), "high": row.get("high"), "n": row.get("comparisons")}
        )
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in CSV_COLUMNS})
    return out.getvalue()


def plot_summary(summary: dict) -> Figure:
    """Mean score per criterion and variant with 95% CIs, and the tuned-vs-base win/tie/loss bar.

    Returns a bare ``matplotlib.figure.Figure`` (no pyplot state); save it with ``fig.savefig(path)``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)  # so savefig works without pyplot picking a backend
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    criteria, variants = summary.get("criteria") or [], summary.get("variants") or []
    means = summary.get("means") or {}
    width = 0.8 / max(1, len(variants))
    for k, variant in enumerate(variants):
        xs, ys, err = [], [], [[], []]
        for x, criterion in enumerate(criteria):
            stat = (means.get(variant) or {}).get(criterion) or {}
            mean, low, high = (_num(stat.get(key)) for key in ("mean", "low", "high"))
            if mean is None:
                continue
            xs.append(x - 0.4 + width * (k + 0.5))
            ys.append(mean)
            err[0].append(0.0 if low is None else mean - low)
            err[1].append(0.0 if high is None else high - mean)
        if xs:
            color = _COLORS[k % len(_COLORS)]
            left.bar(xs, ys, width * 0.9, yerr=err, capsize=5, color=color, label=variant, ecolor="black")
    left.set_xticks(range(len(criteria)), criteria)
    left.set(title="Mean rating with 95% CI (Student t)", ylabel="score (1-5)", ylim=(0, 6.4), yticks=range(6))
    left.grid(axis="y", alpha=0.3)
    if left.patches:
        left.legend(loc="upper center", ncols=max(1, len(variants)), fontsize=8)
    else:
        left.text(0.5, 0.5, "no ratings", ha="center", va="center", transform=left.transAxes)
    win = summary.get("win_rate") or {}
    start = 0.0
    for (key, label), color in zip(_OUTCOMES, ("#2e7d32", "#bdbdbd", "#757575", "#c62828"), strict=True):
        share = _num(win.get(key))
        if share:
            right.barh([0], [share], 0.5, left=start, color=color, label=label)
            right.text(start + share / 2, 0, f"{share:.0%}", ha="center", va="center", fontsize=9)
            start += share
    base, tuned = summary.get("base", "base"), summary.get("tuned", "tuned")
    right.set(title=f"{tuned} vs {base} (n={win.get('n', 0)})", xlim=(0, 1), yticks=[], xlabel="share of ratings")
    if right.patches:
        right.legend(loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=4, fontsize=8)
    else:
        right.text(0.5, 0.5, "no preferences", ha="center", va="center", transform=right.transAxes)
    fig.tight_layout()
    return fig


__all__ = ["CSV_COLUMNS", "format_summary", "plot_summary", "summary_csv"]
