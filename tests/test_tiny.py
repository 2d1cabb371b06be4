"""The tiny Llama must stand in for Llama 3.1 Instruct everywhere our code relies on the real one."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: nothing here may touch the Hub

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from bempathy import prompts
from bempathy.model import tiny
from bempathy.text import bengali_share

REPO = Path(__file__).resolve().parent.parent
ASSISTANT_HEADER = "<|start_header_id|>assistant<|end_header_id|>\n\n"
ZWJ_WORD = "র\u200d্যাব"  # র + ZWJ + hasanta + য + া: the ZWJ is part of the spelling
ROWS = [
    ("পরিবার", "বাবা-মায়ের ঝগড়া", "আমার বাবা-মা সবসময় ঝগড়া করেন। আমি খুব কষ্ট পাই।", "আপনার কষ্টটা বুঝতে পারছি।"),
    ("একাকীত্ব", "নতুন শহরে একা", "নতুন শহরে এসে একদম একা হয়ে গেছি।", "নতুন জায়গায় একা লাগাটা স্বাভাবিক।\n\nছোট পদক্ষেপ নিন।"),
    ("পরীক্ষা", "", f"এইচএসসি আর {ZWJ_WORD} নিয়ে দুশ্চিন্তা, রাতে ঘুম আসে না।", "দুশ্চিন্তা হওয়া স্বাভাবিক, ১০ মিনিট হাঁটুন।"),
    (
        "work",
        "office stress",
        "My boss shouts at me every day.",
        "That sounds exhausting. You don't deserve that.",
    ),
]


# The real recipe's code path in a fraction of a second, for tests of caching and determinism.
QUICK_RECIPE = dataclasses.replace(tiny.PRETRAIN_RECIPE, steps=4, warmup_steps=2, batch_size=2, block_size=64)


def write_sample(directory: Path, rows=ROWS) -> Path:
    """A CSV in the corpus schema with the warts of real exports: BOM, CRLF, index column, empty cell."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "sample.csv", "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(["", "Topics", "Question-Title", "Questions", "Answers"])
        writer.writerows([i, *row] for i, row in enumerate(rows * 5))
    return directory


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_sample(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, data_dir) -> Path:
    return tiny.tiny_model_dir(tmp_path_factory.mktemp("cache"), data_dir=data_dir)


@pytest.fixture(scope="module")
def tokenizer(model_dir):
    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def model(model_dir):
    return AutoModelForCausalLM.from_pretrained(model_dir)


def test_model_size_and_shape(model, tokenizer):
    n_params = sum(p.numel() for p in model.parameters())
    assert 1_000_000 < n_params < 10_000_000
    assert len(tokenizer) == tiny.VOCAB_SIZE == model.config.vocab_size
    assert model.config.num_key_value_heads < model.config.num_attention_heads  # GQA, as in Llama 3.1
    assert not model.config.tie_word_embeddings
    assert model.dtype == torch.float32


def test_special_tokens(tokenizer, model):
    ids = [tokenizer.convert_tokens_to_ids(t) for t in prompts.LLAMA31_SPECIAL_TOKENS]
    assert len(set(ids)) == len(ids)
    for token, token_id in zip(prompts.LLAMA31_SPECIAL_TOKENS, ids, strict=True):
        assert tokenizer.encode(token, add_special_tokens=False) == [token_id], token
    eot, end_of_text = ids[prompts.LLAMA31_SPECIAL_TOKENS.index(prompts.EOT_TOKEN)], ids[1]
    assert tokenizer.bos_token == prompts.BOS_TOKEN and tokenizer.eos_token == prompts.EOT_TOKEN
    assert tokenizer.pad_token == prompts.PAD_TOKEN and tokenizer.pad_token_id != tokenizer.eos_token_id
    assert tokenizer.padding_side == "right"
    for config in (model.config, model.generation_config):
        assert config.eos_token_id == [eot, end_of_text]
        assert config.pad_token_id == tokenizer.pad_token_id and config.bos_token_id == tokenizer.bos_token_id


def test_exactly_one_bos(tokenizer):
    bos = tokenizer.bos_token_id
    assert tokenizer("আমি")["input_ids"][0] == bos  # like Llama 3: plain encoding prepends BOS
    assert bos not in tokenizer("আমি", add_special_tokens=False)["input_ids"]
    messages = prompts.chat_messages("আমি খুব একা।", "আপনি একা নন।")
    ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=False)
    assert ids[0] == bos and ids.count(bos) == 1
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert tokenizer(rendered, add_special_tokens=False)["input_ids"] == ids


@pytest.mark.parametrize(
    "text",
    [
        f"এইচএসসি পরীক্ষা আর {ZWJ_WORD} নিয়ে দুশ্চিন্তা।",
        "ক্ষমা, স্বপ্ন, শ্রদ্ধা, জ্ঞান, কৌতূহল, ঐক্য, ৎ, ঁ, ং, ঃ",  # conjuncts, vowel signs, hasanta
        "না\u200cবোধক  দুই  স্পেস\n\nনতুন অনুচ্ছেদ ৯৯৯ 2024",  # ZWNJ, double spaces, paragraphs, digits
        "I don't know . Really , it's fine ! আমি ঠিক আছি ?",  # spaces before punctuation survive decode
    ],
    ids=["zwj", "conjuncts-and-signs", "zwnj-spaces-digits", "code-mixed-punctuation"],
)
def test_round_trip(tokenizer, text):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text


def _masked_runs(ids: list[int], mask: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for i, (token_id, flag) in enumerate(zip(ids, mask, strict=True)):
        if flag:
            if i == 0 or not mask[i - 1]:
                runs.append([])
            runs[-1].append(token_id)
    return runs


def test_assistant_mask_covers_answer_and_eot(tokenizer):
    answers = [f"আপনার কষ্টটা বুঝতে পারছি। {ZWJ_WORD}!", "১০ মিনিট হাঁটুন, তারপর লিখে ফেলুন।"]
    messages = [*prompts.chat_messages("আমি খুব একা।", answers[0]), {"role": "user", "content": "আর?"}]
    messages.append({"role": "assistant", "content": answers[1]})
    out = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = out["input_ids"], out["assistant_masks"]
    decoded = [tokenizer.decode(run) for run in _masked_runs(ids, mask)]
    assert decoded == [answer + prompts.EOT_TOKEN for answer in answers]
    assert mask[-1] == 1 and ids[-1] == tokenizer.eos_token_id


def test_generation_prompt_ends_with_assistant_header(tokenizer):
    messages = prompts.chat_messages("আমি খুব একা।")
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.endswith(f"{prompts.EOT_TOKEN}{ASSISTANT_HEADER}")
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=False)
    header = tokenizer(ASSISTANT_HEADER, add_special_tokens=False)["input_ids"]
    assert ids[-len(header) :] == header and ids.count(tokenizer.bos_token_id) == 1


def test_build_is_deterministic(tmp_path, data_dir, model_dir):
    other = tiny.tiny_model_dir(tmp_path / "other", data_dir=data_dir)
    assert other != model_dir and other.name == model_dir.name
    assert (other / "tokenizer.json").read_bytes() == (model_dir / "tokenizer.json").read_bytes()
    first, second = load_file(model_dir / "model.safetensors"), load_file(other / "model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    reseeded = tiny.build_tiny_model(AutoTokenizer.from_pretrained(model_dir), seed=1).state_dict()
    assert not torch.equal(reseeded["lm_head.weight"], first["lm_head.weight"])


def test_cache_is_reused_and_keyed_on_data(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("BEMPATHY_CACHE", str(tmp_path / "env-cache"))
    built = tiny.tiny_model_dir(data_dir=data_dir)
    assert built.parent == tmp_path / "env-cache"
    stamp = (built / "model.safetensors").stat().st_mtime_ns

    def must_not_build(*args, **kwargs):
        raise AssertionError("cached model was rebuilt")

    monkeypatch.setattr(tiny, "build_tiny_model", must_not_build)
    assert tiny.tiny_model_dir(data_dir=data_dir) == built
    assert (built / "model.safetensors").stat().st_mtime_ns == stamp
    # Other data is another model: the cache key follows the CSV bytes.
    changed = write_sample(tmp_path / "changed", ROWS[:2])
    with pytest.raises(AssertionError, match="rebuilt"):
        tiny.tiny_model_dir(data_dir=changed)


def test_resolve_model_name(tmp_path, data_dir, monkeypatch):
    monkeypatch.setattr(tiny, "SAMPLE_DIR", data_dir)
    monkeypatch.setattr(tiny, "PRETRAIN_RECIPE", QUICK_RECIPE)
    resolved = tiny.resolve_model_name(tiny.TINY_MODEL_NAME, cache_dir=tmp_path)
    assert Path(resolved) == tiny.tiny_model_dir(tmp_path) and Path(resolved, "config.json").is_file()
    pretrained = tiny.resolve_model_name(tiny.TINY_BN_MODEL_NAME, cache_dir=tmp_path)
    assert Path(pretrained) == tiny.tiny_model_dir(tmp_path, pretrained=True) and pretrained != resolved
    assert Path(pretrained, "config.json").is_file()
    name = "meta-llama/Llama-3.1-8B-Instruct"
    assert tiny.resolve_model_name(name, cache_dir=tmp_path) == name


def test_the_preset_names_the_pretrained_demo_model():
    preset = (REPO / "configs" / "tiny-cpu.yaml").read_text(encoding="utf-8")
    assert f"\nmodel_name_or_path: {tiny.TINY_BN_MODEL_NAME}\n" in preset


def test_pretrained_build_is_cached_deterministic_and_keyed_on_the_recipe(tmp_path, data_dir, model_dir, monkeypatch):
    monkeypatch.setattr(tiny, "PRETRAIN_RECIPE", QUICK_RECIPE)
    built = tiny.tiny_model_dir(tmp_path / "a", data_dir=data_dir, pretrained=True)
    again = tiny.tiny_model_dir(tmp_path / "b", data_dir=data_dir, pretrained=True)
    assert built.name == again.name and built.name.startswith(f"{tiny.TINY_BN_MODEL_NAME}-llama31-")
    assert (built / "tokenizer.json").read_bytes() == (model_dir / "tokenizer.json").read_bytes()
    first, second = load_file(built / "model.safetensors"), load_file(again / "model.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)  # same machine, same seed: same weights
    untrained = load_file(model_dir / "model.safetensors")
    assert first.keys() == untrained.keys() and not torch.equal(first["lm_head.weight"], untrained["lm_head.weight"])
    marker = json.loads((built / tiny.MARKER_FILE).read_text(encoding="utf-8"))
    assert marker["name"] == tiny.TINY_BN_MODEL_NAME and marker["version"] == tiny.TINY_VERSION
    assert {k: marker["pretraining"][k] for k in dataclasses.asdict(QUICK_RECIPE)} == dataclasses.asdict(QUICK_RECIPE)
    assert f"pre-trained for {QUICK_RECIPE.steps} steps" in marker["description"]

    def must_not_train(*args, **kwargs):
        raise AssertionError("cached pretrained model was rebuilt")

    monkeypatch.setattr(tiny, "pretrain_tiny_model", must_not_train)
    assert tiny.tiny_model_dir(tmp_path / "a", data_dir=data_dir, pretrained=True) == built
    # Another recipe is another model; the random model's key ignores the recipe.
    files = tiny._read_sample_csvs(data_dir)
    keys = {
        tiny._fingerprint(files),
        tiny._fingerprint(files, QUICK_RECIPE),
        tiny._fingerprint(files, dataclasses.replace(QUICK_RECIPE, seed=1)),
        tiny._fingerprint(files, dataclasses.replace(QUICK_RECIPE, learning_rate=1e-3)),
    }
    assert len(keys) == 4


def test_pretraining_text_is_the_questions_never_the_answers(data_dir, tokenizer):
    files = tiny._read_sample_csvs(data_dir)
    documents = tiny._pretraining_documents(tokenizer, files, system_prompt_every=4)
    text = tokenizer.decode([t for ids, _ in documents for t in ids])
    trained = tokenizer.decode([t for _, labels in documents for t in labels if t != -100])
    for _, title, question, answer in ROWS:
        assert question in trained and (not title or f"{title}\n\n{question}" in trained)
        assert answer.split("\n")[0] not in text
    # The system prompt opens some conversations as context, and is never a training target.
    assert 0 < text.count(prompts.SYSTEM_PROMPT) < len(documents)
    assert prompts.SYSTEM_PROMPT[:20] not in trained
    assert all(len(ids) == len(labels) and ids[0] == tokenizer.bos_token_id for ids, labels in documents)
    assert all(lab in (-100, t) for ids, labels in documents for t, lab in zip(ids, labels, strict=True))


def test_is_tiny_model(tmp_path, model_dir):
    assert tiny.is_tiny_model(tiny.TINY_MODEL_NAME) and tiny.is_tiny_model(tiny.TINY_BN_MODEL_NAME)
    assert tiny.is_tiny_model(model_dir) and tiny.is_tiny_model(str(model_dir))
    marker = json.loads((model_dir / tiny.MARKER_FILE).read_text(encoding="utf-8"))
    assert marker["name"] == tiny.TINY_MODEL_NAME and "random" in marker["description"]
    for other in ("meta-llama/Llama-3.1-8B-Instruct", "unsloth/Meta-Llama-3.1-8B-Instruct-bnb-4bit", "", "x" * 5000):
        assert not tiny.is_tiny_model(other)
    assert not tiny.is_tiny_model(tmp_path / "missing")
    other_model = tmp_path / "some-llama"
    other_model.mkdir()
    (other_model / "config.json").write_text("{}")
    assert not tiny.is_tiny_model(other_model)
    legacy = tmp_path / "tiny-llama31-0123456789ab"  # built before the marker file existed
    legacy.mkdir()
    (legacy / "config.json").write_text("{}")
    assert tiny.is_tiny_model(legacy)


def _greedy_ids(model, tokenizer, question: str, n_tokens: int = 40) -> list[int]:
    batch = tokenizer.apply_chat_template(
        [prompts.chat_messages(question)], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():  # min_new_tokens: always 40 tokens to judge, even where the model would stop
        out = model.generate(**batch, max_new_tokens=n_tokens, min_new_tokens=n_tokens, do_sample=False)
    return out[0, batch["input_ids"].shape[1] :].tolist()


@pytest.mark.slow
def test_pretrained_base_writes_bengali_rather_than_one_token_repeated():
    """The demo's base (the real recipe, on data/sample; built once per test session, in $BEMPATHY_CACHE)."""
    if not any(tiny.SAMPLE_DIR.glob("*.csv")):
        pytest.skip("data/sample has no CSV yet")
    built = tiny.tiny_model_dir(pretrained=True)
    marker = json.loads((built / tiny.MARKER_FILE).read_text(encoding="utf-8"))
    assert marker["pretraining"]["final_loss"] < marker["pretraining"]["first_loss"] / 2
    tokenizer, model = AutoTokenizer.from_pretrained(built), AutoModelForCausalLM.from_pretrained(built)
    untrained = AutoModelForCausalLM.from_pretrained(tiny.tiny_model_dir())
    questions = ["আমার খুব একা লাগে, কেউ আমার কথা শোনে না।", "পরীক্ষার আগে রাতে ঘুম আসে না, খুব দুশ্চিন্তা হয়।"]
    with open(tiny.SAMPLE_DIR / "dialogues.csv", encoding="utf-8") as handle:
        questions.append(next(csv.DictReader(handle))["Questions"])
    for question in questions:
        ids = _greedy_ids(model, tokenizer, question)
        text = tokenizer.decode(ids, skip_special_tokens=True)
        assert bengali_share(text) > 0.9, text
        assert len(set(ids)) >= 15 and max(ids.count(t) for t in ids) <= 10, text
        # What the issue was about: the random model's "answer" is a token or two, repeated.
        assert len(set(_greedy_ids(untrained, tokenizer, question))) < len(set(ids))


def test_demo_model_note_describes_the_demo_model(model):
    note = tiny.DEMO_MODEL_NOTE
    assert note.endswith(".") and ". " not in note  # one sentence
    assert f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M-parameter" in note
    assert f"{tiny.PRETRAIN_RECIPE.steps} steps" in note and "question" in note and "answer" in note


def test_builds_from_the_shipped_sample_data(tmp_path):
    """Whatever data/sample holds right now: full vocabulary, and every cell survives a round trip."""
    if not any(tiny.SAMPLE_DIR.glob("*.csv")):
        pytest.skip("data/sample has no CSV yet")
    tokenizer = AutoTokenizer.from_pretrained(tiny.tiny_model_dir(tmp_path))
    assert len(tokenizer) == tiny.VOCAB_SIZE
    texts = list(tiny._texts(tiny._read_sample_csvs(tiny.SAMPLE_DIR)))
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    assert tokenizer.batch_decode(encoded) == texts


def test_missing_sample_data_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"\*\.csv"):
        tiny.tiny_model_dir(tmp_path / "cache", data_dir=tmp_path)


def test_forward_and_generate(model, tokenizer):
    chats = [prompts.chat_messages("আমি খুব একা।"), prompts.chat_messages("পরীক্ষা নিয়ে খুব দুশ্চিন্তা হচ্ছে।")]
    batch = tokenizer.apply_chat_template(chats, add_generation_prompt=True, padding=True, return_tensors="pt")
    assert set(batch) == {"input_ids", "attention_mask"}  # no token_type_ids for generate(**batch)
    assert batch["attention_mask"][0].sum() != batch["attention_mask"][1].sum()  # padding really happened
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (*batch["input_ids"].shape, len(tokenizer))
    tokenizer.padding_side = "left"  # generation pads left, as the evaluator does
    try:
        batch = tokenizer.apply_chat_template(chats, add_generation_prompt=True, padding=True, return_tensors="pt")
    finally:
        tokenizer.padding_side = "right"
    out = model.generate(**batch, max_new_tokens=5, do_sample=False)
    new_tokens = out.shape[1] - batch["input_ids"].shape[1]
    assert 1 <= new_tokens <= 5


@pytest.mark.multiprocess
def test_concurrent_builds_share_one_result(tmp_path, data_dir, model_dir):
    """Two processes starting together (2-process training tests) must not race: one builds, both use it."""
    cache = tmp_path / "shared"
    code = "import sys; from bempathy.model import tiny; print(tiny.tiny_model_dir(sys.argv[1], data_dir=sys.argv[2]))"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(cache), str(data_dir)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [proc.communicate(timeout=300)[0].strip() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    assert outputs[0] == outputs[1] == str(cache / model_dir.name)
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == [model_dir.name]  # no leftover temp dirs
    # Built in another process, still byte-identical: training does not depend on per-process hash seeds.
    assert Path(outputs[0], "tokenizer.json").read_bytes() == (model_dir / "tokenizer.json").read_bytes()
