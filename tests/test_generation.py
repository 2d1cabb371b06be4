"""One model, several adapters: mixed-adapter batches must give exactly what separate models give."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM

from bempathy.model.chat import ChatModel, DecodingSettings
from bempathy.model.tokenizer import load_tokenizer
from bempathy.prompts import chat_messages

PROMPTS = ["আমার খুব একা লাগে।", "পরীক্ষার আগে ভয় লাগছে, কী করব?", "অফিসে সবাই আমাকে এড়িয়ে চলে।"]
GREEDY = DecodingSettings(max_new_tokens=20)


def _conversations():
    return [chat_messages(p)[:2] for p in PROMPTS]


def _plain_generate(model_dir, conversations, adapter_dir=None):
    """The reference: a freshly loaded model (no PEFT wrapper unless an adapter is given), one prompt at a time."""
    tokenizer = load_tokenizer(str(model_dir))
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir)).eval()
    chat = ChatModel(model, tokenizer, has_adapter=adapter_dir is not None)
    variant = "tuned" if adapter_dir is not None else "base"
    return [chat.generate([c], variant, GREEDY, batch_size=1)[0].text for c in conversations]


def test_mixed_adapter_batch_equals_separate_models(tiny_dir, random_adapters):
    first, second = random_adapters
    chat = ChatModel.load(str(tiny_dir), first, adapters={"other": second})
    assert chat.variants == ["tuned", "other", "base"]
    conversations = _conversations()
    rows = [c for c in conversations for _ in range(3)]
    variants = ["base", "tuned", "other"] * len(conversations)
    calls = []
    original = chat.model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs.get("adapter_names"))
        return original(*args, **kwargs)

    chat.model.generate = counting
    mixed = [g.text for g in chat.generate(rows, variants, GREEDY, batch_size=len(rows))]
    assert len(calls) == 1 and calls[0][:3] == ["__base__", "tuned", "other"]
    base, tuned, other = mixed[0::3], mixed[1::3], mixed[2::3]
    # The base rows are the model with no adapter at all, loaded on its own (a peer app shipped base == tuned).
    assert base == _plain_generate(tiny_dir, conversations)
    assert tuned == _plain_generate(tiny_dir, conversations, first)
    assert other == _plain_generate(tiny_dir, conversations, second)
    assert base != tuned and tuned != other


def test_stream_many_streams_both_rows_of_one_call_and_ends_like_generate(tiny_dir, random_adapters):
    chat = ChatModel.load(str(tiny_dir), random_adapters[0])
    conversation = _conversations()[0]
    snapshots = list(chat.stream_many([conversation, conversation], ["base", "tuned"], GREEDY))
    assert len(snapshots) >= 2 and all(len(s.texts) == 2 for s in snapshots)
    final = snapshots[-1]
    assert all(final.done)
    expected = [g.text for g in chat.generate([conversation, conversation], ["base", "tuned"], GREEDY)]
    assert final.texts == expected
    for stats in final.stats:
        assert 0 < stats.new_tokens <= GREEDY.max_new_tokens
        assert stats.first_token_s is not None and stats.latency_s >= stats.first_token_s
        assert stats.tokens_per_s > 0


def test_unknown_variant_is_refused_before_any_work(tiny_dir, random_adapters):
    chat = ChatModel.load(str(tiny_dir), random_adapters[0])
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        chat.generate(_conversations()[:1], "nope")
    plain = ChatModel.load(str(tiny_dir))
    with pytest.raises(ValueError, match="no fine-tuned adapter"):
        list(plain.stream(_conversations()[0], "tuned"))
    with pytest.raises(ValueError, match="cannot be called 'base'"):
        ChatModel.load(str(tiny_dir), adapters={"base": random_adapters[0]})


def test_a_stream_stepped_and_closed_from_different_threads_never_strands_the_lock(tiny_dir):
    """Gradio runs each step of a streaming handler on any worker thread and closes a cancelled one elsewhere."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    chat = ChatModel.load(str(tiny_dir))
    conversation = _conversations()[0]
    long_answer = DecodingSettings(max_new_tokens=200)
    with ThreadPoolExecutor(max_workers=3) as pool:
        stream = chat.stream(conversation, "base", long_answer)
        pool.submit(next, stream).result()
        pool.submit(next, stream).result()  # another thread takes the next step
        pool.submit(stream.close).result()  # and a third cancels it (the Stop button)
        finished = list(pool.submit(lambda: list(chat.stream(conversation, "base", GREEDY))).result())
    assert finished and finished[-1] == chat.generate([conversation], "base", GREEDY)[0].text
    acquired = []

    def probe() -> None:
        acquired.append(chat.lock.acquire(timeout=5))
        if acquired[-1]:
            chat.lock.release()

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert acquired == [True]
