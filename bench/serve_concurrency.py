"""N people chatting at once: time to first token and total time per chat, in-process model vs a server.

    python bench/serve_concurrency.py --run RUN                         # the local backend only
    python bench/serve_concurrency.py --run RUN --endpoint http://127.0.0.1:8011   # and the server's

Each chat is one streamed answer from the backend the app's ``ConversationService`` calls (``stream``: the raw
tokens, before the service's 80-character safety hold-back, so the first token is the model's), on its own thread,
all started together, greedy, the same prompts and the run's system prompt for both backends. With the local backend the
chats queue for the one model (as the app's model queue makes them); with a server every chat is its own request
and the server batches them. Prints one row per backend (median and worst of first-token and total seconds, the
wall time for all N) and, with ``--json FILE``, writes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = [
    "আমি খুব একা বোধ করছি।",
    "পরীক্ষার ফল খারাপ হয়েছে, বাবা-মাকে কীভাবে বলব বুঝতে পারছি না।",
    "অফিসের চাপে রাতে ঘুম আসে না।",
    "বন্ধুর সঙ্গে ঝগড়া হয়েছে, খুব খারাপ লাগছে।",
    "নতুন শহরে এসে কাউকে চিনি না।",
    "চাকরি হারানোর ভয় পাচ্ছি।",
    "মায়ের অসুখ নিয়ে খুব দুশ্চিন্তা হচ্ছে।",
    "কেউ আমার কথা বোঝে না।",
]


def run_chats(chat, system_prompt: str, n: int, max_new_tokens: int) -> dict:
    from bempathy.model.chat import DecodingSettings

    settings = DecodingSettings(max_new_tokens=max_new_tokens)
    first: list[float] = [0.0] * n
    total: list[float] = [0.0] * n
    start = threading.Barrier(n + 1)

    errors: list[BaseException] = []

    def one(i: int) -> None:
        start.wait()
        began = time.perf_counter()
        conversation = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": PROMPTS[i % len(PROMPTS)]},
        ]
        try:
            for partial in chat.stream(conversation, "tuned", settings):
                if partial and not first[i]:
                    first[i] = time.perf_counter() - began
        except BaseException as error:  # reported below: a benchmark of failed chats measures nothing
            errors.append(error)
        total[i] = time.perf_counter() - began

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    if errors:
        raise SystemExit(f"{len(errors)} of {n} chats failed: {errors[0]!r}")
    return {
        "chats": n,
        "first_token_median_s": round(statistics.median(first), 3),
        "first_token_max_s": round(max(first), 3),
        "total_median_s": round(statistics.median(total), 3),
        "total_max_s": round(max(total), 3),
        "wall_s": round(wall, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="the run folder both backends serve")
    parser.add_argument("--endpoint", help="an OpenAI-compatible server serving it (vllm-command's line)")
    parser.add_argument("--chats", type=int, default=8, help="chats at once (default 8)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="answer length (default 32)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per backend; the median round is kept")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args(argv)

    from bempathy.hardware import set_serving_threads
    from bempathy.serve.openai_backend import backend_for_plan
    from bempathy.serve.plan import load_chat_model, plan_from_run, serving_threads

    plan = plan_from_run(args.run)
    backends = {"local": load_chat_model(plan)}
    set_serving_threads(serving_threads(None, backends["local"]))  # what app.py does for this model
    if args.endpoint:
        backends["openai"] = backend_for_plan(plan, args.endpoint)
    rows = {}
    for name, chat in backends.items():
        run_chats(chat, plan.system_prompt, 2, args.max_new_tokens)  # warm-up
        rounds = sorted(
            (run_chats(chat, plan.system_prompt, args.chats, args.max_new_tokens) for _ in range(args.repeats)),
            key=lambda r: r["wall_s"],
        )
        rows[name] = rounds[len(rounds) // 2]
        print(f"{name:7} {json.dumps(rows[name])}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
