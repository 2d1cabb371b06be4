"""The system prompt and the Llama 3.1 chat template every stage shares.

Training, evaluation and the app must render conversations identically, so the template lives here once.
It reproduces the Llama 3.1 turn format (header tokens, ``<|eot_id|>`` after each turn) without the stock
template's tool-calling preamble, and wraps each assistant answer *and its* ``<|eot_id|>`` in
``{% generation %}`` markers: TRL's ``assistant_only_loss`` then trains exactly the answer plus the end
token, so the model learns to stop (see ../shared/STACK.md, "TRL 1.x").
"""

from __future__ import annotations

BOS_TOKEN = "<|begin_of_text|>"
EOS_TOKEN = "<|end_of_text|>"
START_HEADER = "<|start_header_id|>"
END_HEADER = "<|end_header_id|>"
EOT_TOKEN = "<|eot_id|>"
EOM_TOKEN = "<|eom_id|>"
PYTHON_TAG = "<|python_tag|>"
# Llama 3.1 ships a dedicated padding token; padding with eos would mask every end-of-turn token.
PAD_TOKEN = "<|finetune_right_pad_id|>"

LLAMA31_SPECIAL_TOKENS: tuple[str, ...] = (
    BOS_TOKEN,
    EOS_TOKEN,
    START_HEADER,
    END_HEADER,
    EOT_TOKEN,
    EOM_TOKEN,
    PYTHON_TAG,
    PAD_TOKEN,
)

# The fixed prompt is in every training example and every chat turn, with no loss on it. The rules are written in
# English because Bengali costs ~1.2 Llama 3 tokens per character: the earlier all-Bengali prompt (460 characters)
# was 574 tokens, more than the median example (~144), so most training compute went to it. This one is 112 tokens
# under the real Llama 3 tokenizer (`python bench/run.py --tokenizer ...` measures it) and keeps its rules: an
# empathetic counsellor answering in Bengali, no medical or legal advice, help in a crisis (999, as the safety
# layer's help block). It ends in Bengali so the model is asked for Bengali in Bengali too.
SYSTEM_PROMPT = (
    "You are an empathetic counsellor for Bengali speakers. Answer in warm, simple Bengali: listen, acknowledge "
    "their feelings and suggest small, practical steps. Never give medical or legal advice; suggest a qualified "
    "professional instead. If someone speaks of harming themselves or of being in danger, urge them to contact "
    "someone close right now and to call 999. সবসময় সহজ বাংলায় উত্তর দিন।"
)

LLAMA31_CHAT_TEMPLATE = (
    "{{- bos_token -}}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}"
    "{%- generation -%}"
    "{{- message['content'] | trim + '<|eot_id|>' -}}"
    "{%- endgeneration -%}"
    "{%- else -%}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}"
    "{%- endif -%}"
)


def chat_messages(user_text: str, assistant_text: str | None = None, system_prompt: str = SYSTEM_PROMPT):
    """Build one conversation in the ``messages`` format: system, user and (for training) assistant."""
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_text}]
    if assistant_text is not None:
        messages.append({"role": "assistant", "content": assistant_text})
    return messages


def system_prompt_or_default(prompt: str | None) -> str:
    """The configured system prompt (``--system_prompt``), or :data:`SYSTEM_PROMPT` when none (or a blank) is set.

    The data writer and every reader of a run (serving, rating) resolve it here, so they cannot disagree.
    """
    return prompt if prompt and prompt.strip() else SYSTEM_PROMPT
