"""DatasetProcessor and `train.py --stage prepare`: cleaning with a reason per drop, group splits, no truncation."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bempathy.config import DataArguments
from bempathy.data import DataError, DatasetProcessor, write_prepared
from bempathy.text import normalize_text
from tests.conftest import LONG_ANSWER, MESSY_ROWS, ROOT, SAMPLE_DIR, TINY_PRESET, ZWJ_WORD


def run_prepare(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "train.py", "--config", str(TINY_PRESET), "--stage", "prepare"]
    command += ["--data", str(data), "--output-dir", str(out), *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def read_examples(out: Path) -> list[dict]:
    return [json.loads(line) for split in ("train", "val", "test") for line in (out / "data" / f"{split}.jsonl").open()]


def test_messy_export_keeps_good_rows_whole_and_drops_bad_ones_with_reasons(messy_csv, tmp_path):
    out = tmp_path / "run"
    done = run_prepare(messy_csv, out)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "data_report.json").read_text(encoding="utf-8"))

    expected_drops = Counter(row[5] for row in MESSY_ROWS if row[5] != "keep")
    assert report["rows_in"] == len(MESSY_ROWS)
    assert report["dropped"] == dict(expected_drops)
    assert sum(report["dropped"].values()) == report["rows_in"] - report["rows_kept"]
    dropped_ids = {row_id for ids in report["dropped_ids"].values() for row_id in ids}
    assert dropped_ids == {f"row-{row[0]}" for row in MESSY_ROWS if row[5] != "keep"}

    examples = {e["id"]: e for e in read_examples(out)}
    assert set(examples) == {f"row-{row[0]}" for row in MESSY_ROWS if row[5] == "keep"}
    for example in examples.values():
        assert example["split"] in ("train", "val", "test") and example["messages"][0]["role"] == "system"
    # Kept whole: the ~5,400-word answer is there to the last character.
    assert examples["row-8"]["messages"][-1]["content"] == normalize_text(LONG_ANSWER)
    assert report["token_lengths"]["max"] == examples["row-8"]["n_tokens"] > 5000
    assert "keep every example whole" in report["length_policy"]["action"]
    # Zero-width joiner survives; HTML and entities are gone; CRLF multi-line cells keep their line break.
    assert ZWJ_WORD in examples["row-7"]["messages"][-1]["content"]
    assert examples["row-9"]["messages"][-1]["content"] == "আপনার দুঃখ গভীর।\nএকা থাকবেন না & কথা বলুন।"
    assert examples["row-0"]["messages"][1]["content"] == "বাবার সঙ্গে ঝগড়া\n\nবাবা আমার কথা শোনেন না।\nআমি খুব কষ্ট পাই।"
    # Language policy (flag, by default): English-only kept and flagged, code-mixed kept and flagged.
    assert examples["row-5"]["language"] == "en" and examples["row-6"]["language"] == "mixed"
    assert report["flagged"] == {"english_only": 1, "code_mixed": 1}
    # The same table is printed for people.
    assert "dropped: duplicate_exact" in done.stdout and "tokens per example" in done.stdout


def test_english_policy_drop_counts_the_rows(messy_csv, tmp_path):
    done = run_prepare(messy_csv, tmp_path / "run", "--english_policy", "drop")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "run" / "data_report.json").read_text(encoding="utf-8"))
    assert report["dropped"]["english_only"] == 1
    assert sum(report["dropped"].values()) == report["rows_in"] - report["rows_kept"]


def test_explicit_length_cap_drops_and_names_the_rows_it_would_cut(messy_csv, tiny_tokenizer):
    processor = DatasetProcessor(DataArguments(), tokenizer=tiny_tokenizer, max_length=2000)
    prepared = processor.process(str(messy_csv))
    assert prepared.report["dropped"]["too_long"] == 1
    assert prepared.report["dropped_ids"]["too_long"] == ["row-8"]
    kept = [e for split in prepared.examples.values() for e in split]
    assert all(e.n_tokens <= 2000 for e in kept) and "row-8" not in {e.id for e in kept}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Topics,Questions,Answers\nsad,q,a\n", "missing column(s) Question-Title"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a CSV file"),
        ("Topics,Question-Title,Questions,Answers\nsad,café,naïve,résumé\n".encode("cp1252"), "unreadable encoding"),
        (b"Topics,Question-Title,Questions,Answers\nsad,t,,\nsad,t,  ,<br>\n", "nothing left after cleaning"),
        (b"", "not a readable CSV"),
    ],
    ids=["missing-column", "binary", "bad-encoding", "empty-after-cleaning", "empty-file"],
)
def test_bad_input_is_one_line_error_and_writes_nothing(tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    out = tmp_path / "out"
    done = run_prepare(bad, out)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("train.py: error:") and message in lines[0], done.stderr
    assert not out.exists()


def test_failed_prepare_leaves_an_earlier_result_untouched(messy_csv, tmp_path):
    out = tmp_path / "run"
    assert run_prepare(messy_csv, out).returncode == 0
    before = {p.name: p.read_bytes() for p in [out / "data_report.json", *(out / "data").iterdir()]}
    bad = tmp_path / "bad.csv"
    bad.write_text("Topics,Answers\nx,y\n")
    assert run_prepare(bad, out).returncode == 2
    after = {p.name: p.read_bytes() for p in [out / "data_report.json", *(out / "data").iterdir()]}
    assert after == before
    assert sorted(p.name for p in out.iterdir()) == ["data", "data_report.json"]


def test_splits_keep_conversations_whole_and_are_stable(tiny_tokenizer):
    args = DataArguments(dialogue_turns="single_turn")
    first = DatasetProcessor(args).process(str(SAMPLE_DIR))
    second = DatasetProcessor(args).process(str(SAMPLE_DIR))
    split_of = {e.id: name for name, items in first.examples.items() for e in items}
    assert split_of == {e.id: name for name, items in second.examples.items() for e in items}
    groups: dict[str, set[str]] = {}
    for name, items in first.examples.items():
        for example in items:
            groups.setdefault(example.group, set()).add(name)
    assert all(len(splits) == 1 for splits in groups.values()), "a conversation straddles splits"
    assert any(len([e for e in first.examples["train"] if e.group == g]) > 1 for g in groups)  # real groups exist
    sizes = first.report["splits"]
    assert sizes["test"] > 0 and sizes["val"] > 0 and sizes["train"] > 4 * sizes["test"]
    # A different seed gives a different (but equally valid) split.
    other = DatasetProcessor(DataArguments(dialogue_turns="single_turn", split_seed=99)).process(str(SAMPLE_DIR))
    assert split_of != {e.id: name for name, items in other.examples.items() for e in items}


def test_dialogue_rows_become_multi_turn_examples(tmp_path):
    csv_path = tmp_path / "dialogue.csv"
    csv_path.write_text(
        "Topics,Question-Title,Questions,Answers\n"
        "sad,চাকরি হারানো,আমার চাকরি চলে গেছে।,খুব কঠিন সময়।\n"
        "sad,চাকরি হারানো,কী করব বুঝছি না।,চলুন একটা একটা করে ভাবি।\n"
        "proud,মেয়ের ফল,মেয়ে ভালো করেছে!,কী দারুণ খবর!\n",
        encoding="utf-8",
    )
    prepared = DatasetProcessor(DataArguments()).process(str(csv_path))
    examples = [e for items in prepared.examples.values() for e in items]
    assert prepared.report["rows_kept"] == 3 and prepared.report["examples"] == 2
    first = next(e for e in examples if e.row_ids == ["row-0", "row-1"])
    assert [m["role"] for m in first.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert first.messages[1]["content"].startswith("চাকরি হারানো\n\n") and first.messages[3]["content"] == "কী করব বুঝছি না।"


def test_jsonl_messages_and_saved_datasets_are_accepted(tmp_path):
    messages = [{"role": "user", "content": "আমি একা।"}, {"role": "assistant", "content": "আমি শুনছি।"}]
    jsonl = tmp_path / "chat.jsonl"
    jsonl.write_text(
        "\n".join(json.dumps({"messages": messages, "topic": t}, ensure_ascii=False) for t in ("a", "b")) + "\n",
        encoding="utf-8",
    )
    prepared = DatasetProcessor(DataArguments()).process(str(jsonl))
    assert prepared.report["dropped"] == {"duplicate_exact": 1}
    import datasets

    saved = tmp_path / "saved"
    datasets.Dataset.from_list(
        [{"Topics": "sad", "Question-Title": "t", "Questions": "প্রশ্ন", "Answers": "উত্তর"}]
    ).save_to_disk(str(saved))
    assert DatasetProcessor(DataArguments()).process(str(saved)).report["rows_kept"] == 1


def test_utf16_tab_separated_excel_export_reads(tmp_path):
    text = 'Topics\tQuestion-Title\tQuestions\tAnswers\r\nsad\tশিরোনাম\t"প্রশ্ন\r\nদুই লাইন"\tউত্তর\r\n'
    path = tmp_path / "excel.csv"
    path.write_bytes(text.encode("utf-16"))  # with BOM, as Excel's "Unicode text" writes
    prepared = DatasetProcessor(DataArguments(user_fields="question")).process(str(path))
    example = next(e for items in prepared.examples.values() for e in items)
    assert example.messages[1]["content"] == "প্রশ্ন\nদুই লাইন"


def test_utf16_without_bom_reads(tmp_path):
    path = tmp_path / "nobom.csv"
    path.write_bytes("Topics,Question-Title,Questions,Answers\nsad,শিরোনাম,প্রশ্ন,উত্তর\n".encode("utf-16-le"))
    assert DatasetProcessor(DataArguments()).process(str(path)).report["rows_kept"] == 1


def test_missing_source_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        DatasetProcessor(DataArguments()).process(str(tmp_path / "nope.csv"))


@pytest.mark.slow
def test_38k_rows_prepare_under_30_seconds(tmp_path, tiny_tokenizer):
    """Issue 3's speed bound, on a generated file the size of the real corpus (38,233 rows)."""
    import csv

    rows = []
    with (SAMPLE_DIR / "dialogues.csv").open(encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    for i in range(38_233):
        row = dict(sample[i % len(sample)])
        row["Question-Title"] = f"{row['Question-Title']} {i // len(sample)}"
        rows.append(row)
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["Topics", "Question-Title", "Questions", "Answers"])
        writer.writeheader()
        writer.writerows(rows)
    started = time.perf_counter()
    prepared = DatasetProcessor(DataArguments(), tokenizer=tiny_tokenizer).process(str(path))
    write_prepared(prepared, tmp_path / "out")
    elapsed = time.perf_counter() - started
    print(f"\n38,233 rows prepared in {elapsed:.1f} s")
    assert prepared.report["rows_in"] == 38_233
    assert elapsed < 30


def test_write_prepared_is_all_or_nothing(tmp_path, messy_csv, monkeypatch):
    prepared = DatasetProcessor(DataArguments()).process(str(messy_csv))
    import bempathy.data as data_module

    def broken(path, examples):
        raise OSError("disk full")

    monkeypatch.setattr(data_module, "_write_jsonl", broken)
    with pytest.raises(OSError):
        write_prepared(prepared, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []


def test_chats_with_unknown_roles_or_no_final_answer_are_dropped_with_reasons(tmp_path):
    chats = [
        {"messages": [{"role": "human", "content": "আমি একা।"}, {"role": "gpt", "content": "আমি শুনছি।"}]},
        {
            "messages": [
                {"role": "user", "content": "প্রশ্ন"},
                {"role": "assistant", "content": "উত্তর"},
                {"role": "user", "content": "আর?"},
            ]
        },
        {"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "y"}]},
    ]
    path = tmp_path / "chats.jsonl"
    path.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in chats) + "\n", encoding="utf-8")
    prepared = DatasetProcessor(DataArguments()).process(str(path))
    assert prepared.report["dropped"] == {"no_final_answer": 1, "unsupported_role": 1}
    [kept] = [e for items in prepared.examples.values() for e in items]
    assert [m["role"] for m in kept.messages] == ["system", "user", "assistant"]  # ShareGPT roles mapped


def test_dropping_rows_never_moves_other_conversations_between_splits(messy_csv):
    flagged = DatasetProcessor(DataArguments(english_policy="flag")).process(str(messy_csv))
    dropped = DatasetProcessor(DataArguments(english_policy="drop")).process(str(messy_csv))
    split_flag = {e.id: e.split for items in flagged.examples.values() for e in items}
    split_drop = {e.id: e.split for items in dropped.examples.values() for e in items}
    assert set(split_flag) - set(split_drop) == {"row-5"}
    assert all(split_flag[i] == split for i, split in split_drop.items())
