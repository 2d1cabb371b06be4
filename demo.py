"""The whole bempathy pipeline on a laptop, in minutes, with no GPU and no network.

    python demo.py              # build the tiny model, prepare data/sample, fine-tune, evaluate, report, open the app
    python demo.py --no-app     # the same, without starting the app afterwards

It runs `train.py --config configs/tiny-cpu.yaml --stage all`: `tiny-bn`, a 1.8M-parameter Llama pre-trained
for about half a minute on the sample questions (built once, cached), stands in for LLaMA 3.1-8B and is
LoRA-tuned on the answers; its Bengali is word salad, but base and tuned answers differ visibly. What the demo
shows is every stage working, every number landing in the logs and the report, and the app on top. Any
train.py option can be appended (e.g. `--num_train_epochs 1`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TINY_PRESET = ROOT / "configs" / "tiny-cpu.yaml"


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="demo.py",
        description=__doc__.split("\n\n")[0],
        epilog="Other options are passed to train.py (see python train.py --help).",
    )
    parser.add_argument("--output-dir", default="runs/demo", help="where data, adapter and report go")
    parser.add_argument("--logs-dir", default=None, help="TinyDB logs folder (default: $BEMPATHY_LOGS_DIR or ./logs)")
    parser.add_argument("--no-app", action="store_true", help="do not start the app afterwards")
    return parser.parse_known_args(argv)


def main(argv: list[str] | None = None) -> int:
    args, passthrough = parse_args(list(sys.argv[1:] if argv is None else argv))
    import train

    started = time.monotonic()
    command = ["--config", str(TINY_PRESET), "--stage", "all", "--output-dir", args.output_dir]
    if args.logs_dir:
        command += ["--logs_dir", args.logs_dir]
    status = train.main(command + passthrough)
    if status != 0:
        return status
    print(f"Demo finished in {time.monotonic() - started:.0f} s. Report: {Path(args.output_dir) / 'report.md'}")
    if args.no_app:
        return 0
    import app

    app_args = ["--run", args.output_dir] + (["--logs-dir", args.logs_dir] if args.logs_dir else [])
    print("Opening the app on this run (Chat, Compare, Reports, Human evaluation); Ctrl-C stops it.")
    return app.main(app_args)


if __name__ == "__main__":
    sys.exit(main())
