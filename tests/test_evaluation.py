"""Evaluator: answer-only token-weighted perplexity, batched generation, Bengali scores, the demo end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

from bempathy.data.subsets import select_examples
from bempathy.eval.evaluator import Evaluator
from bempathy.model.chat import ChatModel, DecodingSettings
from bempathy.prompts import chat_messages
from bempathy.storage.store import Store
from tests.conftest import ROOT

QUICK = ["--num_train_epochs", "1", "--eval_max_examples", "8"]
PROMPTS = [
    "আমার খুব একা লাগে।",
    "পরীক্ষার আগে ঘুম আসে না, বুক ধড়ফড় করে। কী করব বুঝতে পারছি না।",
    "চাকরি চলে গেছে।",
    "বাবা-মায়ের সঙ্গে প্রতিদিন ঝগড়া হয়, বাড়িতে থাকতে ইচ্ছে করে না। আমি কি খুব খারাপ সন্তান?",
    "আজ অনেক ভালো খবর পেয়েছি!",
]


class KnownProbabilityModel(torch.nn.Module):
    """Puts a chosen probability on the true next token at each position (it peeks at the sequence).

    Answer tokens of sequence k get probability ``answer_p[k]``, every other token 0.01, so the value the
    evaluator must report is known in closed form, and counting prompt tokens would change it drastically.
    """

    def __init__(self, vocab: int, answer_positions: dict[tuple[int, ...], tuple[set[int], float]]) -> None:
        super().__init__()
        self.vocab = vocab
        self.answer_positions = answer_positions
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return self.anchor.device

    def forward(self, input_ids, attention_mask, **kwargs):
        batch, width = input_ids.shape
        logits = torch.zeros(batch, width, self.vocab)
        for row in range(batch):
            length = int(attention_mask[row].sum())
            answers, answer_p = self.answer_positions[tuple(input_ids[row, :length].tolist())]
            for t in range(length - 1):
                p = answer_p if t + 1 in answers else 0.01
                logits[row, t, input_ids[row, t + 1]] = math.log(p * (self.vocab - 1) / (1 - p))
        return type("Output", (), {"logits": logits})()


def test_perplexity_is_answer_only_and_token_weighted(tiny_tokenizer):
    conversations = [
        chat_messages("আমি খুব ক্লান্ত।", "বুঝতে পারছি, একটু বিশ্রাম নিন।"),
        chat_messages("পরীক্ষা খারাপ হয়েছে।", "মন খারাপ হওয়াটা স্বাভাবিক। পরের বার আমরা একসঙ্গে পরিকল্পনা করতে পারি।"),
    ]
    answer_p = [0.5, 0.25]
    positions, counts = {}, []
    for conversation, p in zip(conversations, answer_p, strict=True):
        before = tiny_tokenizer.apply_chat_template(conversation[:-1], add_generation_prompt=True, return_dict=False)
        full = tiny_tokenizer.apply_chat_template(conversation, return_dict=False)
        positions[tuple(full)] = (set(range(len(before), len(full))), p)
        counts.append(len(full) - len(before))  # answer tokens + <|eot_id|>
    model = KnownProbabilityModel(len(tiny_tokenizer), positions)
    evaluator = Evaluator(ChatModel(model, tiny_tokenizer, has_adapter=False), batch_size=2)
    result = evaluator.perplexity(conversations, "base")
    expected = math.exp((counts[0] * math.log(2) + counts[1] * math.log(4)) / sum(counts))
    assert result["tokens"] == sum(counts)
    assert result["perplexity"] == pytest.approx(expected, rel=1e-5)
    assert result["perplexity"] != pytest.approx((2 + 4) / 2, rel=1e-3)  # not a mean of per-example values
    # Batch size does not change it (padding is masked).
    single = Evaluator(ChatModel(model, tiny_tokenizer, has_adapter=False), batch_size=1).perplexity(
        conversations, "base"
    )
    assert single["perplexity"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.slow
def test_batched_generation_equals_one_by_one_greedy(tiny_dir):
    chat = ChatModel.load(str(tiny_dir))
    conversations = [chat_messages(p)[:2] for p in PROMPTS]
    settings = DecodingSettings(max_new_tokens=24)
    batched = chat.generate(conversations, "base", settings, batch_size=len(conversations))
    one_by_one = [chat.generate([c], "base", settings, batch_size=1)[0] for c in conversations]
    assert [g.text for g in batched] == [g.text for g in one_by_one]
    assert all(g.new_tokens > 0 for g in batched)
    # Only new tokens are decoded: no answer contains the prompt.
    assert all(p not in g.text for p, g in zip(PROMPTS, batched, strict=True))


def test_evaluator_scores_bengali_text_honestly():
    identical = Evaluator.score_texts(["আমি তোমার কষ্ট বুঝতে পারছি।"], ["আমি তোমার কষ্ট বুঝতে পারছি।"])
    assert identical["bleu"] == pytest.approx(100) and identical["chrf"] == pytest.approx(100)
    assert identical["rougeL"] == pytest.approx(1.0) and identical["bengali_share"] == pytest.approx(1.0)
    unrelated = Evaluator.score_texts(["আকাশে মেঘ জমেছে"], ["পরীক্ষার ফল ভালো হয়েছে"])
    assert unrelated["bleu"] < 5 and unrelated["rougeL"] == 0
    partial = Evaluator.score_texts(["আমি তোমার কষ্ট বুঝি"], ["আমি তোমার কষ্ট বুঝতে পারছি।"])
    assert 0 < partial["rougeL"] < 1 and 0 < partial["chrf"] < 100
    assert "tok:intl" in identical["signatures"]["bleu"]


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline_and_the_report_rebuilds_from_logs(tmp_path):
    out, logs = tmp_path / "demo", tmp_path / "logs"
    done = subprocess.run(
        [sys.executable, "demo.py", "--no-app", "--output-dir", str(out), "--logs-dir", str(logs), *QUICK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Held-out test split, 8 examples" in done.stdout and "Demo finished" in done.stdout
    store = Store(logs)
    [experiment] = store.experiments.all()
    metrics = experiment["metrics"]
    assert experiment["status"] == "completed"
    for variant in ("base", "tuned"):
        assert set(metrics[variant]) >= {"perplexity", "bleu", "chrf", "rouge1", "rouge2", "rougeL", "bengali_share"}
    assert (
        metrics["delta"]["chrf"]["ci_low"] <= metrics["delta"]["chrf"]["delta"] <= metrics["delta"]["chrf"]["ci_high"]
    )
    assert metrics["by_topic"] and metrics["by_subcorpus"]
    responses = store.responses.find(experiment_id=experiment["id"])
    assert sorted(r["variant"] for r in responses) == ["base"] * 8 + ["tuned"] * 8
    test_rows = {row["id"]: row for row in map(json.loads, (out / "data" / "test.jsonl").open())}
    scored = metrics["example_ids"]
    assert len(set(scored)) == 8 and set(scored) <= set(test_rows)
    assert {r["example_id"] for r in responses} == set(scored)
    for response in responses:
        assert response["reference_text"] == test_rows[response["example_id"]]["messages"][-1]["content"]
    assert (out / "plots" / "loss.png").stat().st_size > 10_000 and (out / "plots" / "metrics.png").exists()

    # Every figure in the report comes back from the logs alone, by the command the report names.
    report = (out / "report.md").read_text(encoding="utf-8")
    command = next(line for line in report.splitlines() if "python -m bempathy.report" in line).strip("` ")
    rebuilt = tmp_path / "rebuilt"
    args = command.split()[3:]
    args[args.index("--output-dir") + 1] = str(rebuilt)
    again = subprocess.run([sys.executable, "-m", "bempathy.report", *args], cwd=ROOT, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr

    def without_command(text: str) -> list[str]:
        return [line for line in text.splitlines() if "python -m bempathy.report" not in line]

    assert without_command((rebuilt / "report.md").read_text(encoding="utf-8")) == without_command(report)
    assert (rebuilt / "plots" / "metrics.png").exists() and (rebuilt / "plots" / "loss.png").exists()


def test_demo_help_explains_itself():
    done = subprocess.run([sys.executable, "demo.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "--no-app" in done.stdout and "train.py" in done.stdout


@pytest.mark.slow
def test_evaluate_on_an_empty_dir_prepares_and_trains_first(tmp_path):
    out, logs = tmp_path / "run", tmp_path / "logs"
    quick = ["--max_steps", "2", "--eval_strategy", "no", "--save_strategy", "no", "--eval_max_examples", "2"]
    command = [sys.executable, "train.py", "--config", "configs/tiny-cpu.yaml", "--stage", "evaluate"]
    done = subprocess.run(
        [*command, "--output-dir", str(out), "--logs_dir", str(logs), *quick],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "data" / "test.jsonl").exists() and (out / "adapter" / "adapter_config.json").exists()
    assert (out / "report.md").exists()
    [experiment] = Store(logs).experiments.all()
    assert experiment["status"] == "completed" and experiment["metrics"]["n_examples"] == 2


def test_a_bad_source_stops_evaluate_before_writing_anything(tmp_path):
    paths = ["--data", str(tmp_path / "missing.csv"), "--output-dir", str(tmp_path / "run")]
    done = subprocess.run(
        [sys.executable, "train.py", "--config", "configs/tiny-cpu.yaml", "--stage", "evaluate", *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "missing.csv: no such file" in done.stderr
    assert not (tmp_path / "run").exists()


def test_limited_evaluation_samples_every_sub_corpus():
    rows = [{"id": f"c{i}", "subcorpus": "counselling"} for i in range(300)]
    rows += [{"id": f"d{i}", "subcorpus": "dialogue"} for i in range(100)]
    chosen = select_examples(rows, 40, seed=13)
    assert len(chosen) == 40 and sum(r["subcorpus"] == "dialogue" for r in chosen) == 10
    assert chosen == select_examples(rows, 40, seed=13) and chosen != select_examples(rows, 40, seed=14)
    assert select_examples(rows, None, seed=13) == rows


def test_report_shows_the_answers_of_the_evaluation_behind_its_metrics(tmp_path):
    from bempathy.eval.report import report_from_logs

    store = Store(tmp_path / "logs")
    experiment_id = store.experiments.insert({"model_name": "tiny", "metrics": {"evaluation_id": "second"}})
    for evaluation_id, text in (("first", "পুরোনো উত্তর"), ("second", "নতুন উত্তর")):
        store.responses.insert_many(
            [
                {
                    "experiment_id": experiment_id,
                    "evaluation_id": evaluation_id,
                    "example_id": "row-1",
                    "variant": variant,
                    "input_text": "আমি একা।",
                    "response_text": f"{text} ({variant})",
                    "reference_text": "আমি শুনছি।",
                }
                for variant in ("base", "tuned")
            ]
        )
    report = report_from_logs(experiment_id, tmp_path / "out", store).read_text(encoding="utf-8")
    assert "নতুন উত্তর (base)" in report and "নতুন উত্তর (tuned)" in report
    assert "পুরোনো উত্তর" not in report


def test_streaming_stops_and_releases_the_model_only_when_generation_has_ended(tiny_dir):
    chat = ChatModel.load(str(tiny_dir))
    stream = chat.stream(chat_messages(PROMPTS[0])[:2], "base", DecodingSettings(max_new_tokens=400))
    partial = [next(stream), next(stream)]
    assert len(partial[1]) >= len(partial[0])
    assert not chat.lock.acquire(blocking=False)  # the model thread is generating and holds the model
    stream.close()  # the consumer goes away mid-answer
    assert chat.lock.acquire(blocking=False)  # generation was stopped and waited for
    chat.lock.release()
    full = list(chat.stream(chat_messages(PROMPTS[0])[:2], "base", DecodingSettings(max_new_tokens=8)))
    assert (
        full
        and full[-1]
        == chat.generate([chat_messages(PROMPTS[0])[:2]], "base", DecodingSettings(max_new_tokens=8))[0].text
    )
