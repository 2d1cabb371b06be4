"""Seeded, proportional subsets of prepared examples (validation during training, evaluation's test sample)."""

from __future__ import annotations

import hashlib
import math
from typing import Any


def select_examples(rows: list[dict[str, Any]], limit: int | None, seed: int) -> list[dict[str, Any]]:
    """A seeded sample of ``limit`` test examples, proportional per sub-corpus (largest remainder).

    The corpus stores its sub-corpora in blocks, so the first N rows would describe only one of them.
    """
    if limit is None or limit >= len(rows):
        return list(rows)
    strata: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        strata.setdefault(str(row.get("subcorpus")), []).append(index)
    exact = {name: limit * len(members) / len(rows) for name, members in strata.items()}
    quota = {name: math.floor(share) for name, share in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - quota[n], reverse=True)[: limit - sum(quota.values())]:
        quota[name] += 1

    def order(index: int) -> str:
        return hashlib.sha256(f"{seed}\x1f{rows[index].get('id')}".encode()).hexdigest()

    chosen = [i for name, members in strata.items() for i in sorted(members, key=order)[: quota[name]]]
    return [rows[i] for i in sorted(chosen)]
