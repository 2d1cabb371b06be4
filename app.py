"""bempathy app: chat with the fine-tuned model, compare it with the base, read reports, rate answers.

    python app.py                          # the latest completed run in ./logs, else the tiny demo model
    python app.py --run runs/demo          # a train.py output folder
    python app.py --base meta-llama/Llama-3.1-8B-Instruct --adapter runs/a --adapter runs/b
    python app.py --crowd                  # no model: Reports and Human evaluation only (a CPU Space)
    python app.py --run runs/demo --backend openai --endpoint http://127.0.0.1:8000   # answers from a vLLM server

Host and port: --host/--port, else $GRADIO_SERVER_NAME/$GRADIO_SERVER_PORT, else 127.0.0.1:7860.
On a Space, set $BEMPATHY_CROWD=1 (CPU: no model), $BEMPATHY_ADMIN_TOKEN, $BEMPATHY_RATE_LIMIT, $BEMPATHY_SYNC_LOGS.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DESCRIPTION = __doc__.split("\n\n", 1)[0]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="app.py",
        description=DESCRIPTION,
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    model = parser.add_argument_group("which model (first match wins; default: latest completed run, else demo)")
    model.add_argument(
        "--run",
        metavar="DIR",
        default=os.environ.get("BEMPATHY_RUN"),
        help="a train.py output folder: its adapter on its base model ($BEMPATHY_RUN)",
    )
    model.add_argument("--base", metavar="NAME", help="base model name or path (with --adapter, or alone)")
    model.add_argument(
        "--adapter",
        metavar="DIR",
        action="append",
        default=[],
        help="a LoRA adapter folder (or run folder); repeat for several; the first answers as 'tuned', "
        "the others are named by their experiment id",
    )
    model.add_argument(
        "--crowd",
        action="store_true",
        default=os.environ.get("BEMPATHY_CROWD", "") == "1",
        help="load no model: Reports and Human evaluation only (a CPU Space; $BEMPATHY_CROWD=1)",
    )
    server = parser.add_argument_group("server")
    server.add_argument(
        "--host",
        default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        help="address to listen on (0.0.0.0 for all; default $GRADIO_SERVER_NAME or 127.0.0.1)",
    )
    server.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        help="port (default $GRADIO_SERVER_PORT or 7860)",
    )
    server.add_argument(
        "--cpu-threads",
        type=int,
        metavar="N",
        default=os.environ.get("BEMPATHY_CPU_THREADS") or None,  # argparse applies type=int to it
        help="torch threads when generating on a CPU (default $BEMPATHY_CPU_THREADS, else 1 for the tiny demo "
        "models, whose small products run faster on one thread, and torch's default for others; 0: torch's "
        "default); ignored on a GPU",
    )
    server.add_argument(
        "--logs-dir", metavar="DIR", default=None, help="TinyDB logs folder (default: $BEMPATHY_LOGS_DIR or ./logs)"
    )
    server.add_argument(
        "--sync-logs",
        metavar="REPO",
        default=os.environ.get("BEMPATHY_SYNC_LOGS"),
        help="Hugging Face dataset repo to restore the logs from and push them to (Spaces; $BEMPATHY_SYNC_LOGS)",
    )
    server.add_argument(
        "--trusted-proxies",
        type=int,
        metavar="N",
        default=int(os.environ.get("BEMPATHY_TRUSTED_PROXIES", "0")),
        help="proxies in front of the app (a Space: 1); the per-client rate limit then takes the address the "
        "outermost one saw from X-Forwarded-For, never what a client wrote there (default 0: the socket's "
        "peer; $BEMPATHY_TRUSTED_PROXIES)",
    )
    backend = parser.add_argument_group(
        "generation backend (the model above, or a server that serves it: python -m bempathy.serve vllm-command)"
    )
    backend.add_argument(
        "--backend",
        choices=["local", "openai"],
        default="local",
        help="local: load the model in this process, one generation at a time (default); openai: every answer from "
        "an OpenAI-compatible server (vLLM) serving the same variants, many users at once",
    )
    backend.add_argument(
        "--endpoint", metavar="URL", help="the server, e.g. http://127.0.0.1:8000 (with --backend openai)"
    )
    backend.add_argument(
        "--api-key-env", metavar="VAR", help="environment variable holding the server's API key (never the key itself)"
    )
    backend.add_argument(
        "--served-names",
        metavar="VARIANT=NAME,...",
        help="the server's model name of a variant where it differs (default: the same name: base, tuned, sft)",
    )
    backend.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        type=float,
        default=60.0,
        help="longest wait for the next piece of an answer (default 60)",
    )
    backend.add_argument(
        "--max-concurrent",
        metavar="N",
        type=int,
        default=32,
        help="Chat or Compare requests the app handles at once, all users together (default 32; a Compare sends one "
        "server request per column; the server batches them)",
    )
    chat = parser.add_argument_group("chat and safety")
    chat.add_argument(
        "--allow-chat-logging",
        action="store_true",
        help="offer users an opt-in box that saves their conversation (off: chats are never stored)",
    )
    chat.add_argument(
        "--max-input-chars", metavar="N", type=int, default=None, help="longest message accepted (default 2000)"
    )
    chat.add_argument("--safety-config", metavar="YAML", default=None, help="YAML with the help block text and numbers")
    rating = parser.add_argument_group("human evaluation")
    rating.add_argument(
        "--experiment", metavar="ID", default=None, help="experiment whose answers are rated (default: latest)"
    )
    rating.add_argument(
        "--rate-variants",
        metavar="A,B",
        default=None,
        help="the two variants raters compare (default base,tuned; a preference run also has sft, e.g. sft,tuned)",
    )
    rating.add_argument(
        "--ratings-per-item", metavar="N", type=int, default=3, help="stop showing an item after N ratings"
    )
    rating.add_argument(
        "--pairs", metavar="JSONL", default=None, help="JSONL of prompt/answer pairs to rate instead of the logs"
    )
    rating.add_argument(
        "--gold", metavar="JSONL", default=None, help="JSONL of gold items (one clearly bad answer each)"
    )
    rating.add_argument(
        "--gold-rate", metavar="SHARE", type=float, default=0.0, help="share of gold items mixed in (0-1)"
    )
    rating.add_argument(
        "--rate-limit",
        default=os.environ.get("BEMPATHY_RATE_LIMIT"),
        metavar="N/SECONDS",
        help="ratings allowed per rater and per client address, e.g. 30/60 (default off; $BEMPATHY_RATE_LIMIT)",
    )
    return parser


def build(argv: list[str] | argparse.Namespace | None = None):
    """Parse flags (or take parsed ones), load what they name and assemble the app; returns (demo, context, args)."""
    args = argv if isinstance(argv, argparse.Namespace) else build_parser().parse_args(argv)
    from bempathy.safety.policy import SafetyConfig, SafetyPolicy
    from bempathy.serve.plan import load_chat_model, plan_model
    from bempathy.storage.store import Store
    from bempathy.ui.app import build_app
    from bempathy.ui.context import AppContext
    from bempathy.ui.space import gpu_decorator, start_log_sync

    # The app decides itself which X-Forwarded-For hop to believe (--trusted-proxies): uvicorn, which Gradio runs,
    # would otherwise rewrite the client address from that header for any local peer, spoofed or not.
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    # Pushed logs must be append-only: then the ratings journal only grows and is what gets pushed.
    store = Store(args.logs_dir, ratings_truncate_on_fold=not args.sync_logs)
    if args.sync_logs:
        start_log_sync(store, args.sync_logs)
    plan = plan_model(args.run, args.base, args.adapter, args.crowd, store)
    policy = SafetyPolicy(SafetyConfig.load(args.safety_config))
    chat = _generation_backend(args, plan) if args.backend == "openai" and not args.crowd else load_chat_model(plan)
    conversation = None
    if chat is not None:
        from bempathy.serve.conversation import ConversationService
        from bempathy.serve.requests import MAX_INPUT_CHARS

        conversation = ConversationService(
            chat,
            policy,
            store,
            experiment_ids=plan.experiment_ids,
            max_input_chars=args.max_input_chars or MAX_INPUT_CHARS,
            system_prompt=plan.system_prompt,
        )
    rating, rating_error = _rating_service(args, store)
    ctx = AppContext(
        plan=plan,
        store=store,
        policy=policy,
        chat=chat,
        conversation=conversation,
        rating=rating,
        rating_error=rating_error,
        trusted_proxies=args.trusted_proxies,
        allow_chat_logging=args.allow_chat_logging,
        admin_token=os.environ.get("BEMPATHY_ADMIN_TOKEN") or None,
        gpu=gpu_decorator(),
        model_concurrency=args.max_concurrent if args.backend == "openai" else 1,
    )
    return build_app(ctx), ctx, args


def _generation_backend(args, plan):
    """The plan's variants on the server at --endpoint, each checked there once (BackendError otherwise)."""
    from bempathy.serve.openai_backend import BackendError, backend_for_plan

    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            raise BackendError(f"--api-key-env {args.api_key_env}: that environment variable is not set")
    from bempathy.serve.conversation import MAX_COMPARE_VARIANTS

    return backend_for_plan(
        plan,
        args.endpoint,
        api_key=api_key,
        served_names=args.served_names,
        timeout_s=args.request_timeout,
        max_connections=args.max_concurrent * MAX_COMPARE_VARIANTS,  # a Compare sends one request per column
    )


def _rating_service(args, store):
    """(service, None), or (None, why) when a rating log cannot be read: Chat, Compare and Reports still work, and
    the Rate tab says why (``python -m bempathy.human_eval check`` / ``repair`` fix the file)."""
    from bempathy.rating.service import RatingService
    from bempathy.storage.log import StoreCorruptError
    from bempathy.ui.rate import OAUTH_ENV

    try:  # with OAuth the signed-in name is the identity; otherwise a pseudonym is bound to a key on first use
        return RatingService.from_args(args, store, bind_pseudonyms=not os.environ.get(OAUTH_ENV)), None
    except StoreCorruptError as error:
        print(f"app.py: warning: rating is off: {error}", file=sys.stderr)
        return None, f"{error}; run `python -m bempathy.human_eval check`"


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    parser = build_parser()
    args = parser.parse_args(argv)  # --help and flag errors before any heavy import
    if args.cpu_threads is not None and args.cpu_threads < 0:
        parser.error("--cpu-threads must be 0 (torch's default) or more")
    if args.trusted_proxies < 0:
        parser.error("--trusted-proxies must be 0 or more")
    if args.backend == "openai" and not args.endpoint:
        parser.error("--backend openai needs --endpoint URL (the server's address)")
    if args.endpoint and args.backend != "openai":
        parser.error("--endpoint is for --backend openai")
    if args.max_concurrent < 1 or args.request_timeout <= 0:
        parser.error("--max-concurrent must be 1 or more and --request-timeout above 0")
    from bempathy.hardware import set_serving_threads
    from bempathy.rating.items import HumanEvalError
    from bempathy.runs import ModelLoadError
    from bempathy.safety.lexicon_yaml import LexiconError  # light: the lexicon itself is read by the imports below
    from bempathy.serve.openai_backend import BackendError
    from bempathy.serve.plan import serving_threads
    from bempathy.storage.log import StoreCorruptError

    try:
        from bempathy.safety.learned import ClassifierError
        from bempathy.safety.policy import SafetyConfigError
    except LexiconError as error:  # a mistake in configs/safety_lexicon/: one line, as for the errors below
        print(f"app.py: error: {error}", file=sys.stderr)
        return 2
    try:
        demo, ctx, args = build(args)
    except (
        ModelLoadError,
        SafetyConfigError,
        ClassifierError,
        StoreCorruptError,
        HumanEvalError,
        BackendError,
    ) as error:
        print(f"app.py: error: {error}", file=sys.stderr)
        return 2
    if ctx.chat is not None and args.backend == "local":  # here, on the main thread, before the model generates
        set_serving_threads(serving_threads(args.cpu_threads, ctx.chat))
    from bempathy.storage.shutdown import install_signal_handlers
    from bempathy.ui.app import launch

    install_signal_handlers()  # SIGTERM (how a Space is stopped) and Ctrl-C fold the ratings journal first
    served = ", ".join(ctx.labels.values()) if ctx.chat is not None else "no model (crowd mode)"
    print(f"bempathy app: serving {served}; logs in {ctx.store.logs_dir}")
    print(f"Starting on http://{args.host}:{args.port} (built in {time.monotonic() - started:.1f} s); Ctrl-C stops it.")
    try:
        launch(demo, args.host, args.port, block=True)
    except KeyboardInterrupt:
        return 0
    finally:
        if ctx.rating is not None:
            ctx.rating.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
