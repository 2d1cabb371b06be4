"""ChatModel: one loaded model that answers as the base model or the fine-tuned one.

The LoRA adapter sits on top of the base weights, so ``disable_adapter()`` gives the base model from the same
memory: evaluation and the app's Compare tab never hold two 8B models. Switching the adapter flips shared
state, so every generation holds :attr:`ChatModel.lock`.

Generation is batched with left padding and only the newly generated tokens are decoded (the prompt is
never scored as if it were the answer). Decoding is greedy by default for reproducible evaluation;
``repetition_penalty``/``no_repeat_ngram_size`` stay off because byte-level BPE pieces are shared between
Bengali letters and those penalties garble the script.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

VARIANTS = ("base", "tuned")
STREAM_THREAD = "bempathy-stream"


@dataclass
class DecodingSettings:
    max_new_tokens: int = 384
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_new_tokens": self.max_new_tokens, "do_sample": self.do_sample}
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p)
        return kwargs

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    text: str
    latency_s: float
    new_tokens: int


class ChatModel:
    """A causal LM plus an optional LoRA adapter, serving the ``base`` and ``tuned`` variants."""

    def __init__(self, model: Any, tokenizer: Any, has_adapter: bool) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.has_adapter = has_adapter
        self.lock = threading.RLock()

    @classmethod
    def load(cls, model_name_or_path: str, adapter_dir: str | Path | None = None, load_in_4bit: bool = False):
        """Load the base (4-bit on CUDA when asked) and, when given, the adapter on top of it."""
        import torch
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        from bempathy.hardware import compute_dtype
        from bempathy.strategies import load_tokenizer
        from bempathy.tiny import resolve_model_name

        dtype = compute_dtype()
        kwargs: dict[str, Any] = {"dtype": dtype}
        if torch.cuda.is_available():
            kwargs["device_map"] = {"": torch.cuda.current_device()}
            if load_in_4bit:
                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True,
                    bnb_4bit_quant_type="nf4",
                    bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=dtype,
                )
        model = AutoModelForCausalLM.from_pretrained(resolve_model_name(model_name_or_path), **kwargs)
        tokenizer = load_tokenizer(str(adapter_dir) if adapter_dir else model_name_or_path)
        if adapter_dir is not None:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(adapter_dir))
        model.config.pad_token_id = tokenizer.pad_token_id
        return cls(model, tokenizer, has_adapter=adapter_dir is not None)

    @contextmanager
    def variant(self, name: str):
        """Answer as the base model (adapter disabled) or the tuned one, holding the lock throughout."""
        if name not in VARIANTS:
            raise ValueError(f"unknown variant {name!r}; choose from {VARIANTS}")
        if name == "tuned" and not self.has_adapter:
            raise ValueError("no fine-tuned adapter is loaded")
        with self.lock:
            context = self.model.disable_adapter() if name == "base" and self.has_adapter else nullcontext()
            with context:
                yield self.model

    def _encode(self, conversations: Sequence[list[dict[str, str]]]):
        self.tokenizer.padding_side = "left"
        return self.tokenizer.apply_chat_template(
            list(conversations),
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        ).to(self.model.device)

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        variant: str = "tuned",
        settings: DecodingSettings | None = None,
        batch_size: int = 8,
        progress: Any | None = None,
    ) -> list[Generation]:
        """Answer each conversation (ending in a user turn), ``batch_size`` at a time."""
        import torch

        settings = settings or DecodingSettings()
        results: list[Generation] = []
        with self.variant(variant) as model, torch.inference_mode():
            for start in range(0, len(conversations), batch_size):
                batch = conversations[start : start + batch_size]
                inputs = self._encode(batch)
                began = time.perf_counter()
                output = model.generate(
                    **inputs, **settings.generate_kwargs(), pad_token_id=self.tokenizer.pad_token_id
                )
                latency = (time.perf_counter() - began) / len(batch)
                new = output[:, inputs["input_ids"].shape[1] :]
                for row in new:
                    ids = [t for t in row.tolist() if t != self.tokenizer.pad_token_id]
                    text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
                    results.append(Generation(text=text, latency_s=latency, new_tokens=len(ids)))
                if progress is not None:
                    progress.update(len(batch))
        return results

    def stream(
        self,
        conversation: list[dict[str, str]],
        variant: str = "tuned",
        settings: DecodingSettings | None = None,
    ) -> Iterator[str]:
        """Yield the answer as it grows (the app's Chat tab).

        The lock (and the adapter state) is held until generation has really ended: if the consumer stops
        early (a closed browser tab), the worker is told to stop and joined before anything is released.
        """
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class StopWhenSet(StoppingCriteria):
            def __init__(self, event: threading.Event) -> None:
                self.event = event

            def __call__(self, input_ids, scores, **kwargs):
                return torch.full((input_ids.shape[0],), self.event.is_set(), device=input_ids.device)

        settings = settings or DecodingSettings()
        stop = threading.Event()
        with self.variant(variant) as model:
            inputs = self._encode([conversation])
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs = {
                **inputs,
                **settings.generate_kwargs(),
                "streamer": streamer,
                "pad_token_id": self.tokenizer.pad_token_id,
                "stopping_criteria": StoppingCriteriaList([StopWhenSet(stop)]),
            }
            worker = threading.Thread(target=model.generate, kwargs=kwargs, name=STREAM_THREAD, daemon=True)
            worker.start()
            try:
                text = ""
                for piece in streamer:
                    text += piece
                    yield text
            finally:
                stop.set()
                worker.join()
