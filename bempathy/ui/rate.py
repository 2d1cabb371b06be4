"""Human evaluation tab: blind A/B rating by crowd raters; and the ``/next_item`` and ``/rate`` endpoints.

The tab only shows and collects: what an item is, who gets it, validation, storage and statistics live in
:mod:`bempathy.rating.service` and :mod:`bempathy.rating.stats` (as Chatbot Arena keeps its battle UI apart from vote
logging and rating analysis). The pseudonym is kept in the rater's browser (``gr.BrowserState``); on a Space with
Hugging Face OAuth the signed-in username is the rater id and anonymous visitors cannot submit. Admin actions
(export, switching the experiment) need ``$BEMPATHY_ADMIN_TOKEN``.

The module reads top to bottom: the layout (:class:`RateTab`), the rating handlers, the admin accordion and the
public API. The score inputs come from :data:`bempathy.rating.items.CRITERIA`, one radio per criterion and side.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import gradio as gr

from bempathy.rating.identity import client_address
from bempathy.rating.items import CRITERIA, CRITERIA_NAMES, PREFERENCES
from bempathy.rating.service import RatingService
from bempathy.rating.stats import summarize
from bempathy.rating.tables import summary_csv
from bempathy.ui.context import RATING_CONCURRENCY, RATING_QUEUE, AppContext

SCORES = [1, 2, 3, 4, 5]
SIDES = ("A", "B")
OAUTH_ENV = "OAUTH_CLIENT_ID"  # set by Spaces whose README front matter says hf_oauth: true
SIGN_IN_FIRST = "রেট করতে Hugging Face দিয়ে সাইন ইন করুন। Please sign in with Hugging Face to rate."
ENTER_PSEUDONYM = "ছদ্মনাম দিন · Enter a pseudonym to start."
PSEUDONYM_CHANGED = "ছদ্মনাম বদলেছে: আবার শুরু চাপুন। The pseudonym changed: press Start again."


def score_parameters() -> list[str]:
    """The public ``/rate`` endpoint's score parameters, in order: every criterion for answer A, then for B."""
    return [f"{criterion}_{side.lower()}" for side in SIDES for criterion in CRITERIA_NAMES]


def anchors_markdown() -> str:
    """Each criterion's 1-5 anchors in Bengali and English, as a table raters can keep open."""
    blocks = []
    for criterion in CRITERIA.values():
        rows = [f"| {score} | {bn} | {en} |" for score, (bn, en) in sorted(criterion["anchors"].items())]
        blocks.append(
            f"**{criterion['label_bn']} · {criterion['label_en']}**\n\n| | বাংলা | English |\n|---|---|---|\n"
            + "\n".join(rows)
        )
    return "\n\n".join(blocks)


def client_key(request: gr.Request | None, trusted_proxies: int = 0) -> str | None:
    """Who is submitting, for the per-client rate limit: the socket's peer address, or behind
    ``trusted_proxies`` proxies the address the outermost of them saw (never what the client wrote in
    X-Forwarded-For). A browser session id would not do: any client can make up a new one per request."""
    if request is None:
        return None
    client = getattr(request, "client", None)
    peer = getattr(client, "host", None)
    return client_address(request.headers, peer, trusted_proxies) or getattr(request, "session_hash", None)


def rater_of(oauth: bool, typed: Any, profile: gr.OAuthProfile | None) -> str | None:
    """The rater id: the signed-in username on an OAuth Space (None when signed out), else the typed pseudonym
    (None when it is empty or not text: the service then says what a pseudonym must be)."""
    if oauth:
        return f"hf:{profile.username}" if profile is not None else None
    return typed.strip() or None if isinstance(typed, str) else None


# ---- layout ------------------------------------------------------------------------------------------


@dataclass
class RateTab:
    """The tab's components; ``scores[side][criterion]`` is one 1-5 radio."""

    stored_rater: gr.BrowserState
    stored_keys: gr.BrowserState  # {pseudonym: the key the server issued for it in this browser}
    item_state: gr.State  # (item_id, rater id it was shown to, monotonic time it was shown)
    rater: gr.Textbox
    start: gr.Button
    progress: gr.Markdown
    prompt: gr.Textbox
    answers: dict[str, gr.Textbox]
    scores: dict[str, dict[str, gr.Radio]]
    preference: gr.Radio
    comment: gr.Textbox
    submit: gr.Button
    result: gr.Markdown

    @property
    def score_radios(self) -> list[gr.Radio]:
        return [self.scores[side][criterion] for side in SIDES for criterion in CRITERIA_NAMES]

    @property
    def shown(self) -> list[Any]:
        """What showing an item fills in: the state, the prompt, both answers and the progress line."""
        return [self.item_state, self.prompt, self.answers["A"], self.answers["B"], self.progress]

    @property
    def cleared(self) -> list[Any]:
        """What a new item empties: every score, the preference and the comment."""
        return [*self.score_radios, self.preference, self.comment]


def _score_column(side: str) -> tuple[gr.Textbox, dict[str, gr.Radio]]:
    answer = gr.Textbox(label=f"উত্তর {side} · Answer {side}", interactive=False, lines=8, elem_id=f"rate-answer-{side}")
    radios = {
        name: gr.Radio(
            SCORES, label=f"{criterion['label_bn']} · {criterion['label_en']} ({side})", elem_id=f"rate-{name}-{side}"
        )
        for name, criterion in CRITERIA.items()
    }
    return answer, radios


def _layout(service: RatingService, oauth: bool) -> RateTab:
    gr.Markdown(
        "দুটি উত্তর পড়ুন (কোনটি কোন মডেলের, তা দেখানো হয় না), প্রতিটিকে ১-৫ নম্বর দিন, তারপর কোনটি ভালো বেছে নিন।  \n"
        "Read two answers (which model wrote which is hidden), score each 1-5, then pick the better one."
    )
    stored_rater = gr.BrowserState("", storage_key="bempathy-rater")
    stored_keys = gr.BrowserState({}, storage_key="bempathy-rater-keys")
    item_state = gr.State(None)
    with gr.Row():
        if oauth:
            gr.LoginButton()
        rater = gr.Textbox(
            label="ছদ্মনাম · Pseudonym (no email or real name)",
            max_length=40,
            scale=3,
            elem_id="rate-rater",
            visible=not oauth,
        )
        start = gr.Button("শুরু · Start", variant="primary", scale=1, elem_id="rate-start")
    progress = gr.Markdown(elem_id="rate-progress")
    prompt = gr.Textbox(label="প্রশ্ন · Prompt", interactive=False, lines=3, elem_id="rate-prompt")
    with gr.Accordion("নম্বরের মানে · What the scores mean", open=False):
        gr.Markdown(anchors_markdown())
    answers, scores = {}, {}
    with gr.Row(equal_height=False, elem_classes=["rate-pair"]):  # stacked on phones (CSS in ui/app.py)
        for side in SIDES:
            with gr.Column(min_width=280):
                answers[side], scores[side] = _score_column(side)
    preference = gr.Radio(
        [(f"{bn} · {en}", key) for key, (bn, en) in PREFERENCES.items()],
        label="কোনটি ভালো? · Which is better?",
        elem_id="rate-preference",
    )
    comment = gr.Textbox(
        label="মন্তব্য (ঐচ্ছিক) · Comment (optional)",
        lines=2,
        max_length=service.max_comment_chars,
        elem_id="rate-comment",
    )
    submit = gr.Button("জমা দিন · Submit", variant="primary", elem_id="rate-submit")
    result = gr.Markdown(elem_id="rate-result")
    return RateTab(
        stored_rater,
        stored_keys,
        item_state,
        rater,
        start,
        progress,
        prompt,
        answers,
        scores,
        preference,
        comment,
        submit,
        result,
    )


# ---- rating handlers ---------------------------------------------------------------------------------


def _wire_rating(tab: RateTab, service: RatingService, oauth: bool, trusted_proxies: int, queue: dict[str, Any]):
    """Start, Submit and page load; returns the page-load (fn, inputs, outputs) that restores the pseudonym."""

    def key_of(keys: Any, rater_id: str) -> str | None:
        return keys.get(rater_id) if isinstance(keys, dict) else None

    def show_next(rater_id: str | None, keys: Any) -> tuple[list[Any], dict]:
        """The next item for this rater (or the reason there is none), for ``tab.shown``; and the browser's keys,
        with the one the server issued if this was the pseudonym's first use."""
        keys = dict(keys) if isinstance(keys, dict) else {}
        if rater_id is None:
            return [None, "", "", "", SIGN_IN_FIRST if oauth else ENTER_PSEUDONYM], keys
        item = service.next_item(rater_id, key_of(keys, rater_id))
        if item.get("rater_key"):
            keys[rater_id] = item["rater_key"]
        state = (item["item_id"], rater_id, time.monotonic()) if item["item_id"] else None
        return [state, item["prompt"], item["answer_a"], item["answer_b"], item["message"]], keys

    def begin(typed, keys, profile: gr.OAuthProfile | None = None):
        rater_id = rater_of(oauth, typed, profile)
        shown, keys = show_next(rater_id, keys)
        return [*shown, *[None] * len(tab.cleared), "", rater_id or "", keys]

    def submit_rating(values: dict, profile: gr.OAuthProfile | None = None, request: gr.Request = None):
        """``values`` maps each input component to its value (Gradio passes a dict for a set of inputs)."""
        keep = [gr.skip()] * (len(tab.shown) + len(tab.cleared))
        rater_id = rater_of(oauth, values[tab.rater], profile)
        state, keys = values[tab.item_state], values[tab.stored_keys]
        if rater_id is None:
            return [*keep, SIGN_IN_FIRST, gr.skip()]
        if not state:
            return [*keep, "Press Start to load an item.", gr.skip()]
        item_id, shown_to, shown_at = state
        if rater_id != shown_to:  # A/B order is per rater: scores typed for another id would land on the wrong side
            return [*keep, PSEUDONYM_CHANGED, gr.skip()]
        outcome = service.rate(
            rater_id,
            item_id,
            *([values[tab.scores[side][c]] for c in CRITERIA_NAMES] for side in SIDES),
            values[tab.preference],
            values[tab.comment],
            seconds_spent=time.monotonic() - shown_at,
            session_id=client_key(request, trusted_proxies),
            rater_key=key_of(keys, rater_id),
        )
        if not outcome["ok"]:  # keep what the rater entered so they can fix it
            return [*keep, f"⚠️ {outcome['message']}", gr.skip()]
        shown, keys = show_next(rater_id, keys)
        return [*shown, *[None] * len(tab.cleared), f"✅ {outcome['message']}", keys]

    def restore(saved, keys):
        """On page load: put the pseudonym kept in this browser back, and show that rater's next item."""
        if oauth or not saved:
            return [gr.skip()] * (3 + len(tab.shown))
        shown, keys = show_next(saved, keys)
        return [saved, saved, keys, *shown]

    start_outputs = [*tab.shown, *tab.cleared, tab.result, tab.stored_rater, tab.stored_keys]
    for trigger in (tab.start.click, tab.rater.submit):
        trigger(begin, [tab.rater, tab.stored_keys], start_outputs, api_visibility="private", **queue)
    tab.submit.click(
        submit_rating,
        {tab.rater, tab.item_state, tab.stored_keys, *tab.score_radios, tab.preference, tab.comment},
        [*tab.shown, *tab.cleared, tab.result, tab.stored_keys],
        api_visibility="private",
        **queue,
    )
    return restore, [tab.stored_rater, tab.stored_keys], [tab.rater, tab.stored_rater, tab.stored_keys, *tab.shown]


# ---- admin -------------------------------------------------------------------------------------------


def _build_admin(ctx: AppContext, service: RatingService, queue: dict[str, Any]) -> None:
    with gr.Accordion("Admin (needs BEMPATHY_ADMIN_TOKEN)", open=False):
        token = gr.Textbox(label="Admin token", type="password")
        with gr.Row():
            experiment = gr.Textbox(label="Experiment id to rate (empty: latest)")
            switch = gr.Button("Switch experiment")
            export = gr.Button("Export ratings (CSV summary + DPO pairs)")
        admin_result = gr.Markdown()
        files = gr.File(label="Exports", file_count="multiple", interactive=False)

    def switch_experiment(token_value, experiment_id):
        if not ctx.is_admin(token_value):
            return "Refused: wrong or missing admin token."
        try:
            service.set_experiment(experiment_id.strip() or None)
        except ValueError as error:
            return f"Refused: {error}"
        return f"Now rating experiment {service.experiment_id} (evaluation {service.evaluation_id})."

    def export_files(token_value):
        if not ctx.is_admin(token_value):
            return "Refused: wrong or missing admin token.", None
        folder = tempfile.mkdtemp(prefix="bempathy-export-")
        pairs = os.path.join(folder, "preferences.jsonl")
        preferences = service.export_preferences(pairs)
        summary = summarize(service.store.ratings.all(), experiment_id=service.experiment_id)
        csv_path = os.path.join(folder, "human_scores.csv")
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            handle.write(summary_csv(summary))
        done = f"Exported {summary['n_ratings']} ratings' summary and {len(preferences.rows)} preference pairs"
        return f"{done} ({'; '.join(preferences.report().splitlines())}).", [csv_path, pairs]

    switch.click(switch_experiment, [token, experiment], [admin_result], api_visibility="private", **queue)
    export.click(export_files, [token], [admin_result, files], api_visibility="private", **queue)


# ---- public API --------------------------------------------------------------------------------------


def _register_api(service: RatingService, oauth: bool, trusted_proxies: int, queue: dict[str, Any]) -> None:
    """``/next_item`` and ``/rate``. The score parameters are spelled out because they *are* the documented API;
    ``tests/test_human_eval.py`` checks they are :func:`score_parameters`, so they follow ``CRITERIA``. ``rater_key``
    comes last and is optional, so positional calls written before it existed keep their meaning."""

    def next_item(rater_id: str, rater_key: str | None = None, profile: gr.OAuthProfile | None = None) -> dict:
        """The next item for this rater: {item_id (null when none are left), prompt, answer_a, answer_b, ...}.

        Off a Space, the first call for a pseudonym also returns ``rater_key``: pass it on every later call."""
        if oauth and profile is None:
            return {"item_id": None, "prompt": "", "answer_a": "", "answer_b": "", "message": SIGN_IN_FIRST}
        return service.next_item(rater_of(oauth, rater_id, profile) or "", rater_key)

    def rate(
        rater_id: str,
        item_id: str,
        empathy_a: int,
        tone_a: int,
        helpfulness_a: int,
        empathy_b: int,
        tone_b: int,
        helpfulness_b: int,
        preference: str,
        comment: str = "",
        rater_key: str | None = None,
        profile: gr.OAuthProfile | None = None,
        request: gr.Request = None,
    ) -> dict:
        """Store one rating of the item /next_item gave this rater: scores 1-5 per answer, preference
        A/B/tie/both_bad, the pseudonym's rater_key. {ok, message, rating_id}."""
        if oauth and profile is None:
            return {"ok": False, "message": SIGN_IN_FIRST, "rating_id": None}
        scores_a, scores_b = (empathy_a, tone_a, helpfulness_a), (empathy_b, tone_b, helpfulness_b)
        rater = rater_of(oauth, rater_id, profile) or ""
        client = client_key(request, trusted_proxies)
        return service.rate(
            rater, item_id, scores_a, scores_b, preference, comment, session_id=client, rater_key=rater_key
        )

    gr.api(next_item, api_name="next_item", **queue)
    gr.api(rate, api_name="rate", **queue)


def build_rate_tab(ctx: AppContext):
    """Build the tab; returns the (fn, inputs, outputs) that restores the rater's pseudonym on page load."""
    service = ctx.rating
    if service is None:
        why = ctx.rating_error or "no evaluated run in the logs"
        gr.Markdown(f"Human evaluation is not set up for this app ({why}).", elem_id="rate-unavailable")
        return None
    queue = {"concurrency_id": RATING_QUEUE, "concurrency_limit": RATING_CONCURRENCY}
    oauth = bool(os.environ.get(OAUTH_ENV))
    tab = _layout(service, oauth)
    restore = _wire_rating(tab, service, oauth, ctx.trusted_proxies, queue)
    _build_admin(ctx, service, queue)
    _register_api(service, oauth, ctx.trusted_proxies, queue)
    return restore
