"""Compare tab: one prompt, two variants side by side from a single ``generate`` call; ``/compare`` and
``/compare_all``.

Every column is a row of one mixed-adapter batch (the base row runs with the adapters off, per row), so they share
decoding settings, seed and cost, and stream together. A preference run serves three variants (base, the SFT run
it started from, and its own adapter): the tab then shows three columns, and ``/compare_all`` answers every loaded
variant.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from bempathy.model.chat import DecodingSettings
from bempathy.serve.conversation import ColumnState, ConversationService
from bempathy.serve.requests import (
    CHAT_MAX_NEW_TOKENS,
    CHAT_TEMPERATURE,
    CHAT_TOP_P,
    MAX_NEW_TOKENS_LIMIT,
    TEMPERATURE_RANGE,
    TOP_P_RANGE,
)
from bempathy.ui.chat import EXAMPLES, REFUSED, crisis_banner, decoding_params, system_prompt_param, variant_param
from bempathy.ui.context import AppContext
from bempathy.ui.edge import client_error, text_param

COMPARE_SEED = 0


def compare_inputs(
    service: ConversationService,
    prompt: Any,
    left: Any,
    right: Any,
    temperature: Any,
    top_p: Any,
    max_new_tokens: Any,
    seed: Any,
    system_prompt: Any,
) -> tuple[str, str | None, str | None, DecodingSettings, int | None, str | None]:
    """Every ``/compare`` parameter checked before any model work (EdgeError or InputError), in
    :meth:`ConversationService.compare`'s order: prompt, left, right, settings, seed, system prompt."""
    text = service.check_message(text_param(prompt, "prompt", max_chars=service.max_input_chars))
    settings, seed = decoding_params(temperature, top_p, max_new_tokens, seed)
    return (
        text,
        variant_param(left, "left"),
        variant_param(right, "right"),
        settings,
        seed,
        system_prompt_param(system_prompt),
    )


def column_stats(column: ColumnState) -> dict[str, Any]:
    return {
        "variant": column.variant,
        "done": column.done,
        "new_tokens": column.new_tokens,
        "first_token_s": column.first_token_s,
        "latency_s": column.latency_s,
        "tokens_per_s": column.tokens_per_s,
        "safety_fallback": column.replaced,
    }


def build_compare_tab(ctx: AppContext) -> None:
    service = ctx.conversation
    if service is None:
        gr.Markdown("No model is loaded (crowd mode): Compare is not available here.")
        return
    choices = ctx.variant_choices()
    default_left, default_right = service.default_pair()
    if default_left == default_right:
        gr.Markdown("Only the base model is loaded: both columns show it. Train an adapter to compare.")
    gr.Markdown(crisis_banner(ctx), elem_id="compare-crisis-banner")
    prompt = gr.Textbox(label="Prompt", lines=3, placeholder="একটি বার্তা লিখুন…", elem_id="compare-input")
    gr.Examples(EXAMPLES, inputs=[prompt], label="উদাহরণ · Examples")
    with gr.Row():
        temperature = gr.Slider(*TEMPERATURE_RANGE, value=CHAT_TEMPERATURE, step=0.05, label="Temperature (0 = greedy)")
        top_p = gr.Slider(*TOP_P_RANGE, value=CHAT_TOP_P, step=0.01, label="Top-p")
        max_new = gr.Slider(16, MAX_NEW_TOKENS_LIMIT, value=CHAT_MAX_NEW_TOKENS, step=16, label="Max new tokens")
        seed = gr.Number(value=COMPARE_SEED, precision=0, label="Seed (every column)")
    run = gr.Button("তুলনা করুন · Compare", variant="primary", elem_id="compare-run")
    defaults = list(service.compare_order()) if len(choices) > 2 else [default_left, default_right]
    names = ["left", "right", "third"][: len(defaults)]
    dropdowns, texts, stats = [], [], []
    with gr.Row():
        for number, (name, default) in enumerate(zip(names, defaults, strict=True), start=1):
            with gr.Column():
                label = f"Model {number}"  # the dropdown shows which variant; "Left" / "Third" said nothing
                dropdowns.append(gr.Dropdown(choices, value=default, label=label, elem_id=f"compare-{name}-variant"))
                texts.append(
                    gr.Textbox(label=f"Answer {number}", lines=10, interactive=False, elem_id=f"compare-{name}")
                )
                stats.append(gr.Markdown(elem_id=f"compare-{name}-stats"))
    columns = len(defaults)

    @ctx.gpu
    def run_compare(text, *values) -> Iterator:
        chosen, (temperature, top_p, max_new, seed) = values[:columns], values[columns:]
        try:
            text, left, right, settings, seed, _ = compare_inputs(
                service, text, chosen[0], chosen[1], temperature, top_p, max_new, seed, None
            )
            variants = [left, right, *(variant_param(v, n) for v, n in zip(chosen[2:], names[2:], strict=True))]
            for states in service.compare_variants(text, variants, settings, seed):
                yield *(s.text for s in states), *(s.stats_line() for s in states)
        except REFUSED as error:
            raise client_error(error) from None

    run.click(
        run_compare,
        [prompt, *dropdowns, temperature, top_p, max_new, seed],
        [*texts, *stats],
        **ctx.model_queue,
        api_visibility="private",
    )

    @ctx.gpu
    def compare(
        prompt: str,
        left: str | None = None,
        right: str | None = None,
        temperature: float = CHAT_TEMPERATURE,
        top_p: float = CHAT_TOP_P,
        max_new_tokens: int = CHAT_MAX_NEW_TOKENS,
        seed: int | None = COMPARE_SEED,
        system_prompt: str | None = None,
    ) -> Iterator[tuple[str, str, dict]]:
        """Stream (left answer, right answer, stats) for one prompt; base vs tuned by default.

        Both answers come from one generate call with the same decoding and seed.
        """
        try:
            checked = compare_inputs(
                service, prompt, left, right, temperature, top_p, max_new_tokens, seed, system_prompt
            )
            for a, b in service.compare(*checked):
                yield a.text, b.text, {"left": column_stats(a), "right": column_stats(b)}
        except REFUSED as error:
            raise client_error(error) from None

    gr.api(compare, api_name="compare", **ctx.model_queue)

    @ctx.gpu
    def compare_all(
        prompt: str,
        temperature: float = CHAT_TEMPERATURE,
        top_p: float = CHAT_TOP_P,
        max_new_tokens: int = CHAT_MAX_NEW_TOKENS,
        seed: int | None = COMPARE_SEED,
        system_prompt: str | None = None,
    ) -> Iterator[dict]:
        """Stream every loaded variant's answer (base first; a preference run: base, sft, tuned) for one prompt.

        All rows come from one generate call with the same decoding and seed. Each update is
        ``{"variants": [...], "answers": {variant: text}, "stats": {variant: {...}}}``.
        """
        try:
            text, _, _, settings, seed, system = compare_inputs(
                service, prompt, None, None, temperature, top_p, max_new_tokens, seed, system_prompt
            )
            for states in service.compare_variants(text, None, settings, seed, system):
                yield {
                    "variants": [s.variant for s in states],
                    "answers": {s.variant: s.text for s in states},
                    "stats": {s.variant: column_stats(s) for s in states},
                }
        except REFUSED as error:
            raise client_error(error) from None

    gr.api(compare_all, api_name="compare_all", **ctx.model_queue)

    def variants() -> list[dict[str, Any]]:
        """The loaded variants, their labels and experiment ids."""
        return [
            {"variant": v, "label": ctx.labels.get(v, v), "experiment_id": ctx.plan.experiment_ids.get(v)}
            for v in ctx.chat.variants
        ]

    gr.api(variants, api_name="variants", concurrency_id="variants", concurrency_limit=None)
