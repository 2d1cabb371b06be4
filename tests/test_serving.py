"""Which model the app serves, and the chat/compare service around it (fast: a fake model, no weights)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bempathy.model.streaming import RowStats, Snapshot
from bempathy.runs import ModelLoadError
from bempathy.safety.policy import SafetyPolicy
from bempathy.serve.conversation import ConversationService
from bempathy.serve.plan import plan_model
from bempathy.serve.requests import InputError, flatten_history, sampling_settings
from bempathy.storage.store import Store


def _run_folder(root: Path, name: str, experiment_id: str, base: str = "tiny") -> Path:
    run = root / name
    (run / "adapter").mkdir(parents=True)
    (run / "adapter" / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    (run / "experiment.json").write_text(json.dumps({"experiment_id": experiment_id}))
    return run


def test_model_resolution_order(tmp_path):
    store = Store(tmp_path / "logs")
    assert plan_model(crowd=True, store=store).base is None
    demo = plan_model(store=store)
    assert demo.source == "demo" and demo.base == "tiny" and "python demo.py" in demo.notice
    older, newer = _run_folder(tmp_path, "old", "e-old"), _run_folder(tmp_path, "new", "e-new")
    for run, finished in ((older, "2026-01-01T00:00:00+00:00"), (newer, "2026-02-01T00:00:00+00:00")):
        store.experiments.insert(
            {
                "id": json.loads((run / "experiment.json").read_text())["experiment_id"],
                "status": "completed",
                "adapter_path": str(run / "adapter"),
                "finished_at": finished,
            }
        )
    store.experiments.insert({"id": "e-running", "status": "running", "adapter_path": str(older / "adapter")})
    latest = plan_model(store=store)
    assert latest.source == "latest" and latest.adapters == {"tuned": newer / "adapter"}
    assert latest.experiment_ids == {"tuned": "e-new"} and latest.labels["tuned"] == "tuned (e-new)"
    explicit = plan_model(run=str(older), store=store)
    assert explicit.source == "run" and explicit.experiment_ids == {"tuned": "e-old"}
    several = plan_model(base="tiny", adapters=[str(newer), str(older / "adapter")], store=store)
    assert list(several.adapters) == ["tuned", "e-old"]  # the first answers as tuned, others by experiment id
    with pytest.raises(ModelLoadError, match="has no adapter"):
        plan_model(run=str(tmp_path / "nothing"), store=store)
    with pytest.raises(ModelLoadError, match=r"no adapter_config\.json"):
        plan_model(adapters=[str(tmp_path)], store=store)


class FakeChat:
    """Stands in for ChatModel: fixed answers, records what it was asked."""

    demo = False

    def __init__(self, answer: str = "আপনার কষ্টটা বুঝতে পারছি। একটু বিশ্রাম নিন, কারও সঙ্গে কথা বলুন।") -> None:
        self.variants = ["tuned", "base"]
        self.answer = answer
        self.calls: list[tuple] = []

    def stream_many(self, conversations, variants, settings=None, seed=None, stop=None):
        self.calls.append((conversations, list(variants), seed))
        n = len(conversations)
        yield Snapshot([self.answer[:5]] * n, [False] * n, [RowStats(2, 0.01, None) for _ in range(n)])
        yield Snapshot([self.answer] * n, [True] * n, [RowStats(10, 0.01, 0.5) for _ in range(n)])

    def stream(self, conversation, variant="tuned", settings=None, seed=None, stop=None):
        for snapshot in self.stream_many([conversation], [variant], settings, seed, stop):
            yield snapshot.texts[0]


def test_gradio_history_is_flattened_to_text_turns():
    history = [
        {"role": "user", "metadata": None, "content": [{"type": "text", "text": "আমি ক্লান্ত"}], "options": None},
        {"role": "assistant", "content": [{"type": "text", "text": "বুঝতে পারছি"}, {"type": "text", "text": "।"}]},
        {"role": "system", "content": "ignored"},
        {"role": "user", "content": "  "},
    ]
    assert flatten_history(history) == [
        {"role": "user", "content": "আমি ক্লান্ত"},
        {"role": "assistant", "content": "বুঝতে পারছি\n।"},
    ]


def test_input_checks_and_decoding_ranges():
    service = ConversationService(FakeChat(), SafetyPolicy(), max_input_chars=10)
    with pytest.raises(InputError, match="too long"):
        list(service.chat_turn("অ" * 11))
    with pytest.raises(InputError, match="empty"):
        list(service.chat_turn(" \n "))
    with pytest.raises(InputError, match="unknown variant"):
        list(service.chat_turn("হ্যালো", variant="other"))
    for bad in ({"temperature": -1}, {"top_p": 0}, {"max_new_tokens": 0}, {"max_new_tokens": 5000}):
        with pytest.raises(InputError):
            sampling_settings(**bad)
    assert not sampling_settings(temperature=0).do_sample and sampling_settings(temperature=0.5).do_sample


def test_chats_are_logged_only_when_opted_in_and_compare_is_one_call(tmp_path):
    store = Store(tmp_path / "logs")
    chat = FakeChat()
    service = ConversationService(chat, SafetyPolicy(), store, experiment_ids={"tuned": "e1"})
    *_, reply = service.chat_turn("আজ মনটা ভালো নেই।", [{"role": "user", "content": "হ্যালো"}], "tuned")
    assert reply == chat.answer and store.responses.all() == []
    system, *turns = chat.calls[-1][0][0]
    assert system["role"] == "system" and [t["content"] for t in turns] == ["হ্যালো", "আজ মনটা ভালো নেই।"]
    list(service.chat_turn("আজ মনটা ভালো নেই।", log=True))
    [logged] = store.responses.all()
    assert logged["kind"] == "chat" and logged["experiment_id"] == "e1" and logged["evaluation_id"] is None
    columns = list(service.compare("পরীক্ষা নিয়ে ভয় লাগছে।", seed=3))
    assert chat.calls[-1][1:] == (["base", "tuned"], 3)  # both columns in one call, base on the left
    left, right = columns[-1]
    assert left.done and right.done and "tokens/s" in right.stats_line() and left.tokens_per_s == 20.0


def test_history_is_trimmed_oldest_first_and_an_oversized_system_prompt_refused():
    chat = FakeChat()
    service = ConversationService(chat, SafetyPolicy(), max_input_chars=100)  # history budget: 600 characters
    history = []
    for i in range(10):
        history += [{"role": "user", "content": f"{i}" * 90}, {"role": "assistant", "content": f"{i}" * 90}]
    list(service.chat_turn("নতুন প্রশ্ন", history))
    sent = chat.calls[-1][0][0]
    assert sent[0]["role"] == "system" and sent[-1]["content"] == "নতুন প্রশ্ন"
    kept = sent[1:-1]
    assert kept and sum(len(t["content"]) for t in kept) <= 600 and kept[0]["role"] == "user"
    assert kept[-1]["content"] == "9" * 90  # the most recent turns survive
    with pytest.raises(InputError, match="system prompt is too long"):
        list(service.chat_turn("হ্যালো", system_prompt="অ" * 5000))


def test_public_human_scores_hide_rater_ids_and_rate_limits_key_on_the_client_address():
    from types import SimpleNamespace

    from bempathy.ui.rate import client_key
    from bempathy.ui.reports import _public

    label_of = {"hf:someone": "rater-0123456789"}.get  # the keyed label (bempathy.rating.identity) in the app
    summary = _public({"raters": {"hf:someone": {"n": 3}}, "flagged_raters": ["hf:someone"], "n_ratings": 3}, label_of)
    [label] = summary["raters"]
    assert label.startswith("rater-") and "someone" not in json.dumps(summary)
    assert summary["flagged_raters"] == [label]
    proxy = SimpleNamespace(host="10.0.0.1")
    behind_proxy = SimpleNamespace(headers={"x-forwarded-for": "6.6.6.6, 203.0.113.7"}, client=proxy)
    direct = SimpleNamespace(headers={}, client=SimpleNamespace(host="198.51.100.2"), session_hash="abc")
    assert client_key(behind_proxy, trusted_proxies=1) == "203.0.113.7"  # never the spoofable leftmost hop
    assert client_key(behind_proxy) == "10.0.0.1" and client_key(direct) == "198.51.100.2"


def test_cpu_threads_default_to_one_for_the_tiny_demo_models_and_a_bad_value_is_refused():
    import subprocess
    import sys
    from types import SimpleNamespace

    from bempathy.serve.plan import serving_threads

    assert serving_threads(None, SimpleNamespace(demo=True)) == 1
    assert serving_threads(None, SimpleNamespace(demo=False)) == 0  # torch's default
    assert serving_threads(3, SimpleNamespace(demo=True)) == 3
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "app.py", "--cpu-threads", "-1"], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "--cpu-threads must be 0" in done.stderr
