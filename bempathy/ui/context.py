"""What every tab shares: the served model (or none), the logs, the safety policy, the rating service."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bempathy.safety.policy import SafetyPolicy
from bempathy.serve.plan import ModelPlan
from bempathy.storage.store import Store

# Everything that generates shares this queue: one at a time for the in-process model (its adapter state is
# shared), AppContext.model_concurrency at a time when a server generates.
MODEL_QUEUE = "model"
# Listeners that only read logs or write ratings never wait behind a generation.
LOGS_QUEUE = "logs"
RATING_QUEUE = "rating"
LOGS_CONCURRENCY = 8
RATING_CONCURRENCY = 32


def _identity(fn: Callable) -> Callable:
    return fn


@dataclass
class AppContext:
    plan: ModelPlan
    store: Store
    policy: SafetyPolicy
    chat: Any | None = None  # ChatModel, or None in crowd mode
    conversation: Any | None = None  # ConversationService, or None in crowd mode
    rating: Any | None = None  # RatingService, or None when there is nothing to rate
    rating_error: str | None = None  # why rating is off when its log could not be read (the rest still works)
    trusted_proxies: int = 0  # proxies in front of the app whose X-Forwarded-For hop is believed
    allow_chat_logging: bool = False
    admin_token: str | None = None
    gpu: Callable[[Callable], Callable] = field(default=_identity)  # spaces.GPU on ZeroGPU, else a no-op
    # Generations at once on MODEL_QUEUE: 1 for the in-process model (shared adapter state); a server batches many.
    model_concurrency: int = 1

    @property
    def model_queue(self) -> dict[str, Any]:
        """The queue keywords of every listener that generates (Chat, Compare and their endpoints)."""
        return {"concurrency_id": MODEL_QUEUE, "concurrency_limit": self.model_concurrency}

    def is_admin(self, token: Any) -> bool:
        """Whether ``token`` is the admin token (constant-time; never true when no token is configured)."""
        return bool(self.admin_token) and isinstance(token, str) and hmac.compare_digest(token, self.admin_token)

    def study_open(self) -> bool:
        """Whether raters are rating here now: then no public view may show the rated answers with their variant."""
        return self.rating is not None and bool(self.rating.items)

    @property
    def labels(self) -> dict[str, str]:
        return self.plan.labels

    def variant_choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the variant dropdowns, adapters first."""
        if self.chat is None:
            return []
        return [(self.labels.get(v, v), v) for v in self.chat.variants]

    def notice(self) -> str:
        """The banner under the title: what model this is, in words."""
        lines = []
        if self.plan.notice:
            lines.append(self.plan.notice)
        if self.chat is not None and self.chat.demo and self.plan.source != "demo":
            from bempathy.model.tiny import DEMO_MODEL_NOTE  # describes tiny-bn, the model demo.py trains on

            lines.append(DEMO_MODEL_NOTE)
        return " ".join(lines)
