"""Faster decoding paths must give what the general ones give: per-row LoRA scaling, the CPU decode head, one thread."""

from __future__ import annotations

import threading

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from bempathy.model.adapter_rows import PEFT_BASE, row_scalable_layers, rows_as
from bempathy.model.chat import ChatModel, DecodingSettings
from bempathy.model.lm_head import DECODE_HEAD_ROWS, use_decode_head
from bempathy.model.thread import ModelThread, model_thread
from bempathy.model.tokenizer import load_tokenizer
from bempathy.prompts import chat_messages

PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PROMPTS = ["আমার খুব একা লাগে।", "পরীক্ষার আগে ভয় লাগছে, কী করব?"]


def _peft(tiny_dir, seed: int = 3, **lora):
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()
    config = LoraConfig(r=4, lora_alpha=8, target_modules=PROJECTIONS, init_lora_weights=False, **lora)
    return get_peft_model(model, config).eval()


def _batch(tiny_dir):
    tokenizer = load_tokenizer(str(tiny_dir))
    tokenizer.padding_side = "left"
    convs = [chat_messages(p)[:2] for p in PROMPTS]
    enc = tokenizer.apply_chat_template(
        convs, add_generation_prompt=True, padding=True, return_tensors="pt", return_dict=True
    )
    return tokenizer, enc


def _logits(model, enc, rows):
    with torch.inference_mode(), rows_as(model, rows) as kwargs:
        return model(**enc, **kwargs).logits


def test_per_row_scaling_gives_each_row_its_own_variant_and_restores_the_scales(tiny_dir):
    model = _peft(tiny_dir)
    _, enc = _batch(tiny_dir)
    layers = row_scalable_layers(model, "default")
    assert layers is not None and len(layers) == 7 * model.config.num_hidden_layers
    scales = [layer.scaling["default"] for layer in layers]
    mixed = _logits(model, enc, [None, "default"])
    base = _logits(model, enc, [None, None])
    tuned = _logits(model, enc, ["default", "default"])
    swapped = _logits(model, enc, ["default", None])  # the rows the other way round
    with torch.inference_mode():
        reference = model(**enc, adapter_names=[PEFT_BASE, "default"]).logits
    torch.testing.assert_close(mixed[0], base[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(mixed[1], tuned[1], rtol=0, atol=1e-5)
    torch.testing.assert_close(mixed, reference, rtol=0, atol=1e-5)
    torch.testing.assert_close(swapped[0], tuned[0], rtol=0, atol=1e-5)
    torch.testing.assert_close(swapped[1], base[1], rtol=0, atol=1e-5)
    assert (mixed[0] - mixed[1]).abs().max() > 1e-3  # the adapter really changes the answer
    assert [layer.scaling["default"] for layer in layers] == scales and all(isinstance(s, float) for s in scales)


@pytest.mark.parametrize("saved", [[], ["lm_head"]])
def test_scales_are_restored_when_the_forward_pass_fails(tiny_dir, saved):
    model = _peft(tiny_dir, modules_to_save=saved or None)
    layers = [layer for layer in row_scalable_layers(model, "default") if hasattr(layer, "lora_A")]
    head = model.get_output_embeddings()
    with pytest.raises(RuntimeError, match="boom"), rows_as(model, [None, "default"]):
        assert torch.is_tensor(layers[0].scaling["default"])
        assert ("forward" in vars(head)) == bool(saved)
        raise RuntimeError("boom")
    assert all(layer.scaling["default"] == 2.0 for layer in layers)
    assert "forward" not in vars(head)


def test_what_per_row_scaling_cannot_reproduce_goes_through_peft(tiny_dir):
    saved_embedding = _peft(tiny_dir, modules_to_save=["embed_tokens"])
    assert row_scalable_layers(saved_embedding, "default") is None
    with rows_as(saved_embedding, [None, "default"]) as kwargs:
        assert kwargs == {"adapter_names": [PEFT_BASE, "default"]}
    dora = _peft(tiny_dir, use_dora=True)
    assert row_scalable_layers(dora, "default") is None
    two = _peft(tiny_dir)
    two.add_adapter("other", LoraConfig(r=4, lora_alpha=8, target_modules=PROJECTIONS, init_lora_weights=False))
    with rows_as(two, [None, "default", "other"]) as kwargs:
        assert kwargs == {"adapter_names": [PEFT_BASE, "default", "other"]}
    with rows_as(two, ["other", "other"]) as kwargs:  # one variant: a plain switch, no per-row machinery
        assert kwargs == {} and two.active_adapter == "other"
    with rows_as(two, [None]) as kwargs:
        assert kwargs == {} and all(layer.disable_adapters for layer in row_scalable_layers(two, "default"))
    plain = AutoModelForCausalLM.from_pretrained(tiny_dir)
    with rows_as(plain, [None, None]) as kwargs:
        assert kwargs == {}
    with pytest.raises(ValueError, match="no adapters"), rows_as(plain, [None, "default"]):
        pass


def test_chat_model_mixed_batch_uses_per_row_scaling_and_matches_one_variant_at_a_time(tiny_dir, tmp_path):
    chat = _plain_chat(tiny_dir, tmp_path)
    convs = [chat_messages(p)[:2] for p in PROMPTS]
    settings = DecodingSettings(max_new_tokens=16)
    seen = []
    original = chat.model.generate

    def spy(*args, **kwargs):
        seen.append(
            ("adapter_names" in kwargs, torch.is_tensor(row_scalable_layers(chat.model, "tuned")[0].scaling["tuned"]))
        )
        return original(*args, **kwargs)

    chat.model.generate = spy
    mixed = chat.generate([c for c in convs for _ in (0, 1)], ["base", "tuned"] * len(convs), settings, 4)
    base = chat.generate(convs, "base", settings, 1)
    tuned = chat.generate(convs, "tuned", settings, 1)
    assert seen[0] == (False, True)  # one call, our per-row scales, no PEFT hooks
    assert all(s == (False, False) for s in seen[1:])  # single-variant calls: a plain switch
    assert [g.text for g in mixed[0::2]] == [g.text for g in base]
    assert [g.text for g in mixed[1::2]] == [g.text for g in tuned]
    assert [g.text for g in base] != [g.text for g in tuned]


def _plain_chat(tiny_dir, tmp_path) -> ChatModel:
    _peft(tiny_dir).save_pretrained(tmp_path / "adapter")
    load_tokenizer(str(tiny_dir)).save_pretrained(tmp_path / "adapter")
    return ChatModel.load(str(tiny_dir), tmp_path / "adapter")


def test_the_compare_stream_uses_the_fast_paths_and_a_stopped_stream_restores_the_scales(tiny_dir, tmp_path):
    chat = _plain_chat(tiny_dir, tmp_path)
    assert type(chat.model.get_output_embeddings()).__name__ == "DecodeLinear"
    conv = chat_messages(PROMPTS[0])[:2]
    settings = DecodingSettings(max_new_tokens=16)
    streamed = list(chat.stream_many([conv, conv], ["base", "tuned"], settings))[-1]
    assert all(streamed.done)
    assert streamed.texts == [g.text for g in chat.generate([conv, conv], ["base", "tuned"], settings)]
    assert streamed.texts == [chat.generate([conv], v, settings)[0].text for v in ("base", "tuned")]
    lengths = []
    original = chat.model.generate
    chat.model.generate = lambda *a, **k: lengths.append(original(*a, **k).shape[1]) or None
    stream = chat.stream_many([conv, conv], ["base", "tuned"], DecodingSettings(max_new_tokens=400))
    next(stream), next(stream)
    stream.close()  # the Stop button mid-answer: generation ends at its next token and the scales come back
    prompt_length = chat._encode([conv, conv])["input_ids"].shape[1]
    assert len(lengths) == 1 and lengths[0] - prompt_length < 400
    layers = row_scalable_layers(chat.model, "tuned")
    assert all(isinstance(layer.scaling["tuned"], float) for layer in layers)


def test_an_abandoned_generate_stops_and_a_caller_holding_the_lock_is_refused(tiny_dir, tmp_path):
    chat = _plain_chat(tiny_dir, tmp_path)
    conv = chat_messages(PROMPTS[0])[:2]
    worker = model_thread()
    real_submit, futures = worker.submit, []

    class GivesUp:  # the caller's wait is interrupted (Ctrl-C) shortly after the task starts
        def __init__(self, fn):
            self.future = real_submit(fn)
            futures.append(self.future)

        def result(self):
            while not self.future.running() and not self.future.done():
                pass
            threading.Event().wait(0.2)
            raise KeyboardInterrupt

        def cancel(self):
            return self.future.cancel()

    worker.submit = GivesUp
    try:
        with pytest.raises(KeyboardInterrupt):
            chat.generate([conv] * 3, "tuned", DecodingSettings(max_new_tokens=2000), batch_size=1)
    finally:
        del worker.submit
    with pytest.raises(InterruptedError):  # the first batch ended early and no further batch was started
        futures[0].result(timeout=60)
    with chat.lock, pytest.raises(RuntimeError, match="release it before generating"):
        chat.generate([conv], "base", DecodingSettings(max_new_tokens=4))
    assert chat.generate([conv], "base", DecodingSettings(max_new_tokens=4))[0].new_tokens > 0


def test_decode_head_equals_the_linear_head_and_keeps_the_state_dict(tiny_dir):
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32).eval()
    keys = list(model.state_dict())
    head = model.get_output_embeddings()
    reference = torch.nn.Linear(head.in_features, head.out_features, bias=False)
    reference.weight = head.weight
    assert use_decode_head(model) and type(head).__name__ == "DecodeLinear"
    assert list(model.state_dict()) == keys and model.get_output_embeddings().weight is reference.weight
    for shape in [(1, 1), (2, 1), (3, 1), (5, 2), (max(DECODE_HEAD_ROWS), 1), (max(DECODE_HEAD_ROWS) + 1, 1), (2, 9)]:
        x = torch.randn(*shape, head.in_features)
        with torch.inference_mode():
            torch.testing.assert_close(head(x), reference(x), rtol=1e-5, atol=1e-5)
    x = torch.randn(2, 1, head.in_features, requires_grad=True)
    head(x).sum().backward()  # with gradients it is nn.Linear's own forward
    assert x.grad is not None and x.grad.shape == x.shape
    saved = _peft(tiny_dir, modules_to_save=["lm_head"])
    assert use_decode_head(saved)  # a head saved with the adapter: the original and the copy
    wrapper = saved.get_output_embeddings()
    assert {type(m).__name__ for m in (wrapper.original_module, *wrapper.modules_to_save.values())} == {"DecodeLinear"}


def test_a_saved_head_answers_each_row_with_its_own_copy(tiny_dir):
    model = _peft(tiny_dir, modules_to_save=["lm_head"])
    with torch.no_grad():  # make the saved head differ from the base head
        copy = model.get_output_embeddings().modules_to_save["default"]
        copy.weight.add_(torch.randn_like(copy.weight) * 0.5)
    _, enc = _batch(tiny_dir)
    layers = row_scalable_layers(model, "default")
    assert layers is not None and sum(not hasattr(layer, "scaling") for layer in layers) == 1
    mixed = _logits(model, enc, [None, "default"])
    with torch.inference_mode():
        reference = model(**enc, adapter_names=[PEFT_BASE, "default"]).logits
    torch.testing.assert_close(mixed, reference, rtol=0, atol=1e-5)
    torch.testing.assert_close(mixed[0], _logits(model, enc, [None, None])[0], rtol=0, atol=1e-5)
    assert (mixed[0] - mixed[1]).abs().max() > 1e-2
    assert "forward" not in vars(model.get_output_embeddings())  # the per-row forward is gone afterwards


def test_model_thread_runs_tasks_on_one_thread_in_order_and_raises_their_errors():
    worker = ModelThread("test-model-thread")
    names, order = [], []
    gate = threading.Event()
    first = worker.submit(lambda: (gate.wait(5), order.append(1)))
    second = worker.submit(lambda: order.append(2))
    third = worker.submit(lambda: order.append(3))
    assert third.cancel()  # still queued: cancelled, never run
    gate.set()
    first.result(5), second.result(5)
    assert order == [1, 2]
    assert worker.run(lambda: worker.run(lambda: names.append(threading.current_thread().name)) or 7) == 7
    assert names == ["test-model-thread"]  # the nested task ran inline on the same thread
    with pytest.raises(ZeroDivisionError):
        worker.run(lambda: 1 / 0)
    assert model_thread() is model_thread() and model_thread()._thread.daemon


def test_an_adopting_thread_runs_its_tasks_inline_and_others_still_queue():
    worker = ModelThread("test-adopt")
    here = threading.current_thread().name
    with worker.adopted():
        assert worker.run(lambda: threading.current_thread().name) == here
        elsewhere = []
        other = threading.Thread(target=lambda: elsewhere.append(worker.run(lambda: threading.current_thread().name)))
        other.start()
        other.join()
        assert elsewhere == ["test-adopt"]
    assert worker.run(lambda: threading.current_thread().name) == "test-adopt"
