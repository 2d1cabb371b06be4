"""A run folder is the one source of truth for a run: what it was trained with is what it is served and rated with.

The end-to-end test trains the tiny model with its own ``--system_prompt`` and checks every reader: the app's
Chat and Compare (the conversation the model is given), the chat tab's system-prompt box, the rating items and
their preference export. Before the run folder's saved config was read back, all of them used the default prompt.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bempathy.prompts import SYSTEM_PROMPT, system_prompt_or_default
from bempathy.rating.items import shown_order
from bempathy.rating.service import RatingService
from bempathy.runs import RunFolder, system_prompt_of
from bempathy.storage.store import Store
from tests.conftest import ROOT, TINY_PRESET, RunningApp

CUSTOM_PROMPT = "তুমি একজন ধৈর্যশীল বন্ধু। Answer in two short Bengali sentences."
PROMPT = "আমার খুব একা লাগে, কী করব?"


def test_layout_paths_come_from_one_place(tmp_path):
    run = RunFolder(tmp_path)
    assert run.split_path("test") == tmp_path / "data" / "test.jsonl"
    assert run.config_path == tmp_path / "adapter" / "bempathy_config.json"
    assert not run.has_prepared_data() and run.experiment_id() is None and run.system_prompt() == SYSTEM_PROMPT
    run.write_experiment_id("exp-1")
    assert RunFolder(str(tmp_path)).experiment_id() == "exp-1"  # a str path works too


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"data": {"system_prompt": CUSTOM_PROMPT}}, CUSTOM_PROMPT),
        ({"data": {"system_prompt": None}}, SYSTEM_PROMPT),
        ({"data": {"system_prompt": "   "}}, SYSTEM_PROMPT),
        ({}, SYSTEM_PROMPT),
        (None, SYSTEM_PROMPT),
    ],
)
def test_saved_configs_resolve_the_prompt_as_the_data_writer_does(config, expected):
    assert system_prompt_of(config) == expected
    assert system_prompt_or_default(((config or {}).get("data") or {}).get("system_prompt")) == expected


@pytest.fixture(scope="module")
def custom_run(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("custom-prompt-run")
    out, logs = root / "run", root / "logs"
    command = [sys.executable, "train.py", "--config", str(TINY_PRESET), "--stage", "all"]
    command += ["--output-dir", str(out), "--logs_dir", str(logs), "--system_prompt", CUSTOM_PROMPT]
    command += ["--max_steps", "2", "--eval_strategy", "no", "--save_strategy", "no"]
    command += ["--eval_max_examples", "2", "--bootstrap_resamples", "20", "--max_new_tokens", "8"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, logs


@pytest.mark.slow
def test_a_run_trained_with_its_own_system_prompt_is_served_and_rated_with_it(custom_run):
    out, logs = custom_run
    run = RunFolder(out)
    assert run.system_prompt() == CUSTOM_PROMPT
    trained_on = json.loads(run.split_path("train").read_text(encoding="utf-8").splitlines()[0])["messages"][0]
    assert trained_on == {"role": "system", "content": CUSTOM_PROMPT}

    app = RunningApp(["--run", str(out), "--logs-dir", str(logs)])
    try:
        seen: list[list[dict]] = []
        chat = app.ctx.chat
        stream, stream_many = chat.stream, chat.stream_many

        def recording_stream(conversation, *args, **kwargs):
            seen.append(conversation)
            return stream(conversation, *args, **kwargs)

        def recording_stream_many(conversations, *args, **kwargs):
            seen.extend(conversations)
            return stream_many(conversations, *args, **kwargs)

        chat.stream, chat.stream_many = recording_stream, recording_stream_many
        client = app.client()
        client.predict(PROMPT, api_name="/chat")
        client.predict(PROMPT, api_name="/compare")
        assert len(seen) >= 3  # one chat conversation, two Compare rows (chat may pass through stream_many too)
        assert all(c[0] == {"role": "system", "content": CUSTOM_PROMPT} for c in seen)
        boxes = [b for b in app.demo.blocks.values() if getattr(b, "elem_id", None) == "chat-system-prompt"]
        assert [box.value for box in boxes] == [CUSTOM_PROMPT]
    finally:
        app.close()

    store = Store(logs, ratings_fold_interval=None)
    rating = RatingService(store)
    try:
        item = rating.items[rating.next_item("r1")["item_id"]]  # a rating needs the slot /next_item leases
        assert item.system_prompt == CUSTOM_PROMPT
        letter = "A" if shown_order(rating.seed, item, "r1")[0] == "tuned" else "B"
        assert rating.rate("r1", item.item_id, (4, 4, 4), (2, 2, 2), letter)["ok"]
        export = out / "preferences.jsonl"
        assert len(rating.export_preferences(export).rows) == 1
        (row,) = [json.loads(line) for line in export.read_text(encoding="utf-8").splitlines()]
        assert row["prompt"][0] == {"role": "system", "content": CUSTOM_PROMPT}
    finally:
        rating.close()
