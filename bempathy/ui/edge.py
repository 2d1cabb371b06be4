"""The API edge: every public endpoint checks its parameters' types here before using them.

A wrong type (a list where text belongs, ``true`` for a number, NaN, a lone surrogate) gets the same kind of answer
as a bad value: one :class:`EdgeError` whose message is one line, Bengali first, then English, joined by " / ",
which the handler turns into ``gr.Error``; never a Python exception from deep inside a handler. Values (ranges,
lengths, known variants) stay with the library that owns them where there is one (e.g.
:class:`bempathy.serve.conversation.ConversationService`); ``lo``/``hi`` and ``max_chars`` here serve endpoints
without one and bound the work done on what a client sent.

Raw HTTP (gradio 6.31): ``POST /gradio_api/call/<name>`` with ``{"data": [...]}`` needs one value per parameter;
a shorter list gets a bare error event (``{"error": null}``) and ``null`` reaches the handler as None, not as the
Python default. :class:`CallDefaults` appends the declared defaults to a short list, as ``gradio_client`` and
gradio's own ``POST /gradio_api/call/v2/<name>`` (a JSON object keyed by parameter name) already do.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

import gradio as gr
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bempathy.text import UnsafeTextError, bilingual, hygienic_text

# The app takes no files from users; Gradio's upload route would otherwise take any size.
MAX_FILE_SIZE = "1mb"


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Final = _Required()  # a parameter's ``default``: there is none, so a missing value (None) is refused

_KINDS = {
    type(None): ("খালি (null)", "null"),
    bool: ("সত্য/মিথ্যা", "a boolean"),
    int: ("সংখ্যা", "a number"),
    float: ("সংখ্যা", "a number"),
    str: ("লেখা", "text"),
    list: ("তালিকা", "a list"),
    dict: ("অবজেক্ট", "an object"),
}


class EdgeError(ValueError):
    """A refused API input; ``str(error)`` is the one-line bilingual message for the client."""


def client_error(error: ValueError) -> gr.Error:
    """What a handler raises for a refused input: ``gr.Error`` with its one-line message, and no traceback in the
    server log (a refusal is not a fault, and a hostile client must not be able to fill the log)."""
    return gr.Error(str(error), print_exception=False)


def _kind(value: Any) -> tuple[str, str]:
    return _KINDS.get(type(value), ("অন্য কিছু", type(value).__name__))


def _wrong_type(name: str, value: Any, bn_wanted: str, en_wanted: str) -> EdgeError:
    bn_got, en_got = _kind(value)
    return EdgeError(
        bilingual(f"«{name}» {bn_wanted} হতে হবে, এসেছে {bn_got}।", f"{name} must be {en_wanted}, got {en_got}.")
    )


def _missing(name: str) -> EdgeError:
    return EdgeError(bilingual(f"«{name}» দিতে হবে।", f"{name} is required."))


def text_param(value: Any, name: str, *, max_chars: int, default: Any = REQUIRED) -> str:
    """A str of at most ``max_chars`` characters, through :func:`hygienic_text`; None means ``default``."""
    if value is None:
        if default is REQUIRED:
            raise _missing(name)
        return default
    if not isinstance(value, str):
        raise _wrong_type(name, value, "লেখা (টেক্সট)", "text")
    if len(value) > max_chars:  # before any work on the text
        raise _too_long(name, len(value), max_chars)
    text = _hygienic(value, name)
    if len(text) > max_chars:  # NFC can lengthen a text
        raise _too_long(name, len(text), max_chars)
    return text


def _too_long(name: str, n: int, limit: int) -> EdgeError:
    return EdgeError(
        bilingual(
            f"«{name}» খুব দীর্ঘ ({n} অক্ষর; সর্বোচ্চ {limit})।",
            f"{name} is too long: {n} characters, the limit is {limit}.",
        )
    )


def _hygienic(value: str, name: str) -> str:
    try:
        return hygienic_text(value)
    except UnsafeTextError as error:
        bn, _, en = str(error).partition(" / ")
        raise EdgeError(bilingual(f"«{name}»: {bn}", f"{name}: {en or bn}")) from None


def number_param(
    value: Any,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    integer: bool = False,
    default: Any = REQUIRED,
) -> int | float:
    """A finite int or float (never a bool), within [lo, hi] where given; ``integer`` takes whole numbers only
    (``4.0`` becomes 4); None means ``default``."""
    if value is None:
        if default is REQUIRED:
            raise _missing(name)
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(name, value, "একটি সংখ্যা", "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise EdgeError(bilingual(f"«{name}» একটি সসীম সংখ্যা হতে হবে।", f"{name} must be a finite number, got {value}."))
    if integer:
        if value != int(value):
            raise EdgeError(bilingual(f"«{name}» পূর্ণ সংখ্যা হতে হবে।", f"{name} must be a whole number, got {value}."))
        value = int(value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        lo_text, hi_text = ("−∞" if lo is None else lo), ("∞" if hi is None else hi)
        raise EdgeError(
            bilingual(
                f"«{name}» {lo_text} থেকে {hi_text}-এর মধ্যে হতে হবে, এসেছে {value}।",
                f"{name} must be between {lo_text} and {hi_text}, got {value}.",
            )
        )
    return value


def optional_seed(value: Any, name: str = "seed") -> int | None:
    """A whole-number seed, or None for a random one: None, "" and -1 (the tabs' "random") all mean random."""
    if value in (None, ""):
        return None
    seed = number_param(value, name, integer=True)
    return None if seed == -1 else int(seed)


def history_param(value: Any, *, max_entries: int | None = None) -> list[dict[str, Any]]:
    """A list of message objects (``{"role": str, "content": text, content blocks or null, ...}``) or None (none);
    a longer list is cut to its newest ``max_entries`` before its entries are checked."""
    if value is None:
        return []
    wanted = ("বার্তার তালিকা ([{role, content}, …])", "a list of messages ([{role, content}, ...])")
    if not isinstance(value, list):
        raise _wrong_type("history", value, *wanted)
    entries = value[-max_entries:] if max_entries else value
    for entry in entries:
        if not isinstance(entry, dict):
            raise _wrong_type("history", entry, *wanted)
        if not isinstance(entry.get("role"), str) or not isinstance(entry.get("content"), str | list | dict | None):
            raise EdgeError(
                bilingual(
                    "«history»-র প্রতিটি বার্তায় role (লেখা) ও content (লেখা বা ব্লকের তালিকা) থাকতে হবে।",
                    "each history message needs a role (text) and a content (text or a list of blocks).",
                )
            )
    return entries


def choice_param(value: Any, name: str, choices: list[str] | tuple[str, ...], *, default: Any = REQUIRED) -> str:
    """One of ``choices`` exactly (a str); None means ``default``."""
    if value is None:
        if default is REQUIRED:
            raise _missing(name)
        return default
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(choices)
        raise EdgeError(bilingual(f"«{name}» এগুলোর একটি হতে হবে: {listed}।", f"{name} must be one of: {listed}."))
    return value


# -- raw HTTP calls: declared defaults for left-out trailing parameters
_CALL_PATH = re.compile(r"/gradio_api/(?:call|run|api)/(?P<name>[^/]+)/?")


class CallDefaults:
    """ASGI middleware: a ``POST /gradio_api/call|run|api/<name>`` whose ``data`` list leaves out trailing
    parameters gets their declared defaults appended (what gradio_client sends); one that leaves out a required
    parameter is refused with HTTP 422 and a one-line bilingual ``detail``. Anything else passes untouched."""

    def __init__(self, app: ASGIApp, blocks: Any) -> None:
        self.app = app
        self.blocks = blocks
        self._parameters: dict[str, list[dict[str, Any]]] | None = None

    def parameters(self, name: str) -> list[dict[str, Any]] | None:
        """The endpoint's parameters as Gradio's API info lists them (read once: they never change once launched)."""
        if self._parameters is None:
            info = self.blocks.get_api_info(all_endpoints=True)["named_endpoints"]
            self._parameters = {key.lstrip("/"): value["parameters"] for key, value in info.items()}
        return self._parameters.get(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _CALL_PATH.fullmatch(scope.get("path", "")) if scope["type"] == "http" else None
        if match is None or scope["method"] != "POST" or self.parameters(match["name"]) is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return
        padded, refusal = self._pad(match["name"], body)
        if refusal is not None:
            await _send_json(send, 422, {"detail": refusal})
            return
        if padded is not None:
            body = padded
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _replay(body, receive), send)

    def _pad(self, name: str, body: bytes) -> tuple[bytes | None, str | None]:
        """(the body with defaults appended, or None to leave it as sent; a refusal message, or None)."""
        try:
            payload = json.loads(body)
        except ValueError:
            return None, None  # Gradio answers malformed JSON itself
        data = payload.get("data") if isinstance(payload, dict) else None
        parameters = self.parameters(name) or []
        if not isinstance(data, list) or len(data) >= len(parameters):
            return None, None
        missing = parameters[len(data) :]
        required = [p.get("parameter_name") or p.get("label") for p in missing if not p.get("parameter_has_default")]
        if required:
            return None, str(_missing(", ".join(map(str, required))))
        payload["data"] = [*data, *(p.get("parameter_default") for p in missing)]
        return json.dumps(payload).encode(), None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when the client went away before sending it."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app ``body`` once, then whatever the client sends next (a disconnect)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send_json(send: Send, status: int, content: dict[str, Any]) -> None:
    body = json.dumps(content, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def edge_middleware(blocks: Any) -> list[Middleware]:
    """The middleware :func:`bempathy.ui.app.launch` installs (``app_kwargs={"middleware": ...}``)."""
    return [Middleware(CallDefaults, blocks=blocks)]


__all__ = [
    "MAX_FILE_SIZE",
    "REQUIRED",
    "CallDefaults",
    "EdgeError",
    "choice_param",
    "client_error",
    "edge_middleware",
    "history_param",
    "number_param",
    "optional_seed",
    "text_param",
]
