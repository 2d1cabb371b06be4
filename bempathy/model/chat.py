"""ChatModel: one loaded model that answers as the base model, the fine-tuned one, or any loaded adapter.

The LoRA adapters sit on top of the base weights, so evaluation and the app's Compare tab never hold two 8B
models, and mixed-variant batches (:mod:`bempathy.model.adapter_rows`) let one ``generate`` call answer as base and
tuned at once (one forward pass per token serves both columns). All use of the model runs on the process's model
thread (:mod:`bempathy.model.thread`: the CPU math library is only fast for small batches with one calling
thread), holding :attr:`ChatModel.lock` there, because switching the active adapter flips shared state. Callers
never take that lock themselves: waiting for the model thread while holding it would deadlock.

Generation is batched with left padding and only the newly generated tokens are decoded (the prompt is
never scored as if it were the answer). Decoding is greedy by default for reproducible evaluation;
``repetition_penalty``/``no_repeat_ngram_size`` stay off because byte-level BPE pieces are shared between
Bengali letters and those penalties garble the script.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeVar

from bempathy.hardware import compute_dtype
from bempathy.model.adapter_rows import rows_as
from bempathy.model.lm_head import use_decode_head
from bempathy.model.streaming import BatchStreamer, Snapshot
from bempathy.model.thread import model_thread
from bempathy.model.tokenizer import load_tokenizer

BASE = "base"
TUNED = "tuned"
# A preference run serves the SFT run it started from under this name, next to its own adapter (``tuned``).
SFT = "sft"
T = TypeVar("T")


@dataclass
class DecodingSettings:
    max_new_tokens: int = 384
    do_sample: bool = False
    temperature: float = 0.7
    top_p: float = 0.9

    def generate_kwargs(self) -> dict[str, Any]:
        # One sequence per row, whatever a model's generation_config says: the streamer and the per-row variants
        # (bempathy.model.adapter_rows) both count on generate never expanding the batch. The KV cache always: a config
        # saved for training may say use_cache=False, and then every token would recompute the prompt.
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "num_beams": 1,
            "num_return_sequences": 1,
            "use_cache": True,
        }
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


def rows_of(variant: str | Sequence[str], conversations: Sequence[Any]) -> list[str]:
    """One variant name per conversation: ``variant`` for all of them, or the given list (checked to fit). Both
    generation backends take either form, so they share this."""
    per_row = [variant] * len(conversations) if isinstance(variant, str) else list(variant)
    if len(per_row) != len(conversations):
        raise ValueError("one variant per conversation")
    return per_row


class ChatModel:
    """A causal LM with zero or more LoRA adapters on the same base weights.

    Variants: ``base`` (adapters off) and one name per adapter (``tuned`` for a run's own adapter, an experiment id
    for extra ones). A batch may mix variants row by row (:func:`bempathy.model.adapter_rows.rows_as`), so base
    and tuned answers of a comparison or an evaluation come from one ``generate`` call. Adapter state is shared,
    so every use of the model holds :attr:`lock`. On a CPU the LM head gets its decoding shape
    (:func:`use_decode_head`).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        has_adapter: bool | None = None,
        *,
        adapters: dict[str, str] | None = None,
        demo: bool = False,
        name: str = "",
    ) -> None:

        self.model = model.eval()
        use_decode_head(self.model)
        self.tokenizer = tokenizer
        if adapters is None:
            adapters = {TUNED: getattr(model, "active_adapter", "default")} if has_adapter else {}
        # variant name -> PEFT adapter name
        self.adapters: dict[str, str] = dict(adapters)
        self.demo = demo
        self.name = name
        self.lock = threading.RLock()

    @property
    def has_adapter(self) -> bool:
        return bool(self.adapters)

    @property
    def variants(self) -> list[str]:
        """Adapters first (the fine-tuned model is what people came to see), then the base."""
        return [*self.adapters, BASE]

    @classmethod
    def load(
        cls,
        model_name_or_path: str,
        adapter_dir: str | Path | None = None,
        load_in_4bit: bool = False,
        *,
        adapters: dict[str, str | Path] | None = None,
        revision: str | None = None,
    ) -> ChatModel:
        """Load the base (4-bit on CUDA when asked) and every adapter on top of it.

        ``adapter_dir`` is the run's own adapter (variant ``tuned``); ``adapters`` maps more variant names to
        adapter folders. The tokenizer comes from the first adapter folder (train.py saves it there).
        """
        import torch
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        from bempathy.model.tiny import is_tiny_model, resolve_model_name

        named = {TUNED: adapter_dir} if adapter_dir is not None else {}
        named.update(adapters or {})
        if BASE in named:
            raise ValueError(f"an adapter cannot be called {BASE!r}: that name is the model without adapters")
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
        kwargs["revision"] = revision
        model = AutoModelForCausalLM.from_pretrained(resolve_model_name(model_name_or_path), **kwargs)
        first = next(iter(named.values()), None)
        tokenizer = load_tokenizer(str(first) if first is not None else model_name_or_path)
        if named:
            from peft import PeftModel

            items = list(named.items())
            model = PeftModel.from_pretrained(model, str(items[0][1]), adapter_name=items[0][0])
            for variant, path in items[1:]:
                model.load_adapter(str(path), adapter_name=variant)
        model.config.pad_token_id = tokenizer.pad_token_id
        return cls(
            model,
            tokenizer,
            adapters={variant: variant for variant in named},
            demo=is_tiny_model(model_name_or_path),
            name=model_name_or_path,
        )

    def _check(self, variant: str) -> None:
        if variant != BASE and variant not in self.adapters:
            known = ", ".join(self.variants)
            if variant == TUNED:
                raise ValueError(f"no fine-tuned adapter is loaded (variants: {known})")
            raise ValueError(f"unknown variant {variant!r}; choose from {known}")

    def _check_all(self, variants: Sequence[str]) -> None:
        """Refuse unknown variants in the caller's thread, before the model thread is asked."""
        for variant in set(variants):
            self._check(variant)

    def call(self, variant: str, fn: Callable[[Any], T]) -> T:
        """``fn(model)`` with the model answering as ``variant``, on the model thread, holding the lock."""
        self._check_all([variant])

        def task() -> T:
            with self.lock, self._rows([variant]):
                return fn(self.model)

        return self._model_thread().run(task)

    def _model_thread(self):
        """The model thread, refusing a caller that holds the lock (its task would wait for that caller)."""
        worker = model_thread()
        if not worker.is_current() and self.lock._is_owned():
            raise RuntimeError("ChatModel.lock is held by this thread: release it before generating")
        return worker

    def _encode(self, conversations: Sequence[list[dict[str, str]]]):
        self.tokenizer.padding_side = "left"
        return self.tokenizer.apply_chat_template(
            list(conversations),
            add_generation_prompt=True,
            padding=True,
            return_tensors="pt",
            return_dict=True,
        ).to(self.model.device)

    def _rows(self, variants: Sequence[str]):
        """The model set up to answer row i as ``variants[i]`` (checked by :meth:`_check_all`, lock held); yields
        generate kwargs."""
        return rows_as(self.model, [None if v == BASE else self.adapters[v] for v in variants])

    def _stop_ids(self) -> set[int]:
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos]) - {None}
        return ids | {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id}

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        variant: str | Sequence[str] = TUNED,
        settings: DecodingSettings | None = None,
        batch_size: int = 8,
        progress: Any | None = None,
        seed: int | None = None,
    ) -> list[Generation]:
        """Answer each conversation (ending in a user turn), ``batch_size`` rows per ``generate`` call.

        ``variant`` is one name for all rows or one per row; rows of different variants share a call.
        """
        import torch

        settings = settings or DecodingSettings()
        per_row = rows_of(variant, conversations)
        self._check_all(per_row)

        stop = threading.Event()  # set when the caller stops waiting (Ctrl-C): the model thread stops too

        def task() -> list[Generation]:
            with self.lock, torch.inference_mode():
                if seed is not None:
                    torch.manual_seed(seed)
                return self._generate_batches(conversations, per_row, settings, batch_size, progress, stop)

        future = self._model_thread().submit(task)
        try:
            return future.result()
        except BaseException:
            stop.set()
            future.cancel()
            raise

    def _generate_batches(
        self,
        conversations: Sequence[list[dict[str, str]]],
        per_row: Sequence[str],
        settings: DecodingSettings,
        batch_size: int,
        progress: Any | None,
        stop: threading.Event,
    ) -> list[Generation]:
        from transformers import StoppingCriteriaList

        results: list[Generation] = []
        for start in range(0, len(conversations), batch_size):
            if stop.is_set():
                raise InterruptedError("generation stopped: the caller went away")
            batch = conversations[start : start + batch_size]
            inputs = self._encode(batch)
            began = time.perf_counter()
            with self._rows(per_row[start : start + batch_size]) as row_kwargs:
                output = self.model.generate(
                    **inputs,
                    **settings.generate_kwargs(),
                    **row_kwargs,
                    pad_token_id=self.tokenizer.pad_token_id,
                    stopping_criteria=StoppingCriteriaList([_stop_when_set(stop)]),
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

    def stream_many(
        self,
        conversations: Sequence[list[dict[str, str]]],
        variants: Sequence[str],
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Snapshot]:
        """Stream several rows of one ``generate`` call (Compare: base and tuned side by side).

        ``generate`` runs on the model thread, which itself holds the lock (and the adapter state) from encoding
        to the end: a generator's steps may run on different threads (Gradio hands each step to any worker
        thread, and closes a cancelled one from its event loop), so the consumer must never own a lock across
        ``yield``. If the consumer stops early (a closed tab, the Stop button), a call still waiting for the
        model thread is cancelled, and a running one is told to stop at its next token and waited for, so the
        model is released before this generator finishes.
        """
        import torch
        from transformers import StoppingCriteriaList

        if len(variants) != len(conversations):
            raise ValueError("one variant per conversation")
        settings = settings or DecodingSettings()
        stop = stop or threading.Event()
        self._check_all(variants)
        streamer = BatchStreamer(self.tokenizer, len(conversations), self._stop_ids())

        def work() -> None:
            try:
                with self.lock, torch.inference_mode(), self._rows(variants) as row_kwargs:
                    kwargs = {
                        **self._encode(conversations),
                        **settings.generate_kwargs(),
                        **row_kwargs,
                        "pad_token_id": self.tokenizer.pad_token_id,
                        "stopping_criteria": StoppingCriteriaList([_stop_when_set(stop)]),
                        "streamer": streamer,
                    }
                    if seed is not None:
                        torch.manual_seed(seed)
                    self.model.generate(**kwargs)
            except BaseException as error:  # surfaced in the consumer thread
                streamer.fail(error)

        task = self._model_thread().submit(work)
        try:
            yield from streamer.snapshots()
        finally:
            stop.set()
            if not task.cancel():
                task.result()

    def stream(
        self,
        conversation: list[dict[str, str]],
        variant: str = TUNED,
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield one answer as it grows (the Chat tab)."""
        for snapshot in self.stream_many([conversation], [variant], settings, seed, stop):
            yield snapshot.texts[0]


def _stop_when_set(event: threading.Event) -> Any:
    """A stopping criterion that ends every row at the next token once ``event`` is set."""
    import torch
    from transformers import StoppingCriteria

    class StopWhenSet(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), event.is_set(), device=input_ids.device)

    return StopWhenSet()
