"""Chat tab: a streamed, multi-turn conversation with one variant; and the ``/chat`` API endpoint.

Every reply goes through :class:`bempathy.serve.conversation.ConversationService` (crisis help block, answer checks).
Messages are never logged unless the operator allowed it (``--allow-chat-logging``) *and* the user ticks the box,
which then shows a notice.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from bempathy.model.chat import DecodingSettings
from bempathy.serve.conversation import HISTORY_ENTRIES_LIMIT, ConversationService
from bempathy.serve.requests import (
    CHAT_MAX_NEW_TOKENS,
    CHAT_TEMPERATURE,
    CHAT_TOP_P,
    MAX_NEW_TOKENS_LIMIT,
    MAX_SYSTEM_PROMPT_CHARS,
    TEMPERATURE_RANGE,
    TOP_P_RANGE,
    InputError,
    flatten_content,
    sampling_settings,
)
from bempathy.ui.context import AppContext
from bempathy.ui.edge import EdgeError, client_error, history_param, number_param, optional_seed, text_param

VARIANT_MAX_CHARS = 200  # variant names are "base", "tuned" or experiment ids
REFUSED = (EdgeError, InputError)  # a refused input: shown to the client as gr.Error with its one-line message

EXAMPLES = [
    "আমার খুব একা লাগে, কারও সঙ্গে কথা বলতে ইচ্ছে করে না।",
    "পরীক্ষার ফল খারাপ হয়েছে, বাবা-মাকে কীভাবে বলব বুঝতে পারছি না।",
    "অফিসের চাপে রাতে ঘুম আসে না।",
    "মা মারা যাওয়ার পর থেকে কিছুই ভালো লাগে না।",
]


def crisis_banner(ctx: AppContext) -> str:
    """Always on screen, whatever the detector decides about a message: it misses phrasings it has not seen."""
    number = ctx.policy.config.help_numbers[0]["number"] if ctx.policy.config.help_numbers else "999"
    return (
        f"বিপদে আছেন বা নিজের ক্ষতির কথা ভাবছেন? এখনই **{number}**-এ ফোন করুন এবং কাছের কারও সঙ্গে কথা বলুন। "
        f"In danger or thinking of harming yourself? Call **{number}** now and talk to someone near you."
    )


LOGGING_NOTICE = (
    "**এই কথোপকথন সংরক্ষণ করা হচ্ছে।** This conversation is being saved to the project's logs for research. "
    "Untick the box to stop."
)


def decoding_params(
    temperature: Any, top_p: Any, max_new_tokens: Any, seed: Any
) -> tuple[DecodingSettings, int | None]:
    """The decoding controls of Chat and Compare: types checked here (None: the default), ranges by the service."""
    settings = sampling_settings(
        number_param(temperature, "temperature", default=CHAT_TEMPERATURE),
        number_param(top_p, "top_p", default=CHAT_TOP_P),
        number_param(max_new_tokens, "max_new_tokens", integer=True, default=CHAT_MAX_NEW_TOKENS),
    )
    return settings, optional_seed(seed)


def variant_param(value: Any, name: str = "variant") -> str | None:
    """A variant name or None (the default one); the service says whether it is loaded."""
    return text_param(value, name, max_chars=VARIANT_MAX_CHARS, default=None)


def system_prompt_param(value: Any) -> str | None:
    """A system prompt or None (the served run's)."""
    return text_param(value, "system_prompt", max_chars=MAX_SYSTEM_PROMPT_CHARS, default=None)


def chat_inputs(
    service: ConversationService,
    message: Any,
    history: Any,
    variant: Any,
    temperature: Any,
    top_p: Any,
    max_new_tokens: Any,
    seed: Any,
    system_prompt: Any,
) -> tuple[str, list[dict[str, Any]], str | None, DecodingSettings, int | None, str | None]:
    """Every ``/chat`` parameter checked before any model work (EdgeError or InputError), in
    :meth:`ConversationService.chat_turn`'s order: message, history, variant, settings, seed, system prompt."""
    text = service.check_message(text_param(message, "message", max_chars=service.max_input_chars))
    turns = history_param(history, max_entries=HISTORY_ENTRIES_LIMIT)
    settings, seed = decoding_params(temperature, top_p, max_new_tokens, seed)
    return text, turns, variant_param(variant), settings, seed, system_prompt_param(system_prompt)


def build_chat_tab(ctx: AppContext) -> None:
    service = ctx.conversation
    if service is None:
        gr.Markdown("No model is loaded (crowd mode): Chat is not available here.")
        return
    choices = ctx.variant_choices()
    gr.Markdown(crisis_banner(ctx), elem_id="crisis-banner")
    with gr.Row():
        with gr.Column(scale=3):
            chatbot = gr.Chatbot(label="কথোপকথন · Conversation", height=460, elem_id="chatbot")
            with gr.Row():
                message = gr.Textbox(
                    placeholder="আপনার কথা লিখুন… (Enter to send)",
                    show_label=False,
                    scale=5,
                    max_lines=6,
                    elem_id="chat-input",
                )
                send = gr.Button("পাঠান · Send", variant="primary", scale=1, elem_id="chat-send")
            with gr.Row():
                stop = gr.Button("থামুন · Stop", size="sm")
                regenerate = gr.Button("আবার · Regenerate", size="sm")
                clear = gr.Button("মুছুন · Clear", size="sm")
            gr.Examples(EXAMPLES, inputs=[message], label="উদাহরণ · Examples")
        with gr.Column(scale=1, min_width=240):
            variant = gr.Dropdown(choices, value=choices[0][1], label="Model variant", elem_id="chat-variant")
            temperature = gr.Slider(
                *TEMPERATURE_RANGE, value=CHAT_TEMPERATURE, step=0.05, label="Temperature (0 = greedy)"
            )
            top_p = gr.Slider(*TOP_P_RANGE, value=CHAT_TOP_P, step=0.01, label="Top-p")
            max_new = gr.Slider(16, MAX_NEW_TOKENS_LIMIT, value=CHAT_MAX_NEW_TOKENS, step=16, label="Max new tokens")
            seed = gr.Number(value=-1, precision=0, label="Seed (-1 = random)")
            log_opt_in = gr.Checkbox(
                False,
                label="Save this conversation for research (opt-in)",
                visible=ctx.allow_chat_logging,
            )
            notice = gr.Markdown(LOGGING_NOTICE, visible=False, elem_id="chat-logging-notice")
            with gr.Accordion("System prompt", open=False):
                system = gr.Textbox(service.system_prompt, lines=6, show_label=False, elem_id="chat-system-prompt")
            stored = "unless you tick the box" if ctx.allow_chat_logging else "in this app"
            limit = service.max_input_chars
            gr.Markdown(f"Messages are limited to {limit} characters. Nothing you write is stored {stored}.")

    @ctx.gpu
    def respond(text, history, variant, temperature, top_p, max_new, seed, system, log) -> Iterator:
        try:
            checked = chat_inputs(service, text, history, variant, temperature, top_p, max_new, seed, system)
            text, turns, variant, settings, seed, system = checked
            stream = service.chat_turn(
                text, turns, variant, settings, seed, system, log=log is True and ctx.allow_chat_logging
            )
            shown = [*(history or []), {"role": "user", "content": text}, {"role": "assistant", "content": ""}]
            for partial in stream:
                shown[-1] = {"role": "assistant", "content": partial}
                yield shown, ""
        except REFUSED as error:
            raise client_error(error) from None

    def drop_last_turn(history):
        """Regenerate: take the last user message back out of the history and answer it again."""
        history = list(history or [])
        while history and history[-1].get("role") == "assistant":
            history.pop()
        last = history.pop() if history else None
        return history, flatten_content(last.get("content")) if isinstance(last, dict) else ""

    inputs = [message, chatbot, variant, temperature, top_p, max_new, seed, system, log_opt_in]
    events = [
        trigger(
            respond,
            inputs,
            [chatbot, message],
            **ctx.model_queue,
            api_visibility="private",
        )
        for trigger in (message.submit, send.click)
    ]
    regen = regenerate.click(drop_last_turn, [chatbot], [chatbot, message], api_visibility="private").then(
        respond,
        inputs,
        [chatbot, message],
        **ctx.model_queue,
        api_visibility="private",
    )
    stop.click(None, cancels=[*events, regen])
    clear.click(lambda: ([], ""), None, [chatbot, message], cancels=[*events, regen], api_visibility="private")
    log_opt_in.change(lambda on: gr.update(visible=bool(on)), [log_opt_in], [notice], api_visibility="private")
    _register_api(ctx, service)


def _register_api(ctx: AppContext, service: ConversationService) -> None:
    """``/chat``: the same turn as the tab, for scripts; nothing is logged."""

    @ctx.gpu
    def chat(
        message: str,
        history: list | None = None,
        variant: str | None = None,
        temperature: float = CHAT_TEMPERATURE,
        top_p: float = CHAT_TOP_P,
        max_new_tokens: int = CHAT_MAX_NEW_TOKENS,
        seed: int | None = None,
        system_prompt: str | None = None,
    ) -> Iterator[str]:
        """Stream the reply to `message` (after `history`, Gradio messages format) from one variant.

        Crisis messages get the help block first; unsafe answers are replaced. Nothing is logged.
        """
        try:
            checked = chat_inputs(
                service, message, history, variant, temperature, top_p, max_new_tokens, seed, system_prompt
            )
            yield from service.chat_turn(*checked, log=False)
        except REFUSED as error:
            raise client_error(error) from None

    gr.api(chat, api_name="chat", **ctx.model_queue)
