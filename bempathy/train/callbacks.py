"""Trainer callbacks: the loss history into LLAMAExperiments as it arrives, and a sample answer per evaluation."""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from bempathy.storage.store import Store

LOGGED_KEYS = ("loss", "eval_loss", "learning_rate", "grad_norm", "epoch")


class ExperimentLogCallback(TrainerCallback):
    """Appends every logged loss to the experiment's loss_history as training goes."""

    def __init__(self, store: Store, experiment_id: str) -> None:
        self.store = store
        self.experiment_id = experiment_id

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        entry = {"step": state.global_step, **{k: logs[k] for k in LOGGED_KEYS if k in logs}}
        if "loss" in entry or "eval_loss" in entry:
            self.store.experiments.append(self.experiment_id, "loss_history", [entry])


class SampleAnswerCallback(TrainerCallback):
    """After each evaluation, answer one held-out prompt so progress can be read, not only a loss."""

    def __init__(self, tokenizer: Any, messages: list[dict[str, str]], max_new_tokens: int = 48) -> None:
        self.tokenizer = tokenizer
        self.messages = [m for m in messages if m["role"] != "assistant"][:2]
        self.max_new_tokens = max_new_tokens

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero or model is None:
            return
        import torch

        inputs = self.tokenizer.apply_chat_template(
            self.messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(model.device)
        was_training = model.training
        model.eval()
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        if was_training:
            model.train()
        answer = self.tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
        print(f"\n[step {state.global_step}] sample answer: {answer.strip()[:300]}\n", flush=True)
