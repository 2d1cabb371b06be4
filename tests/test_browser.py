"""The app in a real headless chromium (Debian's, driven by Playwright): what a person sees and clicks.

Screenshots go to ``$BEMPATHY_SCREENSHOTS`` (default: the test's temp dir) so a person can look at them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bempathy.ui.app import TABS
from tests.conftest import RunningApp

CHROMIUM = "/usr/lib/chromium/chromium"
pytestmark = [
    pytest.mark.slow,
    # CI installs chromium (.ci/run), so there a missing browser fails instead of skipping.
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not os.environ.get("CI"),
        reason="Debian's chromium is not installed (apt-get install chromium fonts-noto-core)",
    ),
]
# Every text node and form value on the page, except inside the Rate tab's two answer boxes.
OUTSIDE_THE_AB_BOXES = """() => {
  const boxes = '#rate-answer-A, #rate-answer-B';
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(boxes)) parts.push(node.textContent);
  }
  for (const e of document.querySelectorAll('textarea, input')) { if (!e.closest(boxes)) parts.push(e.value); }
  return parts.join('\\n');
}"""
PAYLOAD = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2"> কেমন আছ?'


@pytest.fixture(scope="module")
def running(tiny_run):
    out, logs = tiny_run
    app = RunningApp(["--run", str(out), "--logs-dir", str(logs)])
    yield app
    app.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("BEMPATHY_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


def _open(browser, url: str, width: int = 1280, height: int = 900):
    page = browser.new_page(viewport={"width": width, "height": height})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    # Not "networkidle": the Reports tab's live timer keeps polling. Wait for the page's own load events instead.
    page.goto(url, wait_until="load")
    page.locator(".tab-container").first.wait_for(timeout=30_000)
    page.wait_for_timeout(2000)
    return page, dialogs


def _tab(page, name: str) -> None:
    """Open a tab; on a narrow screen Gradio moves the tabs that do not fit into its "..." menu."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).click()
    page.wait_for_timeout(300)


def test_chat_compare_reports_and_rating_in_the_browser(running, browser, shots):
    page, dialogs = _open(browser, running.url)
    assert "bempathy" in page.title()
    # Chat: the reply streams into the chatbot.
    page.locator("#chat-input textarea").fill("আমার খুব একা লাগে, কী করব?")
    page.locator("#chat-send").click()
    bot = page.locator("#chatbot .message.bot, #chatbot [data-testid='bot']").last
    bot.wait_for(timeout=60_000)
    page.wait_for_function(
        "() => { const b = [...document.querySelectorAll('#chatbot [data-testid=\"bot\"], #chatbot .message.bot')];"
        " return b.length && b[b.length - 1].innerText.trim().length > 10; }",
        timeout=60_000,
    )
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "chat.png"), full_page=True)
    # Compare: both columns fill from one call.
    _tab(page, TABS["compare"])
    page.locator("#compare-input textarea").fill("পরীক্ষার আগে খুব ভয় লাগছে।")
    page.locator("#compare-run").click()
    page.wait_for_function(
        "() => ['#compare-left textarea', '#compare-right textarea'].every(s => {"
        " const t = document.querySelector(s); return t && t.value.trim().length > 0; })",
        timeout=60_000,
    )
    page.wait_for_function(
        "() => (document.querySelector('#compare-right-stats')?.innerText || '').includes('tokens/s')",
        timeout=60_000,
    )
    page.screenshot(path=str(shots / "compare.png"), full_page=True)
    # Reports: the experiment and its figures.
    _tab(page, TABS["reports"])
    page.wait_for_function(
        "() => (document.querySelector('#reports-comparison')?.innerText || '').includes('chrF++')", timeout=60_000
    )
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "reports.png"), full_page=True)
    # Human evaluation: a rater scores two items.
    _tab(page, TABS["rate"])
    _rate_two_items(page, "desktop-rater", shots / "rate-desktop.png")
    assert not dialogs
    page.close()


def _rate_two_items(page, rater: str, screenshot: Path) -> None:
    page.locator("#rate-rater textarea, #rate-rater input").first.fill(rater)
    page.locator("#rate-start").click()
    page.wait_for_function(
        "() => (document.querySelector('#rate-answer-A textarea')?.value || '').length > 0", timeout=30_000
    )
    for round_ in range(2):
        first_prompt = page.locator("#rate-prompt textarea").input_value()
        for criterion, score in (("empathy", "4"), ("tone", "3"), ("helpfulness", "5")):
            for side in ("A", "B"):
                page.locator(f"#rate-{criterion}-{side}").get_by_label(score, exact=True).check()
        page.locator("#rate-preference").get_by_label("উত্তর A ভালো · Answer A is better").check()
        if round_ == 0:
            page.locator("#rate-comment textarea").fill("<b>ভালো</b> উত্তর")
            page.screenshot(path=str(screenshot), full_page=True)
        page.locator("#rate-submit").click()
        page.wait_for_function(
            "() => (document.querySelector('#rate-result')?.innerText || '').includes('saved')", timeout=30_000
        )
        page.wait_for_function(
            f"() => document.querySelector('#rate-prompt textarea')?.value !== {first_prompt!r}", timeout=30_000
        )
        progress = page.locator("#rate-progress").inner_text()
        assert f"rated {round_ + 1};" in progress, progress


def test_rating_works_on_a_phone_width_screen(running, browser, shots):
    page, dialogs = _open(browser, running.url, width=390, height=844)
    _tab(page, TABS["rate"])
    _rate_two_items(page, "phone-rater", shots / "rate-phone.png")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400, f"the page scrolls sideways on a phone ({width}px wide)"
    assert not dialogs
    page.close()
    ratings = running.ctx.store.ratings.find(rater_id="phone-rater")
    assert len(ratings) == 2 and all(r["comment"] in ("", "<b>ভালো</b> উত্তর") for r in ratings)


def test_script_in_prompts_and_model_answers_never_runs(running, browser, shots, monkeypatch):
    from bempathy.model.streaming import RowStats, Snapshot

    chat = running.ctx.chat

    def forced(conversations, variants, settings=None, seed=None, stop=None):
        n = len(conversations)
        yield Snapshot([PAYLOAD] * n, [True] * n, [RowStats(5, 0.1, 0.2)] * n)

    monkeypatch.setattr(chat, "stream_many", forced)
    page, dialogs = _open(browser, running.url)
    page.locator("#chat-input textarea").fill(PAYLOAD)
    page.locator("#chat-send").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chatbot [data-testid=\"bot\"], #chatbot .message.bot')].length > 0",
        timeout=60_000,
    )
    _tab(page, TABS["compare"])
    page.locator("#compare-input textarea").fill(PAYLOAD)
    page.locator("#compare-run").click()
    page.wait_for_function(
        "() => (document.querySelector('#compare-left textarea')?.value || '').includes('onerror')", timeout=60_000
    )
    page.wait_for_timeout(1500)
    page.screenshot(path=str(shots / "xss.png"), full_page=True)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("#chatbot script").count() == 0 and page.locator("#chatbot img[onerror]").count() == 0
    assert not dialogs
    page.close()


def test_crowd_mode_shows_no_rated_answer_next_to_its_variant_on_any_tab(tiny_run, browser, shots):
    """Blind by construction: every tab read in a real browser, every accordion opened, no rated answer in sight
    except as A/B on the Rate tab (on main e00940a the Reports tab listed them under "base" and "tuned")."""
    _, logs = tiny_run
    app = RunningApp(["--crowd", "--logs-dir", str(logs)])
    try:
        service = app.ctx.rating
        answers = {
            r["response_text"]
            for r in app.ctx.store.responses.find(evaluation_id=service.evaluation_id)
            if len(r.get("response_text") or "") >= 12
        }
        assert answers
        page, dialogs = _open(browser, app.url)
        seen: dict[str, str] = {}
        for name in (TABS["reports"], TABS["rate"]):
            _tab(page, name)
            for toggle in page.locator(".label-wrap").all():  # open every accordion: closed ones render nothing
                if toggle.is_visible() and "open" not in (toggle.get_attribute("class") or ""):
                    toggle.click()
                    page.wait_for_timeout(200)
            if name == TABS["rate"]:
                page.locator("#rate-rater textarea, #rate-rater input").first.fill("blind-check")
                page.locator("#rate-start").click()
                page.wait_for_function(
                    "() => (document.querySelector('#rate-answer-A textarea')?.value || '').length > 0",
                    timeout=30_000,
                )
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shots / f"blind-{len(seen)}.png"), full_page=True)
            seen[name] = page.evaluate(OUTSIDE_THE_AB_BOXES)
        shown_a = page.locator("#rate-answer-A textarea").input_value()
        assert shown_a in answers or any(shown_a.strip() == a.strip() for a in answers)  # the Rate tab works
        for name, text in seen.items():
            leaked = [a for a in answers if a in text]
            assert not leaked, f"{name} shows {len(leaked)} rated answers outside the A/B boxes"
        assert "admin token" in seen[TABS["reports"]]
        assert not dialogs
        page.close()
    finally:
        app.close()


@pytest.fixture(scope="module")
def preference_app(tiny_run, tmp_path_factory):
    """A short DPO run on top of tiny_run (its own logs), served: the app loads base, SFT and the preference model."""
    import train
    from tests.conftest import TINY_PRESET
    from tests.test_preference_stage import write_dpo_rows

    run, _ = tiny_run
    root = tmp_path_factory.mktemp("preference-app")
    rows, out, logs = write_dpo_rows(run, root / "dpo.jsonl", n=4), root / "dpo", root / "logs"
    command = ["--config", str(TINY_PRESET), "--stage", "preference", "--from_run", str(run)]
    command += ["--preferences", str(rows), "--logs_dir", str(logs), "--output_dir", str(out)]
    assert train.main([*command, "--preference_max_steps", "2", "--preference_held_out", "0"]) == 0
    app = RunningApp(["--run", str(out), "--logs-dir", str(logs)])
    yield app
    app.close()


def test_compare_shows_base_sft_and_the_preference_model_side_by_side(preference_app, browser, shots):
    """A preference run's Compare tab: three columns, base / SFT / tuned by default, all filled by one press."""
    page, dialogs = _open(browser, preference_app.url)
    _tab(page, TABS["compare"])
    chosen = [page.locator(f"#compare-{name}-variant input").input_value() for name in ("left", "right", "third")]
    assert [label.split()[0] for label in chosen] == ["base", "sft", "tuned"], chosen  # "base (tiny-bn)", ...
    page.locator("#compare-input textarea").fill("পরীক্ষার আগে খুব ভয় লাগছে।")
    page.locator("#compare-run").click()
    page.wait_for_function(
        "() => ['left', 'right', 'third'].every(n => {"
        " const t = document.querySelector(`#compare-${n} textarea`); return t && t.value.trim().length > 0; })"
        " && ['left', 'right', 'third'].every(n =>"
        " (document.querySelector(`#compare-${n}-stats`)?.innerText || '').includes('tokens/s'))",
        timeout=90_000,
    )
    stats = [page.locator(f"#compare-{name}-stats").inner_text() for name in ("left", "right", "third")]
    assert [line.split()[0] for line in stats] == ["base", "sft", "tuned"]
    page.screenshot(path=str(shots / "compare-three.png"), full_page=True)
    assert not dialogs
    page.close()
