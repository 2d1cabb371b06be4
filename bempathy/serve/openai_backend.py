"""Generation from an OpenAI-compatible server (vLLM): the app and the evaluator, many users at once.

:class:`OpenAIBackend` offers the generation surface of :class:`bempathy.model.chat.ChatModel` (``variants``,
``stream``, ``stream_many``, ``generate``), so :class:`~bempathy.serve.conversation.ConversationService` and the
evaluator use either without knowing which: the safety layer, input limits, history trimming and logging stay
where they are. What changes:

- each row is its own HTTP request, all rows of a comparison or an evaluation batch at the same time (the server
  batches them: vLLM puts base and adapter rows in one batch); every request carries the same decoding and seed;
- a row that fails (a server error, a refused request, no byte for ``timeout_s`` while streaming; a non-streamed
  answer, as evaluation asks, must come whole within it) ends with its error in that row and never holds up the
  others;
- a variant is the server's model of the same name (``vllm serve ... --served-model-name base --lora-modules
  tuned=RUN/adapter``, as ``python -m bempathy.serve vllm-command`` prints it), unless ``--served-names`` maps it;
  :meth:`OpenAIBackend.check_served` asks ``/v1/models`` once at start-up.

Plain ``httpx`` (it comes with Gradio) rather than the ``openai`` client: the few fields used here are the
protocol's own, and vLLM's ``seed`` needs no client support.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bempathy.model.chat import BASE, DecodingSettings, Generation, rows_of
from bempathy.model.streaming import RowStats, Snapshot
from bempathy.serve.errors import GenerationFailed

DEFAULT_TIMEOUT_S = 60.0  # the longest wait for the next byte of an answer; a stalled server fails the row
CONNECT_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 64


class BackendError(GenerationFailed):
    """The server cannot be used as asked (unreachable, a variant it does not serve, a failed request): one line."""


def normalise_endpoint(url: str) -> str:
    """``http://host:8000``, ``.../`` or ``.../v1`` -> ``http://host:8000/v1``."""
    url = url.strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise BackendError(f"--endpoint must be an http(s) URL, got {url!r}")
    return url if url.endswith("/v1") else f"{url}/v1"


def parse_served_names(text: str | None, variants: Sequence[str]) -> dict[str, str]:
    """``base=NAME,tuned=NAME`` -> the server's name for every variant (a variant not named keeps its own name)."""
    names = {variant: variant for variant in variants}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        variant, sep, name = item.partition("=")
        if not sep or not variant.strip() or not name.strip():
            raise BackendError(f"--served-names takes VARIANT=NAME[,VARIANT=NAME], got {item!r}")
        if variant.strip() not in names:
            raise BackendError(f"--served-names: unknown variant {variant.strip()!r}; this run has {', '.join(names)}")
        names[variant.strip()] = name.strip()
    return names


def _same_root(reported: str, expected: str, by_name: bool = False) -> bool:
    """The same model: equal names, or the same folder however it was spelt; ``by_name`` (the base): folders of the
    same name (a locally built model's folder is named by its fingerprint, in whichever cache it was built)."""
    if reported == expected or (by_name and Path(reported).name == Path(expected).name):
        return True
    try:
        return Path(reported).resolve() == Path(expected).resolve()
    except OSError:
        return False


def _error_text(error: BaseException) -> str:
    if isinstance(error, httpx.TimeoutException):
        return f"no answer within the timeout ({type(error).__name__})"
    if isinstance(error, httpx.HTTPStatusError):  # httpx's own message is two lines; the server's body says more
        body = " ".join(error.response.text.split())[:200]
        return f"the server answered {error.response.status_code}: {body or error.response.reason_phrase}"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text


class OpenAIBackend:
    """Variants served by one OpenAI-compatible server; the same calls as ``ChatModel``'s generation."""

    def __init__(
        self,
        endpoint: str,
        served_names: dict[str, str],
        *,
        api_key: str | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        tokenizer: Any | None = None,
        demo: bool = False,
        name: str = "",
        transport: httpx.BaseTransport | None = None,
        max_connections: int = MAX_CONNECTIONS,
        expected_roots: dict[str, str] | None = None,
    ) -> None:
        if BASE not in served_names:
            raise BackendError("an OpenAI backend needs the base variant's served name")
        self.endpoint = normalise_endpoint(endpoint)
        self.served_names = dict(served_names)  # variant -> the server's model name
        # What the evaluator and Compare read off a ChatModel: the adapters' variants, adapters first.
        self.adapters = {v: n for v, n in self.served_names.items() if v != BASE}
        self.tokenizer = tokenizer  # the history budget counts tokens as with the local model
        self.demo = demo
        self.name = name
        self.timeout_s = timeout_s
        # variant -> what the server should report as the model's root (the base's path or name, an adapter's
        # folder): a server left running for another run, with the same names, is refused at start-up.
        self.expected_roots = dict(expected_roots or {})
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            transport=transport,
        )

    @property
    def has_adapter(self) -> bool:
        return bool(self.adapters)

    @property
    def variants(self) -> list[str]:
        return [*self.adapters, BASE]

    def close(self) -> None:
        self.client.close()

    # -- start-up check
    def served_models(self) -> dict[str, str | None]:
        """The server's model names, each with the root it reports (vLLM: the base's path, an adapter's folder)."""
        try:
            response = self.client.get(f"{self.endpoint}/models")
            response.raise_for_status()
            return {model["id"]: model.get("root") for model in response.json()["data"]}
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            raise BackendError(f"cannot list the models of {self.endpoint}: {_error_text(error)}") from None

    def check_served(self) -> None:
        """Every variant's name among the server's models, serving what this run serves where the server says
        (its reported root); else one line per wrong variant."""
        served = self.served_models()
        missing = []
        for variant, name in self.served_names.items():
            expected = self.expected_roots.get(variant)
            if name not in served:
                names = ", ".join(served) or "nothing"
                missing.append(f"variant {variant!r}: the server has no model {name!r} (it serves: {names})")
            elif expected and served[name] and not _same_root(served[name], expected, by_name=variant == BASE):
                missing.append(f"variant {variant!r}: the server's {name!r} is {served[name]}, not {expected}")
        if missing:
            raise BackendError(f"{self.endpoint}: " + "\n".join(missing))

    # -- one request
    def _check(self, variants: Sequence[str]) -> None:
        unknown = sorted(set(variants) - set(self.served_names))
        if unknown:
            raise KeyError(f"unknown variant {unknown[0]!r}; served: {', '.join(self.served_names)}")

    def _body(self, conversation, variant: str, settings: DecodingSettings, seed: int | None, stream: bool):
        body: dict[str, Any] = {
            "model": self.served_names[variant],
            "messages": conversation,
            "max_tokens": settings.max_new_tokens,
            # Greedy is temperature 0 on the server (top_p then plays no part), as do_sample=False is locally.
            "temperature": settings.temperature if settings.do_sample else 0.0,
            "top_p": settings.top_p if settings.do_sample else 1.0,
            "stream": stream,
        }
        if seed is not None:
            body["seed"] = seed
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def complete(self, conversation, variant: str, settings: DecodingSettings | None = None, seed=None) -> Generation:
        """One answer, not streamed."""
        settings = settings or DecodingSettings()
        began = time.perf_counter()
        try:
            response = self.client.post(
                f"{self.endpoint}/chat/completions", json=self._body(conversation, variant, settings, seed, False)
            )
            response.raise_for_status()
            data = response.json()
            text = data["choices"][0]["message"]["content"] or ""
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as error:
            raise BackendError(f"{variant}: {_error_text(error)}") from None
        tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        return Generation(text=text.strip(), latency_s=time.perf_counter() - began, new_tokens=tokens)

    def _stream_row(self, conversation, variant, settings, seed, stop: threading.Event) -> Iterator[tuple[str, int]]:
        """(text so far, tokens so far) as the server streams; the usage chunk gives the final token count."""
        text, tokens = "", 0
        body = self._body(conversation, variant, settings, seed, True)
        with self.client.stream("POST", f"{self.endpoint}/chat/completions", json=body) as response:
            if response.status_code >= 400:
                response.read()
                raise BackendError(f"the server answered {response.status_code}: {response.text[:200]}")
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if not line.startswith("data:"):
                    continue
                payload = line[len("data:") :].strip()
                if payload == "[DONE]":
                    break
                chunk = json.loads(payload)
                if chunk.get("usage"):
                    tokens = int(chunk["usage"].get("completion_tokens") or tokens)
                for choice in chunk.get("choices") or []:
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        text += piece
                        tokens += 1
                        yield text, tokens
        yield text, tokens

    # -- the ChatModel surface
    def stream_many(
        self,
        conversations: Sequence[list[dict[str, str]]],
        variants: Sequence[str],
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[Snapshot]:
        """Every row its own streamed request, all at once; snapshots as any row grows. A failed row ends with its
        error (``Snapshot.errors``); the others go on."""
        if len(variants) != len(conversations):
            raise ValueError("one variant per conversation")
        self._check(variants)
        settings = settings or DecodingSettings()
        stop = stop or threading.Event()
        n = len(conversations)
        texts, done = [""] * n, [False] * n
        stats, errors = [RowStats() for _ in range(n)], [None] * n
        events: queue.Queue = queue.Queue()
        started = time.perf_counter()

        def run(row: int) -> None:
            try:
                for text, tokens in self._stream_row(conversations[row], variants[row], settings, seed, stop):
                    events.put((row, text, tokens, None))
                events.put((row, None, None, None))
            except Exception as error:  # the row's own failure, shown in its column
                events.put((row, None, None, f"{variants[row]}: {_error_text(error)}"))

        threads = [threading.Thread(target=run, args=(row,), daemon=True) for row in range(n)]
        for thread in threads:
            thread.start()

        def apply(event: tuple) -> None:
            row, text, tokens, error = event
            now = time.perf_counter() - started
            if text is not None:
                texts[row], stats[row].new_tokens = text.lstrip(), tokens
                if stats[row].first_token_s is None:
                    stats[row].first_token_s = now
            else:
                done[row], stats[row].latency_s, errors[row] = True, now, error
                texts[row] = texts[row].strip()

        try:
            while not all(done):
                apply(events.get())
                while not events.empty():  # coalesced: a slow consumer sees the latest state, not a backlog
                    apply(events.get_nowait())
                yield Snapshot(list(texts), list(done), [RowStats(**vars(s)) for s in stats], list(errors))
        finally:
            stop.set()

    def stream(
        self,
        conversation: list[dict[str, str]],
        variant: str = BASE,
        settings: DecodingSettings | None = None,
        seed: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[str]:
        """One answer as it grows (the Chat tab); a failed request raises :class:`BackendError`."""
        for snapshot in self.stream_many([conversation], [variant], settings, seed, stop):
            if snapshot.errors[0]:
                raise BackendError(snapshot.errors[0])
            yield snapshot.texts[0]

    def generate(
        self,
        conversations: Sequence[list[dict[str, str]]],
        variant: str | Sequence[str] = BASE,
        settings: DecodingSettings | None = None,
        batch_size: int = 8,
        progress: Any | None = None,
        seed: int | None = None,
    ) -> list[Generation]:
        """Answer each conversation, ``batch_size`` requests in flight at once; answers in input order."""
        per_row = rows_of(variant, conversations)
        self._check(per_row)

        def one(row: int) -> Generation:
            generation = self.complete(conversations[row], per_row[row], settings, seed)
            if progress is not None:
                progress.update(1)
            return generation

        with ThreadPoolExecutor(max_workers=max(1, batch_size)) as pool:
            return list(pool.map(one, range(len(conversations))))


def backend_for_plan(
    plan: Any,
    endpoint: str,
    *,
    api_key: str | None = None,
    served_names: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    check: bool = True,
    max_connections: int = MAX_CONNECTIONS,
) -> OpenAIBackend:
    """The plan's variants (base, tuned, a preference run's sft, extra adapters) on the server at ``endpoint``.

    The tokenizer is the run's own (saved with its adapter), loaded here without the model: the history budget then
    counts the same tokens as with the local backend. ``check`` asks the server for every variant's model once.
    """
    from bempathy.model.tiny import is_tiny_model, resolve_model_name
    from bempathy.model.tokenizer import load_tokenizer

    source = next(iter(plan.adapters.values()), None)  # a run saves its tokenizer with its adapter
    has_own = source is not None and (Path(source) / "tokenizer_config.json").is_file()
    tokenizer = load_tokenizer(str(source) if has_own else plan.base)
    backend = OpenAIBackend(
        endpoint,
        parse_served_names(served_names, [*plan.adapters, BASE]),
        api_key=api_key,
        timeout_s=timeout_s,
        tokenizer=tokenizer,
        demo=is_tiny_model(plan.base),
        name=plan.base or "",
        max_connections=max_connections,
        expected_roots={
            BASE: str(resolve_model_name(plan.base)) if is_tiny_model(plan.base) else plan.base,
            **{variant: str(path) for variant, path in plan.adapters.items()},
        },
    )
    if check:
        try:
            backend.check_served()
        except BackendError:
            backend.close()
            raise
    return backend
