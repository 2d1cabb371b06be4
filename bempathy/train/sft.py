"""SFTTrainer whose loss runs the LM head on answer positions only, on every device.

TRL 1.16's fused LM head skips the positions whose label is -100 only where Triton runs (CUDA, XPU); elsewhere
it scores every position, padding and the fixed system prompt included, and then zeroes them. On this corpus
(a long Bengali system prompt, median example ~144 tokens, a 128,256-token vocabulary) that is most of a CPU
step. This subclass computes the same loss from the answer positions alone (``bempathy.model.lm_head``), logs the same
metrics, and leaves everything else to TRL: on CUDA/XPU, for label smoothing, custom loss functions, other
loss types and wrapped (DDP) models it is TRL's own ``compute_loss``.
"""

from __future__ import annotations

from typing import Any

from trl import SFTTrainer

from bempathy.model.lm_head import answer_log_probs

# Devices where TRL itself already runs the head on answer positions only (its Triton kernel).
TRL_COMPACT_DEVICES = ("cuda", "xpu")


class BempathySFTTrainer(SFTTrainer):
    """TRL's SFTTrainer with an answer-only LM head where TRL would score every position."""

    def _answers_only_here(self, model: Any, return_outputs: bool) -> bool:
        device = getattr(model, "device", None)
        return (
            not return_outputs
            and getattr(device, "type", "cpu") not in TRL_COMPACT_DEVICES
            and self.compute_loss_func is None
            and self.label_smoother is None
            and self.args.loss_type == "nll"
            and not getattr(self, "aux_loss_enabled", False)
        )

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        import torch

        scored = answer_log_probs(model, inputs) if self._answers_only_here(model, return_outputs) else None
        if scored is None:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        mode = "train" if self.model.training else "eval"
        n_tokens = scored["n_tokens"]
        denominator = n_tokens if num_items_in_batch is None else num_items_in_batch
        loss = -scored["log_probs"].sum() / torch.as_tensor(denominator).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())
        # The metrics TRL logs from its fused head (entropy, token accuracy, tokens seen), from the same fields.
        gather = self.accelerator.gather_for_metrics
        num_valid = gather(n_tokens).sum()
        if scored["entropy"] is not None and scored["is_top1"] is not None:
            entropy = gather(scored["entropy"].detach().sum()).sum()
            correct = gather(scored["is_top1"].sum()).sum()
            self._metrics[mode]["entropy"].append((entropy / num_valid).item() if num_valid > 0 else 0.0)
            self._metrics[mode]["mean_token_accuracy"].append((correct / num_valid).item() if num_valid > 0 else 0.0)
        if mode == "train":
            if "attention_mask" in inputs:
                seen = gather(inputs["attention_mask"].sum()).sum().item()
            else:
                seen = gather(torch.tensor(inputs["input_ids"].numel(), device=loss.device)).sum().item()
            self._total_train_tokens += seen // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return loss
