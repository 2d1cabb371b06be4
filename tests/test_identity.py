"""The logs folder's secret, keyed labels, pseudonym keys and the client address for rate limits."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import stat
import threading
from pathlib import Path

import pytest

from bempathy.rating.identity import SECRET_FILE, RaterKeys, SecretError, StudySecret, client_address


def _key_of(folder: str, queue) -> None:
    queue.put(StudySecret(folder).key)


def test_the_secret_is_owner_only_stable_and_one_per_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BEMPATHY_RATING_SECRET", raising=False)
    first = StudySecret(tmp_path / "a")
    key = first.key
    mode = stat.S_IMODE(os.stat(tmp_path / "a" / SECRET_FILE).st_mode)
    assert mode == 0o600 and len(key) == 32
    assert StudySecret(tmp_path / "a").key == key  # a restart reads the same secret
    assert StudySecret(tmp_path / "b").key != key
    assert StudySecret(tmp_path / "b").order_seed() != first.order_seed()
    os.chmod(tmp_path / "a" / SECRET_FILE, 0o644)
    with pytest.raises(SecretError, match="chmod 600"):
        _ = StudySecret(tmp_path / "a").key


def test_processes_racing_to_create_the_secret_agree(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BEMPATHY_RATING_SECRET", raising=False)
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_key_of, args=(str(tmp_path), queue)) for _ in range(4)]
    for process in processes:
        process.start()
    keys = {queue.get(timeout=60) for _ in processes}
    for process in processes:
        process.join(timeout=60)
    assert len(keys) == 1 and keys == {StudySecret(tmp_path).key}


def test_the_environment_secret_wins_and_must_be_long_enough(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BEMPATHY_RATING_SECRET", "a-space-secret-of-some-length")
    assert StudySecret(tmp_path / "x").key == StudySecret(tmp_path / "y").key
    assert not (tmp_path / "x" / SECRET_FILE).exists()
    monkeypatch.setenv("BEMPATHY_RATING_SECRET", "short")
    with pytest.raises(SecretError, match="at least 16"):
        _ = StudySecret(tmp_path / "z").key


def test_labels_are_keyed_not_a_plain_hash(tmp_path: Path) -> None:
    secret = StudySecret(tmp_path)
    label = secret.label("hf:alice")
    assert label == StudySecret(tmp_path).label("hf:alice") and label.startswith("rater-")
    assert label != "rater-" + hashlib.sha256(b"hf:alice").hexdigest()[:8]
    assert label != StudySecret(tmp_path / "other").label("hf:alice")


def test_a_pseudonym_binds_on_first_use_and_then_needs_its_key(tmp_path: Path) -> None:
    secret = StudySecret(tmp_path)
    keys = RaterKeys(tmp_path, secret)
    first = keys.check("asha", None)
    assert first.ok and first.reason == "bound" and first.issued_key == secret.rater_key("asha")
    assert keys.check("asha", None).reason == "missing_key"
    assert keys.check("asha", "wrong-key-wrong-key").reason == "wrong_key"
    assert keys.check("asha", ["not", "text"]).reason == "wrong_key"
    assert keys.check("asha", first.issued_key).ok
    keys.close()
    restarted = RaterKeys(tmp_path, StudySecret(tmp_path))
    assert restarted.check("asha", None).reason == "missing_key" and restarted.check("asha", first.issued_key).ok
    restarted.close()


def test_twenty_racing_first_calls_issue_exactly_one_key(tmp_path: Path) -> None:
    secret = StudySecret(tmp_path)
    services = [RaterKeys(tmp_path, secret) for _ in range(4)]  # as four app processes would hold
    results = []
    threads = [
        threading.Thread(target=lambda k=k: results.append(services[k % 4].check("same-name", None))) for k in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.issued_key is not None for r in results) == 1
    assert sum(r.ok for r in results) == 1


def test_the_secret_never_reaches_another_file_of_the_logs_folder(tmp_path: Path) -> None:
    secret = StudySecret(tmp_path)
    keys = RaterKeys(tmp_path, secret)
    for name in ("a", "b", "c"):
        keys.check(name, None)
    keys.close()
    for path in tmp_path.iterdir():
        if path.name != SECRET_FILE and path.is_file():
            data = path.read_bytes()
            assert secret.key not in data and secret.key.hex().encode() not in data


@pytest.mark.parametrize(
    ("headers", "peer", "proxies", "expected"),
    [
        ({"x-forwarded-for": "1.2.3.4"}, "127.0.0.1", 0, "127.0.0.1"),  # a client's own header is ignored
        ({"x-forwarded-for": "1.2.3.4, 198.51.100.7"}, "10.0.0.1", 1, "198.51.100.7"),  # spoof + what the proxy saw
        ({"x-forwarded-for": "198.51.100.7, 10.0.0.2"}, "10.0.0.1", 2, "198.51.100.7"),
        ({"x-forwarded-for": "198.51.100.7"}, "10.0.0.1", 3, "198.51.100.7"),  # a shorter chain: the leftmost
        ({"x-forwarded-for": " , "}, "10.0.0.1", 1, "10.0.0.1"),
        (None, "10.0.0.1", 1, "10.0.0.1"),
    ],
)
def test_client_address(headers, peer, proxies, expected) -> None:
    assert client_address(headers, peer, proxies) == expected
