"""The answer-only LM head in training: the same loss, gradients and metrics as TRL's, from fewer positions."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from bempathy.config import LoraModelConfig, TrainConfig
from bempathy.model import lm_head
from bempathy.prompts import chat_messages
from bempathy.train.sft import BempathySFTTrainer
from bempathy.train.strategies import PeftStrategy, UnslothStrategy


def _rows() -> list[dict]:
    pairs = [
        ("আমার খুব একা লাগে।", "আপনার কষ্টটা বুঝতে পারছি। কারও সঙ্গে কথা বলুন।"),
        ("পরীক্ষার আগে ভয় লাগছে।", "ভয় পাওয়া স্বাভাবিক।"),
        ("ঘুম আসে না।", "রাতে ফোন দূরে রাখুন, নিয়ম করে ঘুমাতে যান, আর দিনের বেলা একটু হাঁটুন।"),
    ]
    return [{"messages": chat_messages(q, a)} for q, a in pairs]


def _trainer(cls, tiny_dir, tmp_path, seed=0):
    from transformers import AutoModelForCausalLM
    from trl import get_peft_config

    from bempathy.model.tokenizer import load_tokenizer

    torch.manual_seed(seed)
    tokenizer = load_tokenizer(str(tiny_dir))
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, dtype=torch.float32)
    model_args = LoraModelConfig(lora_dropout=0.0, lora_modules_to_save=["lm_head"])
    args = TrainConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=3,
        report_to="none",
        gradient_checkpointing=False,
        eval_strategy="no",
    )
    return cls(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(_rows()),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )


def _loss_and_grads(trainer):
    from trl import SFTTrainer

    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(trainer.train_dataset))])
    trainer.model.train()
    loss = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch)) if type(trainer) is SFTTrainer else None
    if loss is None:
        loss = trainer.compute_loss(trainer.model, dict(batch))
    loss.backward()
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.requires_grad}
    return loss.detach(), grads, batch


def test_answer_only_loss_and_gradients_equal_trl(tiny_dir, tmp_path):
    from trl import SFTTrainer

    ours = _trainer(BempathySFTTrainer, tiny_dir, tmp_path / "a")
    theirs = _trainer(SFTTrainer, tiny_dir, tmp_path / "b")
    loss_ours, grads_ours, batch = _loss_and_grads(ours)
    loss_theirs, grads_theirs, _ = _loss_and_grads(theirs)
    assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompt masked, answers trained
    assert (batch["attention_mask"] == 0).any()  # padding present
    assert torch.allclose(loss_ours, loss_theirs, rtol=1e-5, atol=1e-6)
    assert grads_ours.keys() == grads_theirs.keys() and any("lm_head" in n for n in grads_ours)
    for name, grad in grads_ours.items():
        assert torch.allclose(grad, grads_theirs[name], rtol=1e-4, atol=1e-6), name
    # The same metrics TRL logs, from the same definitions.
    for metric in ("entropy", "mean_token_accuracy"):
        assert ours._metrics["train"][metric] == pytest.approx(theirs._metrics["train"][metric], rel=1e-4)
    assert ours._metrics["train"]["num_tokens"] == theirs._metrics["train"]["num_tokens"]


def test_the_head_runs_on_answer_positions_only(tiny_dir, tmp_path, monkeypatch):
    ours = _trainer(BempathySFTTrainer, tiny_dir, tmp_path)
    seen: list[int] = []
    function = lm_head._chunked_nll_function()
    original = function.apply

    def spy(hidden, *args):
        seen.append(hidden.shape[0])
        return original(hidden, *args)

    monkeypatch.setattr(function, "apply", spy)
    _, _, batch = _loss_and_grads(ours)
    answers = int((batch["labels"][:, 1:] != -100).sum())
    assert seen == [answers] and answers < batch["input_ids"].numel() / 2


def test_chunked_nll_matches_full_logits_across_chunks(monkeypatch):
    monkeypatch.setattr(lm_head, "TRAIN_CHUNK_POSITIONS", 7)  # several chunks, a ragged last one
    torch.manual_seed(0)
    hidden = torch.randn(30, 16, requires_grad=True)
    weight = (torch.randn(50, 16) * 0.3).requires_grad_()
    bias = torch.randn(50, requires_grad=True)
    targets = torch.randint(0, 50, (30,))
    nll, entropy, top1 = lm_head._chunked_nll_function().apply(hidden, weight, bias, targets)
    (nll * torch.linspace(0.5, 1.5, 30)).sum().backward()
    h2, w2, b2 = (t.detach().clone().requires_grad_() for t in (hidden, weight, bias))
    logits = h2 @ w2.t() + b2
    reference = torch.nn.functional.cross_entropy(logits, targets, reduction="none")
    (reference * torch.linspace(0.5, 1.5, 30)).sum().backward()
    log_p = logits.log_softmax(-1)
    assert torch.allclose(nll, reference, atol=1e-5)
    assert torch.allclose(entropy, -(log_p.exp() * log_p).sum(-1), atol=1e-5)
    assert torch.equal(top1, logits.argmax(-1) == targets)
    for ours, theirs in ((hidden, h2), (weight, w2), (bias, b2)):
        assert torch.allclose(ours.grad, theirs.grad, atol=1e-5)


def test_peft_trains_with_the_answer_only_trainer_and_unsloth_with_trls():
    from trl import SFTTrainer

    args = TrainConfig(output_dir="/tmp/unused", report_to="none")
    assert PeftStrategy(LoraModelConfig(), args).trainer_class() is BempathySFTTrainer
    assert UnslothStrategy(LoraModelConfig(), args).trainer_class() is SFTTrainer


def test_on_cuda_devices_trl_computes_the_loss(tiny_dir, tmp_path, monkeypatch):
    """Where Triton runs, TRL's fused head already skips masked positions: leave the loss to TRL."""
    ours = _trainer(BempathySFTTrainer, tiny_dir, tmp_path)
    monkeypatch.setattr(type(ours.model), "device", property(lambda self: torch.device("cuda")), raising=False)
    assert not ours._answers_only_here(ours.model, return_outputs=False)
    monkeypatch.undo()
    assert ours._answers_only_here(ours.model, return_outputs=False)
    assert not ours._answers_only_here(ours.model, return_outputs=True)
