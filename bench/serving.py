"""Serving speed on this machine: app start-up, chat time to first token, Compare in one call vs two.

    python bench/serving.py --run runs/demo [--repeats 5] [--json]

Measures with the model of a train.py run folder (the tiny demo run on a laptop):
- start-up: seconds from launching ``python app.py --run DIR`` until the page answers HTTP 200;
- chat: time to first streamed chunk and streaming tokens/s through the ``/chat`` API (gradio_client);
- compare: base + tuned answers for the same prompt as one mixed-adapter ``generate`` call vs two calls
  (same greedy decoding, same new tokens), in answer tokens per second; ``compare_speedup`` = two / one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROMPTS = [
    "আমার খুব একা লাগে, কারও সঙ্গে কথা বলতে ইচ্ছে করে না।",
    "পরীক্ষার ফল খারাপ হয়েছে, বাবা-মাকে কীভাবে বলব বুঝতে পারছি না।",
    "অফিসের চাপে রাতে ঘুম আসে না।",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def measure_startup_and_chat(run: str, logs: str | None, repeats: int) -> dict:
    port = free_port()
    command = [sys.executable, "app.py", "--run", run, "--port", str(port)] + (["--logs-dir", logs] if logs else [])
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{port}/")
        startup = time.monotonic() - started
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        ttft, rates = [], []
        for i in range(repeats):
            began = time.perf_counter()
            job = client.submit(PROMPTS[i % len(PROMPTS)], None, None, 0.7, 0.9, 128, i, api_name="/chat")
            first = None
            for _ in job:
                first = first or time.perf_counter() - began
            ttft.append(first)
            stats = client.predict(PROMPTS[i % len(PROMPTS)], "base", "tuned", 0.0, 0.9, 64, api_name="/compare")[2]
            rates.append(stats["right"]["tokens_per_s"])
        return {
            "startup_s": round(startup, 2),
            "chat_ttft_s_median": round(statistics.median(ttft), 3),
            "chat_ttft_s_all": [round(t, 3) for t in ttft],
            "compare_api_tokens_per_s_per_column_median": round(statistics.median(rates), 1),
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure_compare(run: str, repeats: int) -> dict:
    import torch

    from bempathy.hardware import set_serving_threads
    from bempathy.model.chat import ChatModel, DecodingSettings
    from bempathy.prompts import chat_messages
    from bempathy.serve.plan import load_chat_model, plan_from_run, serving_threads

    chat: ChatModel = load_chat_model(plan_from_run(run))
    # Generate with the threads the app would use (app.py --cpu-threads, $BEMPATHY_CPU_THREADS, else by model).
    env = os.environ.get("BEMPATHY_CPU_THREADS", "").strip()
    threads = set_serving_threads(serving_threads(int(env) if env.isdigit() else None, chat))
    settings = DecodingSettings(max_new_tokens=64)
    conversations = [chat_messages(p)[:2] for p in PROMPTS]
    one, two = [], []
    with torch.inference_mode():
        chat.generate(conversations[:1] * 2, ["base", "tuned"], settings)  # warm-up
        for _ in range(repeats):
            for conversation in conversations:
                began = time.perf_counter()
                mixed = chat.generate([conversation, conversation], ["base", "tuned"], settings, batch_size=2)
                one.append((sum(g.new_tokens for g in mixed), time.perf_counter() - began))
                began = time.perf_counter()
                separate = [chat.generate([conversation], v, settings)[0] for v in ("base", "tuned")]
                two.append((sum(g.new_tokens for g in separate), time.perf_counter() - began))
                assert [g.text for g in mixed] == [g.text for g in separate], "one call and two calls disagree"
    one_rate = sum(n for n, _ in one) / sum(t for _, t in one)
    two_rate = sum(n for n, _ in two) / sum(t for _, t in two)
    return {
        "compare_one_call_tokens_per_s": round(one_rate, 1),
        "compare_two_calls_tokens_per_s": round(two_rate, 1),
        "compare_speedup": round(one_rate / two_rate, 2),
        "compare_pairs_timed": len(one),
        "compare_torch_threads": threads or torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/serving.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="a train.py output folder (e.g. runs/demo)")
    parser.add_argument("--logs-dir", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    import torch

    result = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads, {platform.python_version()}",
        "torch": torch.__version__,
        "command": " ".join(["python", "bench/serving.py", *(argv if argv is not None else sys.argv[1:])]),
        **measure_compare(args.run, args.repeats),
        **measure_startup_and_chat(args.run, args.logs_dir, args.repeats),
    }
    for key, value in result.items():
        print(f"{key:45s} {value}")
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
