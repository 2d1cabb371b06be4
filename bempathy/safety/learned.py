"""The learned second signal of the crisis screen: character and word n-gram TF-IDF over the folded message,
then a logistic regression over the three levels (scikit-learn; no hand-written ML).

Why: a hand-written lexicon cannot cover paraphrase ("I won't be a burden much longer"), while n-grams over the
folded text (the lexicon's "phon" key: Bengali folded, Latin spellings merged, so the four input kinds share
features) generalise from labelled examples. The rules stay: either signal can raise a level, and only the rules'
explicit contexts (fiction, news, idioms) may lower the classifier's (:func:`bempathy.safety.detect.assess`).

The model is built from ``data/safety/train.jsonl`` on first use (about two seconds) and cached beside the tiny
models; the cache name holds a hash of the training data, the recipe and the scikit-learn version, so a changed
file or library builds a new one, and a cached model whose recorded hash does not match is refused.
``python -m bempathy.safety.learned --train`` builds it; ``python -m bempathy.safety --cv`` measures the combined
screen by cross-validation on the training data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import sys
import tempfile
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from bempathy.paths import PROJECT_DIR, cache_root
from bempathy.safety import folding, romanised
from bempathy.safety import lexicon as lex
from bempathy.safety.labelled import load_labelled
from bempathy.safety.levels import LEVELS, Level

TRAIN_FILE = PROJECT_DIR / "data" / "safety" / "train.jsonl"


@dataclass(frozen=True)
class Recipe:
    """Everything that decides the fitted model; part of the cache key."""

    char_ngrams: tuple[int, int] = (2, 6)  # character n-grams within word boundaries, over the folded text
    word_ngrams: tuple[int, int] = (1, 2)
    min_df: int = 1
    c: float = 8.0  # inverse regularisation strength of the logistic regression
    class_weight: str = "balanced"  # crisis and concern lines are rarer than ordinary ones
    # P(concern) + P(crisis) at or above concern_at raises to at least "concern"; P(crisis) at or above
    # crisis_at raises to "crisis". Chosen from out-of-fold predictions on the training data (--cv), recall first.
    concern_at: float = 0.65
    crisis_at: float = 0.6


RECIPE = Recipe()


class ClassifierError(RuntimeError):
    """The classifier cannot be built or loaded; the message says why in one line."""


def folded(text: str) -> str:
    """The text the classifier reads: NFC, then the lexicon's phonetic key (one for all four input kinds)."""
    base = lex.base_key(unicodedata.normalize("NFC", text or ""))
    return lex.KEY_FOLDS["phon"](*base)[0].strip()


def read_training(path: Path = TRAIN_FILE) -> tuple[list[str], list[str], bytes]:
    """(texts, levels, raw bytes) of a ``{"text", "level"}`` JSONL file; ClassifierError names a wrong line."""
    try:
        raw = path.read_bytes()
        records = load_labelled(path)
    except OSError as error:
        raise ClassifierError(f"{path}: cannot read the classifier's training data: {error.strerror}") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ClassifierError(" ".join(str(error).split())) from None
    unlevelled = next((n for n, r in enumerate(records, 1) if "level" not in r), None)
    if unlevelled is not None:
        raise ClassifierError(f"{path}: labelled line {unlevelled} needs a 'level' ({', '.join(LEVELS)})")
    texts, labels = [r["text"] for r in records], [r["level"] for r in records]
    missing = set(LEVELS) - set(labels)
    if missing:
        raise ClassifierError(f"{path}: no line labelled {', '.join(sorted(missing))}")
    return texts, labels, raw


def fingerprint(raw: bytes, recipe: Recipe = RECIPE) -> str:
    """Hash of what decides the fitted model: the data, the recipe, scikit-learn, and the folding code that makes
    the text it reads (a changed fold would otherwise be served with a model fitted on the old one)."""
    import sklearn

    digest = hashlib.sha256(raw)
    for module in (folding, romanised):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(json.dumps(asdict(recipe), sort_keys=True).encode())
    digest.update(sklearn.__version__.encode())
    return digest.hexdigest()[:16]


def build_pipeline(recipe: Recipe = RECIPE) -> Any:
    """The untrained scikit-learn pipeline (folded text in, probabilities over LEVELS out)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    words = {"sublinear_tf": True, "token_pattern": r"[^ ]+"}
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=recipe.char_ngrams, min_df=recipe.min_df, sublinear_tf=True),
        # words split on spaces only: the folded key has no punctuation, and \w would split Bengali vowel signs
        TfidfVectorizer(analyzer="word", ngram_range=recipe.word_ngrams, min_df=recipe.min_df, **words),
    )
    model = LogisticRegression(C=recipe.c, class_weight=recipe.class_weight, max_iter=2000, random_state=0)
    return make_pipeline(features, model)


class Classifier:
    """A fitted pipeline and the rule that turns its probabilities into a level."""

    def __init__(self, pipeline: Any, recipe: Recipe, fingerprint: str) -> None:
        self.pipeline, self.recipe, self.fingerprint = pipeline, recipe, fingerprint
        self._columns = [list(pipeline.classes_).index(level) for level in LEVELS]

    def probabilities(self, text: str) -> dict[Level, float]:
        row = self.pipeline.predict_proba([folded(text)])[0]
        return {level: float(row[column]) for level, column in zip(LEVELS, self._columns, strict=True)}

    def level(self, text: str) -> tuple[Level, float]:
        """(level, P(concern or crisis)) for one message."""
        return decide(self.probabilities(text), self.recipe)


def decide(p: dict[Level, float], recipe: Recipe = RECIPE) -> tuple[Level, float]:
    """(level, P(concern or crisis)) from the three probabilities and the recipe's thresholds."""
    risk = p["concern"] + p["crisis"]
    if p["crisis"] >= recipe.crisis_at:
        return "crisis", risk
    return ("concern" if risk >= recipe.concern_at else "none"), risk


def train(path: Path = TRAIN_FILE, recipe: Recipe = RECIPE) -> Classifier:
    texts, labels, raw = read_training(path)
    pipeline = build_pipeline(recipe)
    pipeline.fit([folded(t) for t in texts], labels)
    return Classifier(pipeline, recipe, fingerprint(raw, recipe))


def load(path: Path = TRAIN_FILE, recipe: Recipe = RECIPE, cache_dir: Path | str | None = None) -> Classifier:
    """The classifier for this training file and recipe: from the cache, else trained and cached (under a file
    lock, written to a temp file and renamed, so concurrent app processes never read half a model). A cache
    folder that cannot be written (a read-only home) means training in memory, with a warning on stderr; a cached
    file that cannot be read is a one-line ClassifierError that says to delete it."""
    import joblib

    _, _, raw = read_training(path)
    wanted = fingerprint(raw, recipe)
    root = cache_root(cache_dir)
    target = root / f"safety-classifier-{wanted}.joblib"
    try:
        root.mkdir(parents=True, exist_ok=True)
        lock = FileLock(f"{target}.lock")
        lock.acquire()
    except OSError as error:
        print(f"bempathy: warning: cannot cache the safety classifier in {root} ({error.strerror}): built in memory")
        return train(path, recipe)
    try:
        if target.exists():
            try:
                saved = joblib.load(target)
            except Exception as error:  # a truncated or foreign pickle: unpickling raises many kinds
                why = type(error).__name__
                raise ClassifierError(f"{target}: cannot be read ({why}); delete it to rebuild") from None
            if not isinstance(saved, dict) or saved.get("fingerprint") != wanted:
                raise ClassifierError(f"{target}: its training-data hash does not match {path}; delete it to rebuild")
            return Classifier(saved["pipeline"], recipe, wanted)
        classifier = train(path, recipe)
        handle, tmp = tempfile.mkstemp(dir=root, prefix=".safety-classifier-", suffix=".tmp")
        os.close(handle)
        try:
            joblib.dump({"fingerprint": wanted, "pipeline": classifier.pipeline}, tmp)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return classifier
    finally:
        lock.release()


_shared: Classifier | None = None
_shared_lock = threading.Lock()


def shared() -> Classifier:
    """The process-wide classifier, loaded on first use (the app calls this at start-up so no user waits)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = load()
        return _shared


def out_of_fold(
    path: Path = TRAIN_FILE, recipe: Recipe = RECIPE, folds: int = 5
) -> tuple[list[str], list[str], list[dict[Level, float]]]:
    """(texts, labels, out-of-fold probabilities) on the training data, stratified and seeded: each line's
    probabilities come from a model that never saw it (what ``--cv`` and the thresholds are judged on)."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    texts, labels, _ = read_training(path)
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    inputs = [folded(t) for t in texts]
    probs = cross_val_predict(build_pipeline(recipe), inputs, labels, cv=split, method="predict_proba")
    classes = sorted(set(labels))  # the order of scikit-learn's classes_
    return texts, labels, [{level: float(row[classes.index(level)]) for level in LEVELS} for row in probs]


def latency(classifier: Classifier, texts: list[str], repeats: int = 3) -> dict[str, float]:
    """p50/p99 milliseconds of one message's classification (folding included), single-threaded."""
    times = []
    for _ in range(repeats):
        for text in texts:
            began = time.perf_counter()
            classifier.level(text)
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 3), "p99_ms": round(times[int(0.99 * (len(times) - 1))], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bempathy.safety.learned",
        description="Build (and cache) the crisis screen's classifier from data/safety/train.jsonl; print its size, "
        "build time and latency. Exit status 2 on unreadable training data.",
    )
    parser.add_argument("--train", action="store_true", help="build the cached model now (else built on first use)")
    parser.add_argument("--data", type=Path, default=TRAIN_FILE, help="training JSONL (default: %(default)s)")
    args = parser.parse_args(argv)
    if not args.train:
        parser.error("give --train (python -m bempathy.safety --cv measures it by cross-validation)")
    try:
        if args.train:
            began = time.perf_counter()
            classifier = train(args.data) if args.data != TRAIN_FILE else load()
            took = time.perf_counter() - began
            texts, _, _ = read_training(args.data)
            size = len(pickle.dumps(classifier.pipeline)) / 1e6
            print(f"classifier {classifier.fingerprint}: {len(texts)} lines, ready in {took:.2f} s, {size:.2f} MB")
            print("latency: " + json.dumps(latency(classifier, texts)))
    except ClassifierError as error:
        print(f"python -m bempathy.safety.learned: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
