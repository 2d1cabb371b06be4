"""Tests for bempathy.eval.report: numbers in the tables, valid plots, escaping, missing data, Store round trip."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

from bempathy.eval.report import main, render_report, report_from_logs
from bempathy.storage.store import Store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROMPT = "আমার পরীক্ষার ফল খারাপ হয়েছে, খুব মন খারাপ লাগছে।"
REFERENCE = "আমি বুঝতে পারছি, এমন ফল পেলে কষ্ট লাগাই স্বাভাবিক। তুমি একা নও।"
HOSTILE = "ভালো থেকো <script>alert('x')</script> | next\nline"


def _scores(chrf: float, bleu: float, rouge_l: float, share: float, ppl: float) -> dict:
    return {
        "perplexity": ppl,
        "bleu": bleu,
        "chrf": chrf,
        "rouge1": rouge_l + 0.05,
        "rouge2": rouge_l / 2,
        "rougeL": rouge_l,
        "bengali_share": share,
        "mean_length": 42.5,
        "n": 120,
    }


def _group(n: int, base_chrf: float, tuned_chrf: float) -> dict:
    return {
        "n": n,
        "base": {"chrf": base_chrf, "rougeL": 0.1, "bengali_share": 0.7},
        "tuned": {"chrf": tuned_chrf, "rougeL": 0.2, "bengali_share": 0.95},
    }


def realistic_experiment() -> dict:
    """A completed QLoRA run as the fine-tuner and evaluator log it (19 topics, two sub-corpora)."""
    history = [{"step": s, "epoch": s / 40, "loss": 2.5 - 0.01 * s, "learning_rate": 2e-4} for s in range(5, 121, 5)]
    history += [{"step": s, "epoch": s / 40, "eval_loss": 2.3 - 0.003 * s} for s in (40, 80, 120)]
    topics = {f"বিষয়-{i}": _group(20 - i, 30.0 + i, 35.0 + i) for i in range(18)}
    topics["সম্পর্কের টানাপোড়েন"] = _group(50, 28.0, 40.0)  # largest, but last in code-point order
    return {
        "id": "exp-7f3a",
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        "strategy": "qlora",
        "quantization": "nf4",
        "lora_config": {"r": 16, "alpha": 32, "dropout": 0.05, "target_modules": ["q_proj", "v_proj"]},
        "data": {
            "source": {"path": "data/bengali_empathetic.csv", "sha256": "ab12cd34"},
            "splits": {"train": 3800, "val": 200, "test": 120},
            "dropped": {"empty": 3, "duplicate": 11},
            "token_lengths": {"min": 18, "median": 140, "p95": 410, "p99": 620, "max": 980},
            "training_length": 768,
        },
        "train_loss": 1.2345,
        "val_loss": 1.9401,
        "runtime_s": 5400.0,
        "peak_memory_mb": 14336.0,
        "hardware": {"device": "NVIDIA H100"},
        "status": "completed",
        "timestamp": "2025-05-01T10:00:00+00:00",
        "adapter_path": "outputs/exp-7f3a/adapter",
        "loss_history": history,
        "metrics": {
            "split": "test",
            "n_examples": 120,
            "decoding": {"max_new_tokens": 256, "do_sample": False, "batch_size": 8},
            "base": _scores(41.2, 8.1, 0.182, 0.71, 9.87),
            "tuned": _scores(47.85, 12.4, 0.251, 0.96, 6.54),
            "delta": {
                "chrf": {"base": 41.2, "tuned": 47.85, "delta": 6.65, "ci_low": 4.1, "ci_high": 9.2},
                "bleu": {"base": 8.1, "tuned": 12.4, "delta": 4.3, "ci_low": -0.5, "ci_high": 8.0},
                "rougeL": {"base": 0.182, "tuned": 0.251, "delta": 0.069, "ci_low": 0.04, "ci_high": 0.1},
                "bengali_share": {"base": 0.71, "tuned": 0.96, "delta": 0.25, "ci_low": 0.2, "ci_high": 0.3},
                "perplexity": {"base": 9.87, "tuned": 6.54, "delta": -3.33},
            },
            "by_topic": topics,
            "by_subcorpus": {"BanglaEmpathy": _group(80, 40.0, 46.0), "অনুবাদিত": _group(40, 43.0, 50.5)},
            "signatures": {"bleu": "nrefs:1|case:mixed|tok:intl", "chrf": "nrefs:1|nc:6|nw:2", "rouge": "rs"},
            "evaluated_at": "2025-05-01T11:00:00+00:00",
        },
    }


@pytest.fixture
def experiment() -> dict:
    return realistic_experiment()


def _responses(experiment_id: str, tuned_text: str = "তোমার কষ্টটা আমি বুঝতে পারছি।") -> list[dict]:
    records = []
    for i in range(4):
        prompt = f"{PROMPT} ({i})"
        for variant, text in (("base", "I am sorry to hear that."), ("tuned", tuned_text)):
            records.append(
                {
                    "experiment_id": experiment_id,
                    "variant": variant,
                    "input_text": prompt,
                    "response_text": f"{text} {i}",
                    "reference_text": REFERENCE,
                }
            )
    return records


def _assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 10_000, f"{path} is only {len(data)} bytes"


def test_render_report_tables_plots_and_command(experiment: dict, tmp_path: Path) -> None:
    out = tmp_path / "out"
    responses = _responses("exp-7f3a")
    orphan = {**responses[1], "input_text": "উত্তর শুধু একটির", "response_text": "ORPHAN"}  # no base twin
    # Base records in reverse order: pairing must follow input_text, not position.
    responses = [orphan] + [r for r in responses if r["variant"] == "tuned"] + responses[-2::-2]
    report = render_report(experiment, responses, out, str(tmp_path / "logs"))
    assert report == out / "report.md"
    text = report.read_text(encoding="utf-8")

    assert "| chrF++ (0-100) | 41.20 | 47.85 | +6.65 | [+4.10, +9.20] |" in text
    assert "| Bengali share | 71.0% | 96.0% | +25.0 pp | [+20.0, +30.0] |" in text
    assert "| Perplexity (lower is better) | 9.87 | 6.54 | -3.33 |  |" in text
    assert "lower is better" in text
    assert "nrefs:1\\|case:mixed\\|tok:intl" in text  # signature kept, pipes escaped inside its cell
    assert "| test | 120 |" in text and "| duplicate | 11 |" in text and "| p95 | 410 |" in text
    assert "![](plots/loss.png)" in text and "![](plots/metrics.png)" in text

    # Topics: the largest first, at most 15 shown, the rest counted.
    topic_rows = re.findall(r"^\| (সম্পর্কের টানাপোড়েন|বিষয়-\d+) \|", text, flags=re.MULTILINE)
    assert topic_rows == ["সম্পর্কের টানাপোড়েন"] + [f"বিষয়-{i}" for i in range(14)]
    assert "4 more topics omitted" in text
    assert "| অনুবাদিত | 40 | 43.0 | 50.5 |" in text

    # Three examples, base and tuned paired by their input.
    assert text.count("### Example") == 3
    assert f"| prompt | {PROMPT} (0) |" in text
    assert "| base | I am sorry to hear that. 0 |" in text and "| tuned | তোমার কষ্টটা আমি বুঝতে পারছি। 0 |" in text

    command = re.search(r"^python -m bempathy\.report .*$", text, flags=re.MULTILINE)
    assert command, "no Reproduce command"
    assert "--experiment exp-7f3a" in command.group(0)
    assert f"--logs-dir {(tmp_path / 'logs').resolve()}" in command.group(0)
    assert f"--output-dir {out.resolve()}" in command.group(0)

    _assert_png(out / "plots" / "loss.png")
    _assert_png(out / "plots" / "metrics.png")
    assert not [p.name for p in out.rglob("*.tmp")], "temp files left behind"


def test_model_text_is_escaped(experiment: dict, tmp_path: Path) -> None:
    long_text = HOSTILE + " শেষ" * 200
    report = render_report(experiment, _responses("exp-7f3a", tuned_text=long_text), tmp_path, None)
    text = report.read_text(encoding="utf-8")
    assert "<script>" not in text and "</script>" not in text
    assert "&lt;script&gt;" in text
    assert "\\| next<br>line" in text  # pipe escaped, newline kept inside the cell
    tuned_rows = [line for line in text.splitlines() if line.startswith("| tuned |")]
    assert len(tuned_rows) == 3
    # A cell splits on unescaped pipes only: the row keeps exactly its two columns.
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 3 for row in tuned_rows)
    assert all(len(row) < 450 and row.endswith("… |") for row in tuned_rows)  # long answers truncated


def test_missing_pieces_render_with_explanations(tmp_path: Path) -> None:
    bare = {"id": "exp-bare", "status": "failed", "metrics": None, "loss_history": None, "val_loss": None}
    text = render_report(bare, [], tmp_path, None).read_text(encoding="utf-8")
    assert "# Evaluation report exp-bare" in text
    assert "No base/tuned metrics logged" in text
    assert "No per-topic breakdown logged" in text
    assert "No paired base/tuned responses" in text
    assert "| validation loss | — |" in text
    _assert_png(tmp_path / "plots" / "loss.png")
    _assert_png(tmp_path / "plots" / "metrics.png")


def test_partial_metrics_without_ci_or_validation(experiment: dict, tmp_path: Path) -> None:
    partial = copy.deepcopy(experiment)
    partial["loss_history"] = [e for e in partial["loss_history"] if "loss" in e]
    partial["val_loss"] = None
    partial["metrics"]["delta"] = {}
    del partial["metrics"]["tuned"]["bleu"]
    text = render_report(partial, [], tmp_path, None).read_text(encoding="utf-8")
    assert "| chrF++ (0-100) | 41.20 | 47.85 | +6.65 |  |" in text  # delta recomputed, no CI invented
    assert "| BLEU (0-100) | 8.10 | — | — |  |" in text


def test_report_from_logs_end_to_end(experiment: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    logs = tmp_path / "logs"
    store = Store(logs)
    store.experiments.insert(experiment)
    store.experiments.insert({**experiment, "id": "other", "model_name": "other-model"})
    store.responses.insert_many(_responses("exp-7f3a") + _responses("other", tuned_text="অন্য উত্তর"))

    report = report_from_logs("exp-7f3a", tmp_path / "out", store)
    text = report.read_text(encoding="utf-8")
    assert "| chrF++ (0-100) | 41.20 | 47.85 | +6.65 | [+4.10, +9.20] |" in text
    assert "তোমার কষ্টটা আমি বুঝতে পারছি। 0" in text and "অন্য উত্তর" not in text
    assert f"--logs-dir {logs.resolve()}" in text

    assert main(["--experiment", "exp-7f3a", "--logs-dir", str(logs), "--output-dir", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "report.md").read_text(encoding="utf-8") != ""
    capsys.readouterr()

    assert main(["--experiment", "nope", "--logs-dir", str(logs), "--output-dir", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no experiment nope" in err
    assert not (tmp_path / "x" / "report.md").exists()
    with pytest.raises(ValueError, match="no experiment nope"):
        report_from_logs("nope", tmp_path / "x", store)


def test_data_section_shows_where_the_tokens_go() -> None:
    from bempathy.eval.report import data_section

    part = {"tokens": 10_000, "prompt_tokens": 3_000, "answer_tokens": 5_000, "prompt_share": 0.3, "answer_share": 0.5}
    budget = {"system_prompt_tokens": 117, "train": part, "all": {**part, "tokens": 12_000, "prompt_share": 0.25}}
    text = "\n".join(data_section({"token_budget": budget}))
    assert "System prompt: 117 tokens in every example." in text
    assert "| train | 10,000 | 3,000 (30.0%) | 5,000 (50.0%) |" in text
    assert "| all | 12,000 | 3,000 (25.0%) | 5,000 (50.0%) |" in text
    unknown = {"system_prompt_tokens": None, "all": {**part, "prompt_tokens": None, "prompt_share": None}}
    assert "| all | 10,000 | — | 5,000 (50.0%) |" in "\n".join(data_section({"token_budget": unknown}))
    assert "system prompt" not in "\n".join(data_section({}))  # runs from before it was recorded
