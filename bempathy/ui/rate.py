"""Human evaluation tab: blind A/B rating by crowd raters; and the ``/next_item`` and ``/rate`` endpoints.

The tab only shows and collects: what an item is, who gets it, validation, storage and statistics live in
:mod:`bempathy.rating.service` and :mod:`bempathy.rating.stats` (as Chatbot Arena keeps its battle UI apart from vote
logging and rating analysis). The pseudonym is kept in the rater's browser (``gr.BrowserState``); on a Space with
Hugging Face OAuth the signed-in username is the rater id and anonymous visitors cannot submit. Admin actions
(export, switching the experiment) need ``$BEMPATHY_ADMIN_TOKEN``.
"""

from __future__ import annotations

import hmac
import os
import tempfile
import time
from typing import Any

import gradio as gr

from bempathy.rating.items import CRITERIA, PREFERENCES
from bempathy.rating.stats import summarize
from bempathy.rating.tables import summary_csv
from bempathy.ui.context import RATING_CONCURRENCY, RATING_QUEUE, AppContext

SCORES = [1, 2, 3, 4, 5]
OAUTH_ENV = "OAUTH_CLIENT_ID"  # set by Spaces whose README front matter says hf_oauth: true
SIGN_IN_FIRST = "রেট করতে Hugging Face দিয়ে সাইন ইন করুন। Please sign in with Hugging Face to rate."


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


def client_key(request: gr.Request | None) -> str | None:
    """Who is submitting, for the per-client rate limit: the first forwarded hop (Spaces sit behind a proxy),
    else the peer address. A browser session id would not do: any client can make up a new one per request."""
    if request is None:
        return None
    forwarded = (request.headers or {}).get("x-forwarded-for", "")
    if forwarded.strip():
        return forwarded.split(",")[0].strip()
    client = getattr(request, "client", None)
    return getattr(client, "host", None) or getattr(request, "session_hash", None)


def _admin_ok(ctx: AppContext, token: str | None) -> bool:
    return bool(ctx.admin_token) and hmac.compare_digest(str(token or ""), ctx.admin_token)


def build_rate_tab(ctx: AppContext):
    """Build the tab; returns the (fn, inputs, outputs) that restores the rater's pseudonym on page load."""
    service = ctx.rating
    queue = {"concurrency_id": RATING_QUEUE, "concurrency_limit": RATING_CONCURRENCY}
    oauth = bool(os.environ.get(OAUTH_ENV))
    if service is None:
        gr.Markdown("Human evaluation is not set up for this app (no evaluated run in the logs).")
        return None
    gr.Markdown(
        "দুটি উত্তর পড়ুন (কোনটি কোন মডেলের, তা দেখানো হয় না), প্রতিটিকে ১-৫ নম্বর দিন, তারপর কোনটি ভালো বেছে নিন।  \n"
        "Read two answers (which model wrote which is hidden), score each 1-5, then pick the better one."
    )
    stored_rater = gr.BrowserState("", storage_key="bempathy-rater")
    item_state = gr.State(None)  # (item_id, rater id it was shown to, monotonic time it was shown)
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
    score_inputs: dict[str, list[Any]] = {"A": [], "B": []}
    answer_boxes: dict[str, Any] = {}
    with gr.Row(equal_height=False, elem_classes=["rate-pair"]):  # stacked on phones (CSS in ui/app.py)
        for side in ("A", "B"):
            with gr.Column(min_width=280):
                answer_boxes[side] = gr.Textbox(
                    label=f"উত্তর {side} · Answer {side}", interactive=False, lines=8, elem_id=f"rate-answer-{side}"
                )
                for name, criterion in CRITERIA.items():
                    score_inputs[side].append(
                        gr.Radio(
                            SCORES,
                            label=f"{criterion['label_bn']} · {criterion['label_en']} ({side})",
                            elem_id=f"rate-{name}-{side}",
                        )
                    )
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

    scores = [*score_inputs["A"], *score_inputs["B"]]
    shown_outputs = [item_state, prompt, answer_boxes["A"], answer_boxes["B"], progress]
    clear_outputs = [*scores, preference, comment]

    def who(typed: str | None, profile: gr.OAuthProfile | None) -> str | None:
        if oauth:
            return f"hf:{profile.username}" if profile is not None else None
        return (typed or "").strip() or None

    def show_next(rater_id: str | None):
        """The next item for this rater (or the reason there is none), with the score inputs cleared."""
        if rater_id is None:
            return [None, "", "", "", SIGN_IN_FIRST if oauth else "ছদ্মনাম দিন · Enter a pseudonym to start."]
        item = service.next_item(rater_id)
        state = (item["item_id"], rater_id, time.monotonic()) if item["item_id"] else None
        return [state, item["prompt"], item["answer_a"], item["answer_b"], item["message"]]

    def begin(typed, profile: gr.OAuthProfile | None = None):
        rater_id = who(typed, profile)
        return [*show_next(rater_id), *[None] * len(clear_outputs), "", rater_id or ""]

    def submit_rating(
        typed,
        state,
        empathy_a,
        tone_a,
        helpfulness_a,
        empathy_b,
        tone_b,
        helpfulness_b,
        choice,
        text,
        profile: gr.OAuthProfile | None = None,
        request: gr.Request = None,
    ):
        keep = [gr.skip()] * (len(shown_outputs) + len(clear_outputs))
        rater_id = who(typed, profile)
        if rater_id is None:
            return [*keep, SIGN_IN_FIRST]
        if not state:
            return [*keep, "Press Start to load an item."]
        item_id, shown_to, shown_at = state
        if rater_id != shown_to:  # A/B order is per rater: scores typed for another id would land on the wrong side
            return [*keep, "ছদ্মনাম বদলেছে: আবার শুরু চাপুন। The pseudonym changed: press Start again."]
        outcome = service.rate(
            rater_id,
            item_id,
            empathy_a,
            tone_a,
            helpfulness_a,
            empathy_b,
            tone_b,
            helpfulness_b,
            choice,
            text,
            seconds_spent=time.monotonic() - shown_at,
            session_id=client_key(request),
        )
        if not outcome["ok"]:  # keep what the rater entered so they can fix it
            return [*keep, f"⚠️ {outcome['message']}"]
        return [*show_next(rater_id), *[None] * len(clear_outputs), f"✅ {outcome['message']}"]

    start_outputs = [*shown_outputs, *clear_outputs, result, stored_rater]
    start.click(begin, [rater], start_outputs, api_visibility="private", **queue)
    rater.submit(begin, [rater], start_outputs, api_visibility="private", **queue)
    submit.click(
        submit_rating,
        [rater, item_state, *scores, preference, comment],
        [*shown_outputs, *clear_outputs, result],
        api_visibility="private",
        **queue,
    )

    with gr.Accordion("Admin (needs BEMPATHY_ADMIN_TOKEN)", open=False):
        token = gr.Textbox(label="Admin token", type="password")
        with gr.Row():
            experiment = gr.Textbox(label="Experiment id to rate (empty: latest)")
            switch = gr.Button("Switch experiment")
            export = gr.Button("Export ratings (CSV summary + DPO pairs)")
        admin_result = gr.Markdown()
        files = gr.File(label="Exports", file_count="multiple", interactive=False)

    def switch_experiment(token_value, experiment_id):
        if not _admin_ok(ctx, token_value):
            return "Refused: wrong or missing admin token."
        try:
            service.set_experiment(experiment_id.strip() or None)
        except ValueError as error:
            return f"Refused: {error}"
        return f"Now rating experiment {service.experiment_id} (evaluation {service.evaluation_id})."

    def export_files(token_value):
        if not _admin_ok(ctx, token_value):
            return "Refused: wrong or missing admin token.", None

        folder = tempfile.mkdtemp(prefix="bempathy-export-")
        pairs = os.path.join(folder, "preferences.jsonl")
        n_pairs = service.export_preferences(pairs)
        summary = summarize(service.store.ratings.all(), experiment_id=service.experiment_id)
        csv_path = os.path.join(folder, "human_scores.csv")
        with open(csv_path, "w", encoding="utf-8", newline="") as handle:
            handle.write(summary_csv(summary))
        return f"Exported {summary['n_ratings']} ratings' summary and {n_pairs} preference pairs.", [csv_path, pairs]

    switch.click(switch_experiment, [token, experiment], [admin_result], api_visibility="private", **queue)
    export.click(export_files, [token], [admin_result, files], api_visibility="private", **queue)

    def next_item(rater_id: str, profile: gr.OAuthProfile | None = None) -> dict:
        """The next item for this rater: {item_id (null when none are left), prompt, answer_a, answer_b, ...}."""
        if oauth and profile is None:
            return {"item_id": None, "prompt": "", "answer_a": "", "answer_b": "", "message": SIGN_IN_FIRST}
        return service.next_item(who(rater_id, profile) or "")

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
        profile: gr.OAuthProfile | None = None,
        request: gr.Request = None,
    ) -> dict:
        """Store one rating: scores 1-5 per answer, preference A/B/tie/both_bad. {ok, message, rating_id}."""
        if oauth and profile is None:
            return {"ok": False, "message": SIGN_IN_FIRST, "rating_id": None}
        return service.rate(
            who(rater_id, profile) or "",
            item_id,
            empathy_a,
            tone_a,
            helpfulness_a,
            empathy_b,
            tone_b,
            helpfulness_b,
            preference,
            comment,
            session_id=client_key(request),
        )

    gr.api(next_item, api_name="next_item", **queue)
    gr.api(rate, api_name="rate", **queue)

    def restore(saved):
        """On page load: put the pseudonym kept in this browser back, and show that rater's next item."""
        if oauth or not saved:
            return [gr.skip()] * (2 + len(shown_outputs))
        return [saved, saved, *show_next(saved)]

    return restore, [stored_rater], [rater, stored_rater, *shown_outputs]
