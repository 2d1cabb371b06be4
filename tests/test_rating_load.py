"""Many raters at once against two app processes on one logs folder, a kill -9 in the middle, fake raters, a
damaged log.

What must hold: every rating acknowledged with ``ok`` is in ``HumanEvaluations`` exactly once, none is lost or
duplicated, the logs still parse after the kill, a restarted app goes on from them; forty fake raters never push an
item past its cap; a damaged ratings log turns rating off with the reason while the app stays up, and the file
stays byte-identical.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from bempathy.ui.rate import score_parameters
from tests.conftest import ROOT, free_port, wait_for_http

pytestmark = [pytest.mark.slow, pytest.mark.multiprocess]
N_RATERS = 50
N_ITEMS = 12


def _pairs(path: Path) -> Path:
    lines = [
        {"id": f"p{i}", "prompt": f"প্রশ্ন {i}: আমার মন খারাপ।", "answers": {"base": f"উত্তর {i} ক", "tuned": f"উত্তর {i} খ"}}
        for i in range(N_ITEMS)
    ]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    return path


def _start(logs: Path, pairs: Path, port: int, ratings_per_item: int = N_RATERS + 5) -> subprocess.Popen:
    command = [sys.executable, "app.py", "--crowd", "--logs-dir", str(logs), "--port", str(port)]
    command += ["--pairs", str(pairs), "--ratings-per-item", str(ratings_per_item)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_for_http(f"http://127.0.0.1:{port}/", timeout=90)
    return process


class Rater(threading.Thread):
    """One simulated rater: next item, rate it (sometimes twice, like a double click), until none are left."""

    def __init__(self, index: int, port: int) -> None:
        super().__init__(daemon=True)
        self.rater_id, self.port = f"rater-{index:02d}", port
        self.key: str | None = None  # issued by the app on this pseudonym's first /next_item
        self.acknowledged: list[str] = []
        self.latencies: list[float] = []
        self.duplicates_refused = 0
        self.errors = 0
        self.error_messages: list[str] = []  # shown when a rater of the app that stayed up fails
        self.failures: list[str] = []  # wrong answers from a live app (asserted after join, never swallowed)

    def run(self) -> None:
        from gradio_client import Client

        try:
            client = Client(f"http://127.0.0.1:{self.port}/", verbose=False)
            for step in range(N_ITEMS + 2):
                item = client.predict(self.rater_id, self.key, api_name="/next_item")
                self.key = item.get("rater_key") or self.key
                if item["item_id"] is None:
                    return
                scores = [1 + (step + k) % 5 for k in range(6)]
                args = [self.rater_id, item["item_id"], *scores, "AB"[step % 2], "ঠিক আছে", self.key]
                began = time.perf_counter()
                outcome = client.predict(*args, api_name="/rate")
                self.latencies.append(time.perf_counter() - began)
                if outcome["ok"]:
                    self.acknowledged.append(outcome["rating_id"])
                if step % 5 == 0:  # a double submit must be refused, not stored twice
                    again = client.predict(*args, api_name="/rate")
                    if again["ok"] or again["rating_id"] is not None:
                        self.failures.append(f"{self.rater_id}: a double submit was accepted: {again}")
                    self.duplicates_refused += 1
        except Exception as error:  # the app this rater talks to was killed: unacknowledged work may be lost
            self.errors += 1
            self.error_messages.append(f"{type(error).__name__}: {str(error)[:200]}")


def _stored(logs: Path) -> list[dict]:
    from bempathy.storage.store import Store

    store = Store(logs)
    try:
        return store.ratings.all()
    finally:
        store.ratings.close()


def test_fifty_raters_on_two_app_processes_with_a_kill_9_lose_and_duplicate_nothing(tmp_path):
    logs, pairs = tmp_path / "logs", _pairs(tmp_path / "pairs.jsonl")
    port_a, port_b = free_port(), free_port()
    app_a, app_b = _start(logs, pairs, port_a), _start(logs, pairs, port_b)
    try:
        raters = [Rater(i, port_a if i % 2 else port_b) for i in range(N_RATERS)]
        started = time.monotonic()
        for rater in raters:
            rater.start()
        a_raters = [r for i, r in enumerate(raters) if i % 2]
        while sum(len(r.acknowledged) for r in a_raters) < 10 and time.monotonic() - started < 180:
            time.sleep(0.05)  # mid-load, not before it: a fixed sleep killed A before any rater on it had a reply
        killed_after = time.monotonic() - started
        os.kill(app_a.pid, signal.SIGKILL)  # raters on A lose their connection
        app_a.wait(timeout=30)
        for rater in raters:
            rater.join(timeout=600)
        assert not [f for rater in raters for f in rater.failures]
        wall = time.monotonic() - started
        assert killed_after < 180, "no rater of app A had a reply within 180 s"
        acked_on_a = sum(len(r.acknowledged) for r in a_raters)
        assert any(r.errors for r in a_raters), "the kill came after the load, not in the middle of it"
        acknowledged = [rid for rater in raters for rid in rater.acknowledged]
        latencies = sorted(lat for rater in raters for lat in rater.latencies)
        stored = _stored(logs)
        from gradio_client import Client

        api = Client(f"http://127.0.0.1:{port_b}/", verbose=False).view_api(return_format="dict", print_info=False)
        names = [p["parameter_name"] for p in api["named_endpoints"]["/rate"]["parameters"]]
        assert names == ["rater_id", "item_id", *score_parameters(), "preference", "comment", "rater_key"]
        counts = Counter(r["id"] for r in stored)
        assert all(counts[rid] == 1 for rid in acknowledged), "an acknowledged rating is missing or duplicated"
        assert all(n == 1 for n in counts.values())
        pairs_seen = Counter((r["item_id"], r["rater_id"]) for r in stored)
        assert all(n == 1 for n in pairs_seen.values()), "one rater rated one item twice"
        assert sum(r.duplicates_refused for r in raters) > 0
        b_raters = [r for i, r in enumerate(raters) if i % 2 == 0]
        broken = {r.rater_id: (len(r.acknowledged), r.error_messages) for r in b_raters if r.errors}
        assert not broken, f"raters of the app that stayed up failed: {broken}"  # B never stopped
        assert all(len(r.acknowledged) == N_ITEMS for r in b_raters)
        print(
            f"\n{N_RATERS} raters, 2 app processes (one killed after {killed_after:.1f} s, {acked_on_a} acknowledged "
            f"on it): {len(acknowledged)} acknowledged, "
            f"{len(stored)} stored, wall {wall:.1f} s, submit latency p50 {statistics.median(latencies) * 1000:.0f} ms "
            f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms"
        )
        # The logs still parse as a plain TinyDB file after a fold, and a restarted app goes on from them.
        from tinydb import TinyDB

        restarted = _start(logs, pairs, port_a)
        try:
            from gradio_client import Client

            client = Client(f"http://127.0.0.1:{port_a}/", verbose=False)
            # A rater of A that holds its key (one whose first reply the kill cut off never learnt it, and its
            # pseudonym stays bound to the key it never saw: by design, a lost key is a lost pseudonym).
            killed_rater = next(r for r in a_raters if r.key)
            item = client.predict(killed_rater.rater_id, killed_rater.key, api_name="/next_item")
            assert item["rated"] == len({r["item_id"] for r in stored if r["rater_id"] == killed_rater.rater_id})
            if item["item_id"] is not None:
                scores, key = [3] * 6, killed_rater.key
                outcome = client.predict(
                    killed_rater.rater_id, item["item_id"], *scores, "tie", "", key, api_name="/rate"
                )
                assert outcome["ok"], (item, outcome)
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(timeout=60)
        app_b.send_signal(signal.SIGTERM)
        app_b.wait(timeout=60)
        with TinyDB(logs / "HumanEvaluations.json") as db:
            folded = db.table("HumanEvaluations").all()
        assert {r["id"] for r in folded} >= set(acknowledged)
    finally:
        for process in (app_a, app_b):
            if process.poll() is None:
                process.kill()


def test_forty_fake_raters_on_two_app_processes_never_push_an_item_past_its_cap(tmp_path):
    """The attack on main e00940a: ratings for every item id, served or not (items ended with 18-42 ratings
    against a cap of 3). Here 40 fake raters hammer two app processes on one logs folder at once."""
    logs, pairs = tmp_path / "logs", _pairs(tmp_path / "pairs.jsonl")
    ports = free_port(), free_port()
    apps = [_start(logs, pairs, port, ratings_per_item=3) for port in ports]
    try:
        from gradio_client import Client

        item_ids = set()
        errors: list[str] = []

        def fake(k: int) -> None:
            try:
                client = Client(f"http://127.0.0.1:{ports[k % 2]}/", verbose=False)
                rater = f"fake-{k:02d}"
                item = client.predict(rater, None, api_name="/next_item")
                key = item.get("rater_key")
                if item["item_id"]:
                    item_ids.add(item["item_id"])
                for item_id in sorted(item_ids | {item["item_id"]} - {None}):  # every id it has heard of
                    client.predict(rater, item_id, *[3] * 6, "A", "", key, api_name="/rate")
                while item["item_id"] is not None:
                    client.predict(rater, item["item_id"], *[4] * 6, "B", "", key, api_name="/rate")
                    item = client.predict(rater, key, api_name="/next_item")
            except Exception as error:
                errors.append(f"{type(error).__name__}: {str(error)[:200]}")

        threads = [threading.Thread(target=fake, args=(k,), daemon=True) for k in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not errors, errors
        per_item = Counter(r["item_id"] for r in _stored(logs))
        assert len(per_item) == N_ITEMS and set(per_item.values()) == {3}, per_item
        print(f"\n40 fake raters on 2 app processes, cap 3: {sorted(per_item.values())} ratings per item")
    finally:
        for process in apps:
            process.kill()
            process.wait(timeout=30)


def test_a_damaged_ratings_log_turns_rating_off_with_the_reason_and_the_app_stays_up(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    corrupt = logs / "HumanEvaluations.json"
    corrupt.write_bytes(b'{"HumanEvaluations": {"1": {"id": "x", "rater_id": ')
    before = corrupt.read_bytes()
    port = free_port()
    command = [sys.executable, "app.py", "--crowd", "--logs-dir", str(logs), "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=90)  # up: on main e00940a it exited with status 2
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        assert client.predict(api_name="/experiments") == []  # Reports still answer
        api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        assert "/next_item" not in api and "/rate" not in api  # nothing can be rated into a damaged log
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10) as response:
            page = response.read().decode("utf-8")
        assert "HumanEvaluations.json" in page and "bempathy.human_eval check" in page  # the Rate tab says why
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert "rating is off" in stderr and "HumanEvaluations.json" in stderr
    assert corrupt.read_bytes() == before


def test_a_garbage_journal_line_is_quarantined_and_the_app_rates_on(tmp_path):
    """On main e00940a one complete malformed journal line ended start-up (exit 2), taking the whole app down."""
    logs, pairs = tmp_path / "logs", _pairs(tmp_path / "pairs.jsonl")
    logs.mkdir()
    journal = logs / "HumanEvaluations.journal.jsonl"
    good = json.dumps({"id": "r1", "item_id": "elsewhere", "rater_id": "someone"}) + "\n"
    journal.write_text(good + "this is not JSON at all\n" + good.replace("r1", "r2"), encoding="utf-8")
    port = free_port()
    app = _start(logs, pairs, port)
    try:
        from gradio_client import Client

        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        item = client.predict("after-the-damage", None, api_name="/next_item")
        assert item["item_id"] is not None
        outcome = client.predict(
            "after-the-damage", item["item_id"], *[4] * 6, "A", "", item["rater_key"], api_name="/rate"
        )
        assert outcome["ok"], outcome
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=60)
    (entry,) = [json.loads(line) for line in (logs / "HumanEvaluations.journal.quarantine.jsonl").open()]
    assert entry["text"] == "this is not JSON at all" and entry["byte_offset"] == len(good.encode())
    assert {r["id"] for r in _stored(logs)} >= {"r1", "r2", outcome["rating_id"]}
