"""Generation from an OpenAI-compatible server: the protocol, the variant mapping, failures and timeouts per column,
the safety layer unchanged, the app on top; and, when a real server is named, its answers against the local model."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest

from bempathy.model.chat import DecodingSettings
from bempathy.safety.policy import SafetyPolicy
from bempathy.serve.conversation import ConversationService
from bempathy.serve.openai_backend import BackendError, OpenAIBackend, normalise_endpoint, parse_served_names
from bempathy.serve.requests import sampling_settings
from tests.conftest import RunningApp
from tests.openai_fake import FakeServer

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "আজ মনটা খুব খারাপ।"
CONVERSATION = [{"role": "system", "content": "s"}, {"role": "user", "content": PROMPT}]
GREEDY = DecodingSettings(max_new_tokens=8)


def _crisis_message() -> str:
    lines = (ROOT / "tests" / "data" / "safety_set.jsonl").read_text(encoding="utf-8").splitlines()
    return next(json.loads(line)["text"] for line in lines if line.strip() and json.loads(line)["crisis"])


@pytest.fixture
def server():
    fake = FakeServer(["base", "tuned", "broken", "slow", "stall"], slow_s=3.0)
    yield fake
    fake.close()


def _backend(server: FakeServer, names: dict[str, str] | None = None, **kwargs) -> OpenAIBackend:
    return OpenAIBackend(server.url, names or {"base": "base", "tuned": "tuned"}, **kwargs)


# -- mapping and start-up checks
def test_endpoints_are_normalised_to_the_v1_root():
    for url in ("http://h:8000", "http://h:8000/", "http://h:8000/v1", "http://h:8000/v1/"):
        assert normalise_endpoint(url) == "http://h:8000/v1"
    with pytest.raises(BackendError, match="http"):
        normalise_endpoint("h:8000")


def test_served_names_default_to_the_variant_names_and_can_be_mapped():
    assert parse_served_names(None, ["tuned", "base"]) == {"tuned": "tuned", "base": "base"}
    assert parse_served_names("base=meta-llama/Llama-3.1-8B-Instruct", ["tuned", "base"])["base"].startswith("meta")
    with pytest.raises(BackendError, match="unknown variant 'sft'"):
        parse_served_names("sft=x", ["tuned", "base"])
    with pytest.raises(BackendError, match="VARIANT=NAME"):
        parse_served_names("tuned", ["tuned", "base"])


def test_a_variant_the_server_does_not_serve_is_one_line_each(server):
    backend = _backend(server, {"base": "base", "tuned": "tuned", "sft": "sft-run", "extra": "nope"})
    with pytest.raises(BackendError) as error:
        backend.check_served()
    lines = str(error.value).splitlines()
    assert len(lines) == 2 and "'sft'" in lines[0] and "'sft-run'" in lines[0] and "'extra'" in lines[1]
    _backend(server).check_served()  # the served ones pass
    assert _backend(server).variants == ["tuned", "base"]  # adapters first, as the local model lists them


def test_an_unreachable_server_is_one_clear_line():
    backend = OpenAIBackend("http://127.0.0.1:9", {"base": "base"}, timeout_s=2)
    with pytest.raises(BackendError, match=r"cannot list the models of http://127.0.0.1:9/v1") as error:
        backend.check_served()
    assert "\n" not in str(error.value)


def test_a_server_that_serves_another_run_under_the_same_names_is_refused(tmp_path):
    other = FakeServer(["base", "tuned"], roots={"base": "/models/base", "tuned": str(tmp_path / "other/adapter")})
    try:
        expected = {"base": "/models/base", "tuned": str(tmp_path / "run" / ".." / "run" / "adapter")}
        backend = OpenAIBackend(other.url, {"base": "base", "tuned": "tuned"}, expected_roots=expected)
        with pytest.raises(BackendError) as error:
            backend.check_served()
        assert str(error.value).count("\n") == 0 and "variant 'tuned': the server's 'tuned' is" in str(error.value)
        expected["tuned"] = str(tmp_path / "other" / "adapter")
        OpenAIBackend(other.url, {"base": "base", "tuned": "tuned"}, expected_roots=expected).check_served()
    finally:
        other.close()


def test_an_http_error_is_one_line_with_the_servers_words(server):
    backend = OpenAIBackend(f"{server.url}/wrong", {"base": "base"})
    with pytest.raises(BackendError) as error:
        backend.check_served()
    assert "\n" not in str(error.value) and "404" in str(error.value) and "not found" in str(error.value)
    with pytest.raises(BackendError, match=r"500.*internal error") as error:
        _backend(server, {"base": "broken"}).complete(CONVERSATION, "base", GREEDY)
    assert "\n" not in str(error.value)


# -- requests
def test_decoding_and_seed_travel_with_every_request(server):
    backend = _backend(server, api_key="k3y")
    backend.generate([CONVERSATION, CONVERSATION], ["base", "tuned"], GREEDY, seed=7)
    backend.complete(CONVERSATION, "tuned", sampling_settings(0.7, 0.9, 16), seed=3)
    greedy, sampled = server.requests[0], server.requests[-1]
    assert greedy["temperature"] == 0.0 and greedy["top_p"] == 1.0 and greedy["max_tokens"] == 8
    assert greedy["seed"] == 7 and greedy["messages"] == CONVERSATION and greedy["stream"] is False
    assert sampled["temperature"] == 0.7 and sampled["top_p"] == 0.9 and sampled["seed"] == 3
    assert {r["model"] for r in server.requests[:2]} == {"base", "tuned"}
    assert greedy["authorization"] == "Bearer k3y"


def test_generate_keeps_the_order_and_sends_a_batch_at_once(server):
    server.word_delay_s = 0.05  # unary answers are written at once; the streamed ones below overlap visibly
    backend = _backend(server)
    answers = backend.generate([CONVERSATION] * 6, ["base", "tuned"] * 3, GREEDY, batch_size=6)
    assert [a.text.split()[0] for a in answers] == ["base", "tuned"] * 3
    assert all(a.new_tokens == 3 for a in answers)
    server.max_in_flight = 0
    list(backend.stream_many([CONVERSATION] * 4, ["base", "tuned"] * 2, GREEDY))
    assert server.max_in_flight >= 2  # the rows were in flight together, not one after another


def test_a_failed_column_shows_its_error_and_the_other_column_finishes(server):
    backend = _backend(server, {"base": "base", "tuned": "broken"})
    snapshots = list(backend.stream_many([CONVERSATION] * 2, ["base", "tuned"], GREEDY))
    last = snapshots[-1]
    assert last.done == [True, True] and last.texts[0] == "base উত্তর 1"
    assert last.errors[0] is None and "500" in last.errors[1]


def test_a_stalled_column_times_out_without_holding_the_other(server):
    backend = _backend(server, {"base": "base", "tuned": "stall"}, timeout_s=0.5)
    began = time.perf_counter()
    first_done_at = None
    for snapshot in backend.stream_many([CONVERSATION] * 2, ["base", "tuned"], GREEDY):
        if snapshot.done[0] and first_done_at is None:
            first_done_at = time.perf_counter() - began
    assert first_done_at is not None and first_done_at < 0.5  # base finished while tuned was stalled
    assert snapshot.texts[1] == "stall" and "timeout" in snapshot.errors[1]
    assert time.perf_counter() - began < 2.5  # the stall (3 s) was cut at the timeout


def test_a_failed_chat_request_raises_one_line(server):
    backend = _backend(server, {"base": "broken"})
    with pytest.raises(BackendError, match="500"):
        list(backend.stream(CONVERSATION, "base", GREEDY))


# -- the service on top: the same checks and safety whatever the backend
def test_a_crisis_message_gets_the_help_block_even_when_the_server_fails(server):
    policy = SafetyPolicy()
    service = ConversationService(_backend(server, {"base": "broken", "tuned": "slow"}, timeout_s=0.3), policy)
    crisis = _crisis_message()
    reply = list(service.chat_turn(crisis, variant="base", settings=GREEDY))[-1]
    assert reply.startswith(policy.help_block()) and "No answer could be generated" in reply
    columns = list(service.compare(crisis, "base", "tuned", GREEDY))[-1]
    assert all(c.text.startswith(policy.help_block()) and c.error for c in columns)
    assert "failed" in columns[0].stats_line()
    counts = policy.counts()
    assert counts["crisis"] == 3  # one chat reply and two columns, each counted once
    assert counts["generation_failed"] == 3 and counts["answers_replaced"] == counts["unusable_answers"] == 0


def test_chat_and_compare_stream_through_the_server(server):
    service = ConversationService(_backend(server), SafetyPolicy())
    replies = list(service.chat_turn(PROMPT, variant="tuned", settings=GREEDY))
    assert replies[-1] == "tuned উত্তর 1"
    left, right = list(service.compare(PROMPT, settings=GREEDY))[-1]
    assert (left.variant, right.variant) == ("base", "tuned") and right.text == "tuned উত্তর 2"
    assert left.first_token_s is not None and left.latency_s >= left.first_token_s and right.new_tokens == 3
    with pytest.raises(ValueError, match="too long"):
        list(service.chat_turn("অ" * 2001))


# -- the app
@pytest.mark.slow
def test_the_app_over_a_server_answers_concurrent_users_at_once(random_adapters, server):
    server.word_delay_s = 0.3
    running = RunningApp(
        ["--base", "tiny", "--adapter", str(random_adapters[0]), "--backend", "openai", "--endpoint", server.url]
    )
    try:
        client = running.client()
        assert client.predict(PROMPT, None, "tuned", 0.0, api_name="/chat") == "tuned উত্তর 1"
        server.max_in_flight = 0
        results: list[str] = []
        workers = [
            threading.Thread(target=lambda: results.append(running.client().predict(PROMPT, api_name="/chat")))
            for _ in range(3)
        ]
        began = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert len(results) == 3 and server.max_in_flight == 3  # not serialised by the app's model queue
        assert time.perf_counter() - began < 3 * 3 * 0.3  # less than one after another
    finally:
        running.close()


def test_app_flags_for_the_backend_are_checked_before_anything_loads(capsys):
    import app

    with pytest.raises(SystemExit) as exit_code:
        app.main(["--backend", "openai"])
    assert exit_code.value.code == 2 and "--endpoint URL" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        app.main(["--endpoint", "http://x"])
    assert "for --backend openai" in capsys.readouterr().err


def test_the_app_refuses_a_server_without_the_runs_variants(random_adapters, server, capsys):
    import app

    argv = ["--base", "tiny", "--adapter", str(random_adapters[0]), "--backend", "openai", "--endpoint", server.url]
    assert app.main([*argv, "--served-names", "tuned=missing-adapter"]) == 2
    err = capsys.readouterr().err
    assert "app.py: error:" in err and "variant 'tuned': the server has no model 'missing-adapter'" in err


# -- a real server (vLLM), when one is named
REAL_ENDPOINT = os.environ.get("BEMPATHY_OPENAI_ENDPOINT")
REAL_RUN = os.environ.get("BEMPATHY_OPENAI_RUN")


@pytest.mark.skipif(
    not (REAL_ENDPOINT and REAL_RUN),
    reason="no real server: set BEMPATHY_OPENAI_ENDPOINT=URL and BEMPATHY_OPENAI_RUN=RUN_DIR (served by the "
    "command `python -m bempathy.serve vllm-command --run RUN_DIR` prints)",
)
def test_greedy_answers_from_a_real_server_equal_the_local_models():
    from bempathy.serve.openai_backend import backend_for_plan
    from bempathy.serve.plan import load_chat_model, plan_from_run

    plan = plan_from_run(REAL_RUN)
    remote = backend_for_plan(plan, REAL_ENDPOINT)
    local = load_chat_model(plan)
    prompts = ["আমি খুব একা বোধ করছি।", "পরীক্ষার ফল খারাপ হয়েছে।", "অফিসের চাপে রাতে ঘুম আসে না।"]
    conversations = [
        [{"role": "system", "content": plan.system_prompt}, {"role": "user", "content": p}] for p in prompts
    ]
    variants = [v for v in local.variants for _ in conversations]
    settings = DecodingSettings(max_new_tokens=32)
    mine = [g.text for g in local.generate(conversations * len(local.variants), variants, settings)]
    theirs = [g.text for g in remote.generate(conversations * len(local.variants), variants, settings)]
    assert theirs == mine


# -- evaluation through a server
@pytest.mark.slow
def test_evaluation_takes_its_answers_from_the_server_and_its_perplexity_from_the_run(tiny_run, tmp_path, server):
    import shutil

    import train
    from bempathy.runs import RunFolder
    from bempathy.storage.store import Store
    from tests.conftest import TINY_PRESET

    source, source_logs = tiny_run
    run, logs = tmp_path / "run", tmp_path / "logs"
    shutil.copytree(source, run)
    shutil.copytree(source_logs, logs)
    local = Store(logs).experiments.get(RunFolder(run).experiment_id())["metrics"]
    argv = ["--config", str(TINY_PRESET), "--stage", "evaluate", "--output_dir", str(run), "--logs_dir", str(logs)]
    argv += ["--eval_max_examples", "6", "--bootstrap_resamples", "20", "--eval_backend", "openai"]
    assert train.main([*argv, "--eval_endpoint", server.url]) == 0
    metrics = Store(logs).experiments.get(RunFolder(run).experiment_id())["metrics"]
    assert metrics["decoding"]["backend"] == "openai" and metrics["decoding"]["endpoint"] == f"{server.url}/v1"
    answers = Store(logs).responses.find(evaluation_id=metrics["evaluation_id"])
    assert len(answers) == 12 and all(a["response_text"].startswith(f"{a['variant']} উত্তর") for a in answers)
    for variant in ("base", "tuned"):  # the run's own weights score the references, whoever wrote the answers
        assert metrics[variant]["perplexity"] == pytest.approx(local[variant]["perplexity"], rel=1e-6)
    assert {r["temperature"] for r in server.requests} == {0.0}  # evaluation stays greedy on the server too


@pytest.mark.slow
def test_evaluation_through_a_server_that_lacks_a_variant_is_one_line(tiny_run, tmp_path, capsys):
    import train
    from tests.conftest import TINY_PRESET

    only_base = FakeServer(["base"])
    try:
        run = tiny_run[0]
        argv = ["--config", str(TINY_PRESET), "--stage", "evaluate", "--output_dir", str(run)]
        argv += ["--logs_dir", str(tmp_path / "logs"), "--eval_backend", "openai", "--eval_endpoint", only_base.url]
        assert train.main(argv) == 2
    finally:
        only_base.close()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "variant 'tuned': the server has no model 'tuned'" in err[0]
