"""The crisis screen's two thresholds swept on development data: out-of-fold probabilities of the classifier's own
training data (5 folds, ``learned.out_of_fold``), combined with the rules as ``assess`` combines them.

Why: a threshold may only be chosen on data that is not a blind round; this prints what each pair of thresholds
costs and gains there (recall at concern-or-above and at crisis, the help-line and crisis false alarms on ordinary
lines, and the share of non-crisis lines put at crisis).

    python bench/safety_thresholds.py     # ~16 s on 2 CPU cores
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bempathy.safety import learned
from bempathy.safety.detect import assess_rules, combine

CONCERN_AT = (0.6, 0.65, 0.7, 0.75, 0.8)
CRISIS_AT = (0.6, 0.65, 0.7)


def share(levels: list[str], wanted: set[str]) -> float:
    return sum(level in wanted for level in levels) / len(levels)


def main() -> int:
    texts, labels, probs = learned.out_of_fold()
    rules = [assess_rules(text) for text in texts]
    print("concern_at crisis_at | concern+ recall, help-line false alarms | crisis recall, crisis false alarms, "
          "non-crisis lines at crisis")  # fmt: skip
    for concern_at in CONCERN_AT:
        for crisis_at in CRISIS_AT:
            recipe = replace(learned.RECIPE, concern_at=concern_at, crisis_at=crisis_at)
            got = [combine(found, *learned.decide(p, recipe)).level for found, p in zip(rules, probs, strict=True)]
            risky = [g for g, label in zip(got, labels, strict=True) if label != "none"]
            ordinary = [g for g, label in zip(got, labels, strict=True) if label == "none"]
            crisis = [g for g, label in zip(got, labels, strict=True) if label == "crisis"]
            not_crisis = [g for g, label in zip(got, labels, strict=True) if label != "crisis"]
            figures = (
                share(risky, {"concern", "crisis"}),
                share(ordinary, {"concern", "crisis"}),
                share(crisis, {"crisis"}),
                share(ordinary, {"crisis"}),
                share(not_crisis, {"crisis"}),
            )
            print(f"{concern_at:.2f} {crisis_at:.2f} | " + " ".join(f"{x:.3f}" for x in figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
