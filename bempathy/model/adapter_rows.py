"""Rows of one batch answering as different variants (the base model or a LoRA adapter), as cheaply as possible.

Why: the Compare tab and evaluation put the base and tuned rows of the same prompts into one ``generate`` call,
so one forward pass per token serves both. PEFT's general way (``adapter_names``) registers a hook on every LoRA
layer, splits each layer's input into per-adapter sub-batches and scatters the results back, at every decoding
step. For the case that matters here, the base model and one plain LoRA adapter, the same answer comes from
running that adapter on every row with its scale set to 0 on the base rows: ``base(x) + 0 * B(A(x))`` is
``base(x)``; a saved ``nn.Linear`` (the ``tiny-cpu`` preset saves ``lm_head``) runs both copies on every row and
each row keeps its own. A batch of one variant needs neither: the adapter is switched on (``set_adapter``) or off
(``disable_adapter``). Anything else (two adapters in one batch, DoRA, other saved modules, another architecture)
keeps PEFT's ``adapter_names``.

Adapter state is shared by every user of the model: callers hold the model's lock for the whole ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

# PEFT's name for "no adapter" in a mixed-adapter batch.
PEFT_BASE = "__base__"
# Architectures whose LoRA-wrapped projections see [batch, sequence, features] inputs, so a per-row scale of shape
# [batch, 1, 1] broadcasts onto exactly its row, as long as generate does not expand the batch (ChatModel asks for
# one beam and one sequence per row).
_ROW_SCALED_MODEL_TYPES = frozenset({"llama"})
# peft.tuners.lora layer classes whose forward is ``result + lora_B(lora_A(dropout(x))) * scaling[adapter]``.
_PLAIN_LORA_CLASSES = frozenset({"Linear", "Linear4bit", "Linear8bitLt"})


def _tuner_layers(model: Any) -> list[Any]:
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper

    return [m for m in model.modules() if isinstance(m, BaseTunerLayer | AuxiliaryTrainingWrapper)]


def _is_saved_linear(layer: Any, adapter: str) -> bool:
    """A ``ModulesToSaveWrapper`` around an ``nn.Linear`` with a saved copy for ``adapter`` (a row-wise map)."""
    import torch
    from peft.utils.other import ModulesToSaveWrapper

    return (
        type(layer) is ModulesToSaveWrapper
        and adapter in layer.modules_to_save
        and isinstance(layer.original_module, torch.nn.Linear)
        and isinstance(layer.modules_to_save[adapter], torch.nn.Linear)
    )


def row_scalable_layers(model: Any, adapter: str) -> list[Any] | None:
    """The LoRA layers and saved linears carrying ``adapter`` when answering row by row reproduces PEFT's mixed
    batch exactly, else None."""
    config = getattr(getattr(model, "get_base_model", lambda: model)(), "config", None)
    if getattr(config, "model_type", None) not in _ROW_SCALED_MODEL_TYPES:
        return None
    layers = []
    for layer in _tuner_layers(model):
        if _is_saved_linear(layer, adapter):
            layers.append(layer)
            continue
        plain = (
            type(layer).__module__.startswith("peft.tuners.lora")
            and type(layer).__name__ in _PLAIN_LORA_CLASSES
            and not getattr(layer, "lora_variant", {})
            and not getattr(layer, "lora_embedding_A", {})
            and not getattr(layer, "merged", False)  # merged weights would give the base rows the adapter
        )
        if not plain:
            return None  # DoRA, embeddings, saved non-linear modules, trainable tokens, other tuners: PEFT's way
        if adapter in layer.lora_A:
            layers.append(layer)
    return layers or None


@contextmanager
def _scaled_rows(layers: Sequence[Any], adapter: str, on: Sequence[bool]) -> Iterator[None]:
    import torch
    from peft.utils.other import ModulesToSaveWrapper

    saved: list[tuple[Any, Any]] = []
    wrapped: list[tuple[Any, Any]] = []
    try:
        for layer in layers:
            if isinstance(layer, ModulesToSaveWrapper):  # a saved linear: both copies on every row, each keeps its own
                wrapped.append((layer, vars(layer).get("forward")))
                layer.forward = _per_row_forward(layer, adapter, on)
                continue
            scale = layer.scaling[adapter]
            weight = layer.lora_B[adapter].weight
            rows = torch.tensor(on, dtype=torch.float32, device=weight.device).view(-1, 1, 1) * scale
            if rows.to(weight.dtype).float().equal(rows):  # exact in the adapter's dtype (2.0, 0.5, ...): keep it
                rows = rows.to(weight.dtype)
            saved.append((layer, scale))
            layer.scaling[adapter] = rows
        yield
    finally:
        for layer, scale in saved:
            layer.scaling[adapter] = scale
        for layer, previous in wrapped:
            if previous is None:
                vars(layer).pop("forward", None)
            else:
                layer.forward = previous


def _per_row_forward(wrapper: Any, adapter: str, on: Sequence[bool]) -> Any:
    import torch

    saved_copy, original = wrapper.modules_to_save[adapter], wrapper.original_module
    device = original.weight.device
    rows = torch.tensor(on, dtype=torch.bool, device=device)

    def forward(x: Any, *args: Any, **kwargs: Any) -> Any:
        if x.shape[0] != rows.numel():
            raise ValueError(f"{x.shape[0]} rows reached a saved module set up for {rows.numel()}")
        mask = rows.view(-1, *([1] * (x.dim() - 1)))
        return torch.where(mask, saved_copy(x, *args, **kwargs), original(x, *args, **kwargs))

    return forward


@contextmanager
def rows_as(model: Any, adapter_per_row: Sequence[str | None]) -> Iterator[dict[str, Any]]:
    """Set ``model`` up so that row i answers with adapter ``adapter_per_row[i]`` (None: the base model).

    Yields the extra ``generate``/``forward`` keyword arguments the rows need (``{}`` or PEFT's
    ``adapter_names``). ``model`` is a ``PeftModel``, or a plain model when every row is None.
    """
    names = set(adapter_per_row)
    if not hasattr(model, "disable_adapter"):
        if names - {None}:
            raise ValueError("this model has no adapters; every row must be the base model")
        yield {}
        return
    if names == {None}:
        with model.disable_adapter():
            yield {}
        return
    if len(names) == 1:  # one adapter on every row
        model.set_adapter(next(iter(names)), inference_mode=True)
        yield {}
        return
    adapters = sorted(names - {None})
    layers = row_scalable_layers(model, adapters[0]) if len(adapters) == 1 else None
    if layers is None:
        yield {"adapter_names": [PEFT_BASE if a is None else a for a in adapter_per_row]}
        return
    model.set_adapter(adapters[0], inference_mode=True)
    with _scaled_rows(layers, adapters[0], [a is not None for a in adapter_per_row]):
        yield {}
