"""The Chat/Compare API edge against a hostile client: bounded work, strict types, clean text, raw HTTP defaults.

The app runs once for the module (the untuned tiny demo model) and is driven the way clients drive it:
gradio_client where it can send the value, raw HTTP (``POST /gradio_api/call/<name>``) where it cannot (NaN, a
lone surrogate) or where the point is what a bare HTTP client gets.
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
from typing import Any

import httpx
import pytest

from bempathy.model.streaming import RowStats, Snapshot
from bempathy.safety.policy import SafetyPolicy
from bempathy.serve.conversation import (
    HISTORY_ENTRIES_LIMIT,
    HISTORY_TOKENS_LIMIT,
    HISTORY_TURNS_LIMIT,
    SCREENED_USER_TURNS,
    TURN_TEMPLATE_TOKENS,
    ConversationService,
)
from bempathy.serve.requests import InputError, check_seed, sampling_settings
from bempathy.ui.edge import (
    EdgeError,
    choice_param,
    history_param,
    number_param,
    optional_seed,
    text_param,
)
from tests.conftest import RunningApp
from tests.test_serving import FakeChat

PROMPT = "আমার খুব একা লাগে।"
NAN = float("nan")
SURROGATE = "ভালো\ud800"
DIRTY = "এক\x00টা\x1b[31m কথা\u202e বলি: র\u200d্যাব, ক\u200cখ\r\nশেষ"


def _assert_one_bilingual_line(message: Any, name: str) -> None:
    """The refusal shape every client gets: one line, Bengali first, then English naming the parameter."""
    assert isinstance(message, str) and "\n" not in message and "Traceback" not in message, message
    bn, sep, en = message.partition(" / ")
    assert sep and any(unicodedata.name(ch, "").startswith("BENGALI") for ch in bn), message
    assert name in en, message


# -- the edge functions themselves (no app)
@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: text_param(["x"], "comment", max_chars=10), "comment"),
        (lambda: text_param(None, "comment", max_chars=10), "comment"),
        (lambda: text_param(5, "comment", max_chars=10), "comment"),
        (lambda: text_param("অ" * 11, "comment", max_chars=10), "comment"),
        (lambda: text_param(SURROGATE, "comment", max_chars=10), "comment"),
        (lambda: number_param(True, "score", 1, 5), "score"),
        (lambda: number_param("4", "score", 1, 5), "score"),
        (lambda: number_param(NAN, "score", 1, 5), "score"),
        (lambda: number_param(math.inf, "score"), "score"),
        (lambda: number_param(6, "score", 1, 5), "score"),
        (lambda: number_param(4.5, "score", 1, 5, integer=True), "score"),
        (lambda: number_param(None, "score", 1, 5), "score"),
        (lambda: optional_seed(1.5), "seed"),
        (lambda: optional_seed([1]), "seed"),
        (lambda: history_param("হ্যালো"), "history"),
        (lambda: history_param({"role": "user", "content": "x"}), "history"),
        (lambda: history_param(["x"]), "history"),
        (lambda: history_param([{"role": "user", "content": 5}]), "history"),
        (lambda: choice_param("C", "preference", ["A", "B"]), "preference"),
        (lambda: choice_param(["A"], "preference", ["A", "B"]), "preference"),
    ],
)
def test_edge_functions_refuse_wrong_types_and_values_with_one_bilingual_line(call, name):
    with pytest.raises(EdgeError) as refused:
        call()
    _assert_one_bilingual_line(str(refused.value), name)


def test_edge_functions_pass_good_values_and_defaults_through():
    assert text_param(DIRTY, "comment", max_chars=100) == "একটা[31m কথা বলি: র\u200d্যাব, ক\u200cখ\nশেষ"
    assert text_param(None, "comment", max_chars=10, default="") == ""
    assert number_param(4.0, "score", 1, 5, integer=True) == 4 and number_param(None, "t", default=0.7) == 0.7
    assert [optional_seed(v) for v in (None, "", -1, 7, 7.0)] == [None, None, None, 7, 7]
    messages = [{"role": "user", "content": str(i)} for i in range(10)]
    assert history_param(messages, max_entries=3) == messages[-3:] and history_param(None) == []
    assert history_param([*["not checked"] * 5, *messages[-2:]], max_entries=2) == messages[-2:]  # cut first
    assert choice_param(None, "preference", ["A", "B"], default="A") == "A"


# -- the service: bounded work whatever the history (no app)
class CountingMessage(dict):
    """A history entry that counts how often the service reads it."""

    reads = 0

    def get(self, key, default=None):
        CountingMessage.reads += 1
        return super().get(key, default)


class HundredTokensPerCharacter:
    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [0] * (100 * len(text))


class TokenFakeChat(FakeChat):
    """FakeChat with a tokenizer that makes the token budget bind before the others."""

    tokenizer = HundredTokensPerCharacter()


def test_history_work_is_bounded_by_the_kept_turns_not_the_history_length():
    service = ConversationService(FakeChat(), SafetyPolicy())
    roles = ("user", "assistant")
    history = [CountingMessage(role=roles[i % 2], content="ক") for i in range(11_000)]
    CountingMessage.reads = 0
    turns, earlier = service.recent_history(history)
    assert len(turns) == HISTORY_TURNS_LIMIT and turns[0]["role"] == "user"
    assert len(earlier) == SCREENED_USER_TURNS
    assert CountingMessage.reads <= 2 * (HISTORY_TURNS_LIMIT + 1)  # role and content of the newest turns only
    # Entries past HISTORY_ENTRIES_LIMIT are never looked at, even when nothing newer has text.
    empty = [CountingMessage(role="assistant", content="") for _ in range(11_000)]
    CountingMessage.reads = 0
    assert service.recent_history(empty) == ([], [])
    assert CountingMessage.reads <= 2 * HISTORY_ENTRIES_LIMIT


def test_history_is_capped_in_tokens_with_the_models_tokenizer():
    service = ConversationService(TokenFakeChat(), SafetyPolicy())
    history = [{"role": ("user", "assistant")[i % 2], "content": "কথা"} for i in range(40)]
    turns, _ = service.recent_history(history)
    cost = sum(100 * len(t["content"]) + TURN_TEMPLATE_TOKENS for t in turns)
    assert turns and len(turns) < 40 and cost <= HISTORY_TOKENS_LIMIT
    assert turns[-1] == history[-1]  # the newest survive


def test_service_range_checks_refuse_with_one_bilingual_line():
    for call, name in [
        (lambda: check_seed(10**30), "seed"),
        (lambda: check_seed(-5), "seed"),
        (lambda: sampling_settings(temperature=NAN), "temperature"),
        (lambda: sampling_settings(top_p=0), "top_p"),
        (lambda: sampling_settings(max_new_tokens=10**30), "max_new_tokens"),
    ]:
        with pytest.raises(InputError) as refused:
            call()
        _assert_one_bilingual_line(str(refused.value), name)
    assert check_seed(2**32 - 1) == 2**32 - 1


# -- the running app
@pytest.fixture(scope="module")
def running(tmp_path_factory):
    app = RunningApp(["--logs-dir", str(tmp_path_factory.mktemp("edge-logs"))])
    yield app
    app.close()


ANSWER = "আপনার কথা শুনছি। একটু খুলে বলবেন?"


@pytest.fixture
def record(running, monkeypatch):
    """``record(generate)``: the list of every (conversations, variants, settings, seed) the model is asked to
    answer from then on; with ``generate=False`` it answers ANSWER at once (when only its input matters)."""
    chat = running.ctx.chat
    original = chat.stream_many

    def install(generate: bool) -> list[tuple]:
        calls: list[tuple] = []

        def recording(conversations, variants, settings=None, seed=None, stop=None):
            calls.append((conversations, list(variants), settings, seed))
            if generate:
                yield from original(conversations, variants, settings, seed, stop)
                return
            n = len(conversations)
            yield Snapshot([ANSWER] * n, [True] * n, [RowStats(9, 0.01, 0.1)] * n)

        monkeypatch.setattr(chat, "stream_many", recording)
        return calls

    return install


def raw_call(app: RunningApp, name: str, data: Any) -> tuple[int | str, Any]:
    """A bare HTTP call: (the last event's name, its data), or (the POST's status code, its JSON) if refused."""
    base = f"{app.url}gradio_api/call/{name}"
    body = json.dumps({"data": data})  # Python's json writes NaN and \ud800, as a careless client would
    posted = httpx.post(base, content=body, headers={"content-type": "application/json"}, timeout=30)
    if posted.status_code != 200:
        return posted.status_code, posted.json()
    stream = httpx.get(f"{base}/{posted.json()['event_id']}", timeout=120).text
    events = [block for block in stream.split("\n\n") if block.startswith("event:")]
    event, data_line = events[-1].split("\n", 1)
    return event.removeprefix("event: "), json.loads(data_line.removeprefix("data: "))


TEXT_BAD = [["x"], {"a": 1}, True, 10**30, NAN, SURROGATE]
NUMBER_BAD = [["x"], {"a": 1}, True, "0.7", 10**30, NAN]
SEED_BAD = [["x"], {"a": 1}, True, "5", 10**30, NAN, 1.5, -2]
HISTORY_BAD = ["a string", {"role": "user", "content": "x"}, True, 10**30, NAN, ["x"], [{"role": "user", "content": 5}]]
PARAMETERS = {  # endpoint: (parameter, wrong values) in order; everything else is left at a good value
    "chat": [
        ("message", [*TEXT_BAD, None]),
        ("history", HISTORY_BAD),
        ("variant", TEXT_BAD),
        ("temperature", NUMBER_BAD),
        ("top_p", NUMBER_BAD),
        ("max_new_tokens", NUMBER_BAD),
        ("seed", SEED_BAD),
        ("system_prompt", TEXT_BAD),
    ],
    "compare": [
        ("prompt", [*TEXT_BAD, None]),
        ("left", TEXT_BAD),
        ("right", TEXT_BAD),
        ("temperature", NUMBER_BAD),
        ("top_p", NUMBER_BAD),
        ("max_new_tokens", NUMBER_BAD),
        ("seed", SEED_BAD),
        ("system_prompt", TEXT_BAD),
    ],
}
GOOD = {"chat": [PROMPT, None, None, 0.7, 0.9, 8, 1, None], "compare": [PROMPT, None, None, 0.7, 0.9, 8, 1, None]}


def test_every_parameter_given_a_wrong_type_gets_the_one_line_message_and_no_model_work(running, record, capfd):
    seen = record(generate=False)
    capfd.readouterr()
    for endpoint, parameters in PARAMETERS.items():
        for index, (name, values) in enumerate(parameters):
            for value in values:
                data = [*GOOD[endpoint]]
                data[index] = value
                event, payload = raw_call(running, f"{endpoint}", data)
                assert event == "error", (endpoint, name, value, payload)
                _assert_one_bilingual_line(payload["error"], name)
    assert seen == []  # refused before the model was asked anything
    assert "Traceback" not in capfd.readouterr().err  # a refusal is not a fault: nothing for a client to flood


def test_the_browser_handlers_refuse_wrong_types_the_same_way(running):
    import gradio as gr

    handlers = {fn.name: fn.fn for fn in running.demo.fns.values() if fn.name in ("respond", "run_compare")}
    good_chat = [PROMPT, [], "base", 0.7, 0.9, 8, -1, "", False]
    for index, value, name in [(1, "a string", "history"), (6, 10**30, "seed"), (0, ["x"], "message")]:
        args = [*good_chat]
        args[index] = value
        with pytest.raises(gr.Error) as refused:
            next(handlers["respond"](*args))
        _assert_one_bilingual_line(refused.value.message, name)
    with pytest.raises(gr.Error) as refused:
        next(handlers["run_compare"](PROMPT, "base", "base", True, 0.9, 8, 0))
    _assert_one_bilingual_line(refused.value.message, "temperature")


def test_a_history_given_as_a_string_and_a_huge_seed_are_refused_through_gradio_client(running, record):
    seen = record(generate=False)
    from gradio_client.exceptions import AppError

    client = running.client()
    with pytest.raises(AppError) as refused:
        client.predict(PROMPT, "user: hello", api_name="/chat")
    _assert_one_bilingual_line(str(refused.value), "history")
    for endpoint in ("/chat", "/compare"):
        with pytest.raises(AppError) as refused:
            client.predict(PROMPT, None, None, 0.7, 0.9, 8, 10**30, api_name=endpoint)
        _assert_one_bilingual_line(str(refused.value), "seed")
    assert seen == []


def test_an_11000_turn_history_is_answered_in_normal_time_from_its_newest_turns(running, record):
    seen = record(generate=True)
    history = [{"role": ("user", "assistant")[i % 2], "content": "ক"} for i in range(11_000)]
    history[-2:] = [{"role": "user", "content": "শেষের প্রশ্ন"}, {"role": "assistant", "content": "শেষের উত্তর"}]
    started = time.perf_counter()
    reply = running.client().predict(PROMPT, history, None, 0.7, 0.9, 16, 3, api_name="/chat")
    took = time.perf_counter() - started
    print(f"11,000-turn /chat answered in {took:.2f} s")
    assert isinstance(reply, str) and reply
    [(conversations, _, _, _)] = seen
    system, *kept, new = conversations[0]
    assert system["role"] == "system" and new == {"role": "user", "content": PROMPT}
    assert len(kept) <= HISTORY_TURNS_LIMIT and kept[-2:] == history[-2:]
    assert took < 15  # the old code kept all 11,000 turns and held the model queue for 126 s


def test_control_and_bidi_characters_are_cleaned_before_the_model_and_joiners_survive(running, record):
    seen = record(generate=False)
    history = [{"role": "user", "content": DIRTY}, {"role": "assistant", "content": [{"type": "text", "text": DIRTY}]}]
    running.client().predict(DIRTY, history, None, 0.0, 0.9, 4, None, DIRTY, api_name="/chat")
    running.client().predict(DIRTY, None, None, 0.0, 0.9, 4, 0, DIRTY, api_name="/compare")
    texts = [turn["content"] for conversations, *_ in seen for conversation in conversations for turn in conversation]
    assert len(seen) == 2 and len(texts) == 4 + 2 * 2  # chat: system, two turns, message; compare: two rows
    for text in texts:
        assert not any(ch in text for ch in "\x00\x1b\u202e\r"), repr(text)
        assert "র\u200d্যাব" in text and "ক\u200cখ" in text, repr(text)


def test_raw_http_calls_may_leave_out_trailing_optional_parameters(running, record):
    seen = record(generate=False)
    event, reply = raw_call(running, "chat", [PROMPT])
    assert (event, reply) == ("complete", [ANSWER])
    event, [(left, right, stats)] = raw_call(running, "compare", [PROMPT, None, None, 0.0])
    assert event == "complete" and left == right == ANSWER and stats["left"]["done"]
    (_, _, chat_settings, chat_seed), (_, _, compare_settings, compare_seed) = seen
    # The README's defaults: temperature 0.7, top_p 0.9, 256 new tokens; seed None for /chat, 0 for /compare.
    assert (chat_settings.temperature, chat_settings.top_p, chat_settings.max_new_tokens) == (0.7, 0.9, 256)
    assert chat_seed is None and compare_seed == 0 and not compare_settings.do_sample
    status, body = raw_call(running, "chat", [])  # a required parameter left out: one line, not a bare error
    assert status == 422
    _assert_one_bilingual_line(body["detail"], "message")


def test_uploads_over_the_size_limit_are_refused(running):
    upload = f"{running.url}gradio_api/upload"
    small = httpx.post(upload, files={"files": ("a.txt", b"x" * 1000)}, timeout=30)
    big = httpx.post(upload, files={"files": ("a.txt", b"x" * 2_000_000)}, timeout=30)
    assert small.status_code == 200 and big.status_code == 413
