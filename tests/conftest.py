"""Shared fixtures: offline environment, one tiny-model cache per session, a messy corpus export."""

from __future__ import annotations

import csv
import io
import os
import tempfile
from pathlib import Path

import pytest

# Set before anything imports transformers, gradio or tokenizers; subprocesses inherit them.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("BEMPATHY_CACHE", tempfile.mkdtemp(prefix="bempathy-test-cache-"))

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "sample"
TINY_PRESET = ROOT / "configs" / "tiny-cpu.yaml"

LONG_ANSWER = " ".join(["আপনার দুঃখটা গভীর, আর সেটা স্বাভাবিক।"] * 900)  # ~5,400 words
ZWJ_WORD = "র\u200d্যাগিং"

# (index, Topics, Question-Title, Questions, Answers, expected fate)
MESSY_ROWS = [
    (
        0,
        "family-conflict",
        "বাবার সঙ্গে ঝগড়া",
        "বাবা আমার কথা শোনেন না।\nআমি খুব কষ্ট পাই।",
        "আপনার কষ্টটা বোঝা যাচ্ছে। <br>একটু সময় নিয়ে কথা বলুন&nbsp;।",
        "keep",
    ),
    (
        1,
        "family-conflict",
        "বাবার সঙ্গে ঝগড়া",
        "বাবা আমার কথা শোনেন না।\nআমি খুব কষ্ট পাই।",
        "আপনার কষ্টটা বোঝা যাচ্ছে। <br>একটু সময় নিয়ে কথা বলুন&nbsp;।",
        "duplicate_exact",
    ),
    (
        2,
        "family-conflict",
        "বাবার সঙ্গে  ঝগড়া",
        "বাবা আমার  কথা শোনেন না।  \nআমি খুব কষ্ট পাই।",
        "আপনার কষ্টটা বোঝা যাচ্ছে।  <br>একটু সময় নিয়ে কথা বলুন&nbsp;।",
        "duplicate_normalised",
    ),
    (3, "sad", "পরীক্ষায় ফেল", "", "ইশ, খুব খারাপ লাগছে।", "empty_question"),
    (4, "sad", "পরীক্ষায় ফেল", "আমি ফেল করেছি।", "   ", "empty_answer"),
    (
        5,
        "work-stress",
        "Deadline pressure",
        "My boss keeps pushing deadlines at me.",
        "That sounds exhausting. Take a short break.",
        "keep",
    ),
    (
        6,
        "work-stress",
        "অফিসের চাপ",
        "আমার boss সবসময় deadline নিয়ে চাপ দেয়।",
        "চাপটা সত্যিই অনেক। একটু বিরতি নিন।",
        "keep",
    ),
    (
        7,
        "relationships",
        "কলেজে হয়রানি",
        f"কলেজে {ZWJ_WORD} হয়, আমি ভয় পাই।",
        f"{ZWJ_WORD} মেনে নেওয়ার নয়।",
        "keep",
    ),
    (8, "grief", "মায়ের মৃত্যু", "মা মারা গেছেন, কিছুই ভালো লাগে না।", LONG_ANSWER, "keep"),
    (9, "grief", "মায়ের মৃত্যু", "রাতে ঘুম আসে না।", "<p>আপনার দুঃখ গভীর।</p> <i>একা থাকবেন না</i>&amp; কথা বলুন।", "keep"),
    (10, "lonely", "একা লাগে", "আমি একা থাকি, কেউ খোঁজ নেয় না।", "আপনি একা নন। বন্ধুদের সঙ্গে যোগাযোগ করুন।", "keep"),
    # Same row in decomposed (NFD-like) spelling: ো written as ে + া.
    (
        11,
        "lonely",
        "একা লাগে",
        "আমি একা থাকি, কেউ খোঁজ নেয় না।".replace("ো", "\u09c7\u09be"),
        "আপনি একা নন। বন্ধুদের সঙ্গে যোগাযোগ করুন।".replace("ো", "\u09c7\u09be"),
        "duplicate_normalised",
    ),
    (12, "exams", "", "", "", "empty_question"),
]


def write_messy_export(path: Path) -> Path:
    """The corpus schema as a real Excel/pandas export looks: BOM, CRLF, index column, quoted multi-line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["", "Topics", "Question-Title", "Questions", "Answers"])
    writer.writerows(row[:5] for row in MESSY_ROWS)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


@pytest.fixture
def messy_csv(tmp_path: Path) -> Path:
    return write_messy_export(tmp_path / "BengaliEmpatheticConversationsCorpus .csv")


@pytest.fixture(scope="session")
def tiny_dir() -> Path:
    from bempathy.model.tiny import tiny_model_dir

    return tiny_model_dir()


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_dir):
    from bempathy.model.tokenizer import load_tokenizer

    return load_tokenizer(str(tiny_dir))


def make_random_adapter(model_dir: Path, out_dir: Path, seed: int) -> Path:
    """A LoRA adapter (all projections + lm_head, like the tiny preset) with random non-zero weights.

    No training needed: tests of serving only need the tuned model to differ from the base, deterministically.
    """
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from bempathy.model.tokenizer import load_tokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        modules_to_save=["lm_head"],
        init_lora_weights=False,
    )
    peft_model = get_peft_model(model, config)
    with torch.no_grad():  # make the saved head differ from the base head too
        head = peft_model.base_model.model.lm_head.modules_to_save["default"]
        head.weight.add_(torch.randn_like(head.weight) * 0.5)
    peft_model.save_pretrained(out_dir)
    load_tokenizer(str(model_dir)).save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def random_adapters(tiny_dir, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("adapters")
    return make_random_adapter(tiny_dir, root / "a", 1), make_random_adapter(tiny_dir, root / "b", 2)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0) -> float:
    """Poll until the page answers 200; returns the seconds it took."""
    import time
    import urllib.request

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """A real (short) train.py run on the sample data: (run dir, logs dir), with metrics and logged answers."""
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("tiny-run")
    out, logs = root / "run", root / "logs"
    command = [sys.executable, "train.py", "--config", str(TINY_PRESET), "--stage", "all"]
    command += ["--output-dir", str(out), "--logs_dir", str(logs), "--max_steps", "12", "--eval_strategy", "no"]
    command += ["--save_strategy", "no", "--eval_max_examples", "6", "--bootstrap_resamples", "50"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, logs


class RunningApp:
    """An app built by app.build() and launched on a free local port (closed by the fixture)."""

    def __init__(self, argv: list[str]) -> None:
        import app

        self.port = free_port()
        self.demo, self.ctx, self.args = app.build([*argv, "--port", str(self.port)])
        from bempathy.ui.app import launch

        launch(self.demo, "127.0.0.1", self.port, block=False)
        self.url = f"http://127.0.0.1:{self.port}/"
        wait_for_http(self.url)

    def client(self):
        from gradio_client import Client

        return Client(self.url, verbose=False)

    def close(self) -> None:
        self.demo.close()
