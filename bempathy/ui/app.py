"""Assemble the tabs into one Gradio Blocks app and launch it."""

from __future__ import annotations

import gradio as gr

from bempathy.ui.chat import build_chat_tab
from bempathy.ui.compare import build_compare_tab
from bempathy.ui.context import AppContext
from bempathy.ui.edge import MAX_FILE_SIZE, edge_middleware
from bempathy.ui.rate import build_rate_tab
from bempathy.ui.reports import build_reports_tab

TITLE = "bempathy · সহমর্মী বাংলা কথোপকথন"
# Short labels: all four tabs must fit a 390 px phone screen (longer ones widened the whole page).
TABS = {"chat": "কথা · Chat", "compare": "তুলনা · Compare", "reports": "ফলাফল · Reports", "rate": "রেটিং · Rate"}
# Bengali needs a Bengali font (Debian: fonts-noto-core); readable line height for conjuncts; phone-friendly.
CSS = """
body, .gradio-container { font-family: "Noto Sans Bengali", "Noto Sans", "Hind Siliguri", system-ui, sans-serif; }
.gradio-container { max-width: 1200px !important; margin: auto; }
#notice { border-left: 4px solid #f0ad4e; padding-left: 8px; }
textarea, .message { line-height: 1.6 !important; }
@media (max-width: 480px) {
  .gradio-container { padding: 4px !important; }
  .tab-container button { padding: 6px 5px !important; font-size: 0.78rem !important; }
}
@media (max-width: 640px) {
  .rate-pair { flex-direction: column !important; }
  .rate-pair > * { min-width: 0 !important; width: 100% !important; }
}
"""


def build_app(ctx: AppContext) -> gr.Blocks:
    """Chat, Compare, Reports and Human evaluation; tabs that need a model are left out in crowd mode."""
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nLLaMA 3.1-8B-Instruct, fine-tuned to listen and answer with care in Bengali.")
        notice = ctx.notice()
        if notice:
            gr.Markdown(notice, elem_id="notice")
        loads = []
        with gr.Tabs():
            if ctx.conversation is not None:
                with gr.Tab(TABS["chat"], id="chat"):
                    build_chat_tab(ctx)
                with gr.Tab(TABS["compare"], id="compare"):
                    build_compare_tab(ctx)
            with gr.Tab(TABS["reports"], id="reports"):
                loads.append(build_reports_tab(ctx))
            with gr.Tab(TABS["rate"], id="rate"):
                loads.append(build_rate_tab(ctx))
        for loader in loads:
            if loader is not None:
                fn, inputs, outputs = loader
                demo.load(fn, inputs, outputs, api_visibility="private")
    return demo


def launch(demo: gr.Blocks, host: str, port: int, block: bool = True) -> None:
    """Serve ``demo``: one generation at a time, no uploads beyond ``MAX_FILE_SIZE`` (the app takes no files), and
    raw HTTP calls that leave out trailing optional parameters get their defaults (:class:`CallDefaults`)."""
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        quiet=not block,
        css=CSS,
        theme=gr.themes.Soft(),
        footer_links=["api"],
        max_file_size=MAX_FILE_SIZE,
        app_kwargs={"middleware": edge_middleware(demo)},
    )
