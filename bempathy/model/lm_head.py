"""The LM head on answer positions only, for training and for perplexity, and in a faster shape for decoding.

With Llama 3's 128,256-token vocabulary the LM head is a large share of every step, and in this corpus most
positions are the fixed system prompt and the question, whose labels are -100. Running the head (and its
softmax) only where a position predicts an answer token is exact and saves that share. Full logits for one
4,500-token example are 2.3 GB in fp32. When decoding, the head sees one row per sequence per step; see
:func:`use_decode_head` for why a CPU computes that faster the other way round.
"""

from __future__ import annotations

import functools
from typing import Any

# fp32 logits per LM-head chunk when scoring without gradients: 64 MiB is ~130 positions of a 128,256 vocabulary.
LOGITS_CHUNK_BYTES = 64 * 2**20
# Config fields that make a causal LM's logits more than lm_head(last hidden state).
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "logits_scaling")


def body_and_head(model: Any) -> tuple[Any, Any] | None:
    """(decoder body, LM head) when the model's logits are exactly ``head(body(...).last_hidden_state)``.

    Works through PEFT wrappers (LoRA layers live inside the body, an adapted or saved ``lm_head`` is the head, and
    ``disable_adapter``/``set_adapter`` act on both). None for anything else, which is then scored from its own
    ``forward`` logits.
    """
    get_body, get_head = getattr(model, "get_decoder", None), getattr(model, "get_output_embeddings", None)
    if not callable(get_body) or not callable(get_head):
        return None
    try:
        body, head = get_body(), get_head()
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return None
    if body is None or head is None or body is model:
        return None
    config = getattr(model, "config", None)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    if any(getattr(text, name, None) not in (None, 1, 1.0) for name in _LOGIT_TRANSFORMS):
        return None
    return body, head


def vocab_size(model: Any, head: Any) -> int:
    out = getattr(head, "out_features", None) or getattr(getattr(head, "weight", None), "shape", [None])[0]
    if out:
        return int(out)
    config = getattr(model, "config", None)
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    return int(getattr(text, "vocab_size", 0) or 131072)


# Rows (sequences in a decoding step) for which a CPU head runs as ``weight @ hidden.T``. On 2 cores with the
# 128,256 x 64 head of bench_model, per call: 2 rows 5.1 ms as ``hidden @ weight.T`` vs 1.4 ms, 16 rows 7.4 vs
# 3.5 ms, 64 rows 19.3 vs 8.6 ms; one row is a matrix-vector product either way (2.3 vs 2.4 ms), so it is left.
DECODE_HEAD_ROWS = range(2, 65)


@functools.cache
def _decode_linear_class() -> type:
    import torch

    class DecodeLinear(torch.nn.Linear):
        """``nn.Linear`` that computes a few rows without gradients on a CPU as ``weight @ x.T``.

        Same parameters and state dict as the ``nn.Linear`` it replaces; anything else (a GPU, gradients, many
        rows, one row) is ``nn.Linear``'s own forward. Without a bias the result is a transposed view (no copy).
        """

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            rows = x.numel() // max(1, x.shape[-1])
            if x.device.type != "cpu" or rows not in DECODE_HEAD_ROWS or torch.is_grad_enabled():
                return super().forward(x)
            out = torch.mm(self.weight, x.reshape(rows, x.shape[-1]).t()).t()
            if self.bias is not None:
                out = out + self.bias
            return out.reshape(*x.shape[:-1], self.out_features)

    return DecodeLinear


def use_decode_head(model: Any) -> bool:
    """Give a CPU model's plain ``nn.Linear`` LM head the decoding shape of :class:`DecodeLinear`; True if it did.

    Why: with one row per sequence, ``hidden @ weight.T`` against a 128,256-row head is a skinny matrix product
    that the CPU BLAS runs far below memory speed for 2-64 rows (a 2-row step cost about two 1-row steps, which
    is what made one mixed base+tuned batch barely faster than two passes); ``weight @ hidden.T`` streams the
    weight once. Only the class changes, so tied weights, saving and GPU placement are unaffected. A head saved
    with an adapter (PEFT's ``ModulesToSaveWrapper``) gets it on the original and on every saved copy.
    """
    import torch

    get_head = getattr(model, "get_output_embeddings", None)
    try:
        head = get_head() if callable(get_head) else None
    except (AttributeError, NotImplementedError, TypeError, ValueError):
        return False
    saved = getattr(head, "modules_to_save", None)
    linears = [head.original_module, *saved.values()] if saved is not None else [head]
    linears = [m for m in linears if type(m) is torch.nn.Linear and m.weight.device.type == "cpu"]
    for linear in linears:
        linear.__class__ = _decode_linear_class()
    return bool(linears)


# Answer positions per chunk in training: 1,024 x 128,256 fp32 logits is 0.5 GB, the most one chunk holds.
TRAIN_CHUNK_POSITIONS = 1024


@functools.cache
def _chunked_nll_function() -> type:
    """An autograd Function for per-position NLL of ``hidden @ weight.T`` that keeps no logits for backward.

    Forward runs the head on ``TRAIN_CHUNK_POSITIONS`` positions at a time and keeps per position only the
    log-partition (one float); backward recomputes each chunk's logits and turns them into the gradient in place.
    Plain large torch ops: on a CPU this is faster than TRL's chunked kernel, whose non-Triton fallback folds
    small tiles with many small ops (figures in bench/RESULTS.md).
    """
    import torch

    class ChunkedNLL(torch.autograd.Function):
        @staticmethod
        def forward(ctx, hidden, weight, bias, targets):
            n = hidden.shape[0]
            nll = hidden.new_empty(n, dtype=torch.float32)
            entropy = hidden.new_empty(n, dtype=torch.float32)
            top1 = torch.empty(n, dtype=torch.bool, device=hidden.device)
            log_z = hidden.new_empty(n, dtype=torch.float32)
            with torch.no_grad():
                for start in range(0, n, TRAIN_CHUNK_POSITIONS):
                    end = min(n, start + TRAIN_CHUNK_POSITIONS)
                    z = torch.nn.functional.linear(hidden[start:end], weight, bias).float()
                    target = targets[start:end]
                    peak, best = z.max(dim=1)
                    top1[start:end] = best == target
                    target_logit = z.gather(1, target[:, None]).squeeze(1)
                    z.sub_(peak[:, None])
                    p = z.exp()
                    total = p.sum(dim=1)
                    entropy[start:end] = total.log() - p.mul_(z).sum(dim=1) / total
                    log_z[start:end] = peak + total.log()
                    nll[start:end] = log_z[start:end] - target_logit
                    del z, p
            ctx.save_for_backward(hidden, weight, bias, targets, log_z)
            ctx.mark_non_differentiable(entropy, top1)
            return nll, entropy, top1

        @staticmethod
        def backward(ctx, grad_nll, _grad_entropy, _grad_top1):
            hidden, weight, bias, targets, log_z = ctx.saved_tensors
            need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
            grad_hidden = torch.zeros_like(hidden) if need_hidden else None
            grad_weight = torch.zeros_like(weight, dtype=torch.float32) if need_weight else None
            grad_bias = torch.zeros_like(bias, dtype=torch.float32) if need_bias and bias is not None else None
            if grad_nll is None:
                return grad_hidden, grad_weight, grad_bias, None
            rows = torch.arange(min(len(targets), TRAIN_CHUNK_POSITIONS), device=hidden.device)
            for start in range(0, hidden.shape[0], TRAIN_CHUNK_POSITIONS):
                end = min(hidden.shape[0], start + TRAIN_CHUNK_POSITIONS)
                h = hidden[start:end]
                z = torch.nn.functional.linear(h, weight, bias).float()
                z.sub_(log_z[start:end, None]).exp_()  # softmax
                z[rows[: end - start], targets[start:end]] -= 1.0
                z.mul_(grad_nll[start:end, None].float())
                if grad_hidden is not None:
                    grad_hidden[start:end] = (z.to(weight.dtype) @ weight).to(hidden.dtype)
                if grad_weight is not None:
                    grad_weight.addmm_(z.t(), h.float())
                if grad_bias is not None:
                    grad_bias.add_(z.sum(dim=0))
                del z
            if grad_weight is not None:
                grad_weight = grad_weight.to(weight.dtype)
            if grad_bias is not None:
                grad_bias = grad_bias.to(bias.dtype)
            return grad_hidden, grad_weight, grad_bias, None

    return ChunkedNLL


def answer_log_probs(model: Any, inputs: dict[str, Any]) -> dict[str, Any] | None:
    """Per-answer-token log-probabilities (with gradients), entropies and top-1 hits for a training batch.

    The body runs on the whole batch; the head runs, a chunk at a time, only on the positions whose next-token
    label is not -100, and keeps no logits for the backward pass (it recomputes them). ``None`` when the model
    has no plain body/head split; the caller then falls back to the model's own loss.
    """
    split = body_and_head(model)
    if split is None or "labels" not in inputs:
        return None
    body, head = split
    body_inputs = {k: v for k, v in inputs.items() if k not in ("labels", "shift_labels", "num_items_in_batch")}
    body_inputs["use_cache"] = False
    hidden = body(**body_inputs).last_hidden_state
    if "shift_labels" in inputs:  # context parallelism: already shifted
        labels = inputs["shift_labels"]
    else:
        hidden, labels = hidden[:, :-1], inputs["labels"][:, 1:]
    labels = labels.to(hidden.device)
    mask = labels != -100
    nll, entropy, is_top1 = _chunked_nll_function().apply(
        hidden[mask], head.weight, getattr(head, "bias", None), labels[mask]
    )
    log_probs = -nll
    if log_probs.numel() == 0:  # keep the graph connected: a batch without answer tokens adds a zero
        log_probs = hidden.sum() * 0.0
    return {"log_probs": log_probs, "entropy": entropy, "is_top1": is_top1, "n_tokens": mask.sum()}
