"""The project's JSON logs (TinyDB), safe for many threads and several processes writing at once.

Three logs live in the logs directory (``Store(logs_dir)``, else ``$BEMPATHY_LOGS_DIR``, else ``./logs``);
each is a TinyDB file whose single table is named like the file:

``LLAMAExperiments.json`` - one record per fine-tuning run:
    id, model_name, strategy, lora_config, training settings, data summary, train_loss, val_loss,
    loss_history (list, grown with ``append``), metrics, hardware, runtime_s,
    status (running/completed/failed/interrupted), adapter_path, timestamp.
``GeneratedResponses.json`` - one record per generated answer:
    id, experiment_id, variant (base/tuned), input_text, response_text, reference_text, decoding,
    latency_s, timestamp.
``RatingLeases.json`` - one record per slot lease handed to a rater (``bempathy.rating.leases``): item_id,
    slot, gen, rater_id, expires_at; a journal like the ratings.
``HumanEvaluations.json`` - one record per rater per item (``insert_unique`` on item_id + rater_id, and on
    item_id + slot):
    id, item_id, experiment_id, evaluation_id, rater_id, shown, scores, preference, preferred_variant,
    comment, seconds_spent, gold, slot, timestamp (see ``bempathy.rating.service``). Ratings arrive many at a time,
    so ``Store.ratings`` is a ``bempathy.storage.journal.RatingJournal``: an fsynced append-only journal next to
    this file, folded into it at start-up, periodically and at shutdown; the JSON file stays the TinyDB
    log of record.
"""

from __future__ import annotations

from pathlib import Path

from bempathy.storage.journal import RatingJournal
from bempathy.storage.log import JsonLog, default_logs_dir


class Store:
    """The three project logs under one directory.

    ``ratings`` is a journal in front of ``HumanEvaluations.json`` so a rating submit costs the same at
    20,000 stored ratings as at 20; it opens (and folds) lazily, on first use, so scripts that never
    touch ratings never start its background fold thread. ``ratings_fold_interval`` (seconds, None = no
    background fold) and ``ratings_truncate_on_fold`` are passed to it (see ``bempathy.storage.journal``).
    """

    EXPERIMENTS = "LLAMAExperiments"
    RESPONSES = "GeneratedResponses"
    RATINGS = "HumanEvaluations"
    LEASES = "RatingLeases"

    def __init__(
        self,
        logs_dir: str | Path | None = None,
        *,
        ratings_fold_interval: float | None = 300.0,
        ratings_truncate_on_fold: bool = True,
    ) -> None:
        self.logs_dir = Path(logs_dir).expanduser().resolve() if logs_dir else default_logs_dir().resolve()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.experiments = self._log(self.EXPERIMENTS)
        self.responses = self._log(self.RESPONSES)
        self.ratings = RatingJournal(
            self.logs_dir / f"{self.RATINGS}.json",
            self.RATINGS,
            fold_interval=ratings_fold_interval,
            truncate_on_fold=ratings_truncate_on_fold,
        )
        # Which rater holds which rating slot (bempathy.rating.leases): shared by every app process, like ratings.
        self.leases = RatingJournal(
            self.logs_dir / f"{self.LEASES}.json",
            self.LEASES,
            fold_interval=ratings_fold_interval,
            truncate_on_fold=ratings_truncate_on_fold,
        )

    def _log(self, name: str) -> JsonLog:
        return JsonLog(self.logs_dir / f"{name}.json", name)
