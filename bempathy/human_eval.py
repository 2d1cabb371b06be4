"""``python -m bempathy.human_eval {summary,export,fold,check,repair}``: the admin's view of the human ratings
and of the logs behind them.

``check`` reads every log bempathy writes without changing a byte (no fold, no quarantine, no truncation:
the app would do those on open) and says what, if anything, needs repair: exit 0 all fine, 1 repair needed.
``repair`` fixes that under the same locks the app uses, so it is safe while the app runs: a damaged file is
first copied to ``<name>.bak-<UTC timestamp>``; a JSON log that does not parse is rewritten with every record
that can still be decoded; journal lines that are not records, and a torn tail, go to the journal's
quarantine file (the journal's own code does it).

Errors an admin can fix (unknown experiment, corrupt log, no logs folder) are one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from bempathy.rating.items import HumanEvalError, resolve_evaluation
from bempathy.rating.preferences import LOSSES, PreferenceFilters
from bempathy.rating.service import RatingService, variant_pairs
from bempathy.rating.stats import summarize
from bempathy.rating.tables import format_summary, summary_csv
from bempathy.storage.log import StoreCorruptError, default_logs_dir
from bempathy.storage.repair import check_logs, repair_logs
from bempathy.storage.store import Store

DESCRIPTION = """Human-evaluation admin commands.

  summary  per-model means with 95% intervals, win rate, agreement, rater checks
  export   preference data as TRL conversational JSONL: DPO pairs (majority vote per item) or KTO labels
           (median scores); gold, simulated, tied and flagged raters' ratings out, each filter's count printed
  fold     move the rating journal into logs/HumanEvaluations.json now
  check    read every log without changing it; exit 0 if all is fine, 1 if repair is needed
  repair   back up each damaged log, salvage its records, quarantine bad journal lines; safe while the app runs

Without --experiment, the latest completed experiment with an evaluation is used."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bempathy.human_eval", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{summary,export,fold,check,repair}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--logs-dir", type=Path, help="logs directory (default: $BEMPATHY_LOGS_DIR, else ./logs)")
    chosen = argparse.ArgumentParser(add_help=False)
    chosen.add_argument("--experiment", default=None, help="experiment id (default: the latest evaluated one)")
    chosen.add_argument("--evaluation", default=None, help="evaluation id (default: the experiment's latest)")

    summary = commands.add_parser("summary", parents=[common, chosen], help="print the rating summary")
    summary.add_argument("--json", action="store_true", help="also print the summary as one JSON object, last line")
    summary.add_argument("--csv", type=Path, default=None, metavar="FILE", help="write the summary tables as CSV")
    summary.add_argument("--base", default="base", help="name of the reference variant (default: base)")
    summary.add_argument("--tuned", default="tuned", help="name of the fine-tuned variant (default: tuned)")

    export = commands.add_parser("export", parents=[common, chosen], help="write DPO or KTO preference JSONL")
    export.add_argument("--output", type=Path, required=True, metavar="FILE", help="where to write the JSONL")
    export.add_argument("--pairs", type=Path, default=None, help="the pairs JSONL the ratings were collected on")
    export.add_argument("--loss", choices=LOSSES, default="dpo", help="dpo pairs or kto labels (default: dpo)")
    export.add_argument(
        "--min-raters", type=int, default=1, metavar="N", help="an item (dpo) or answer (kto) needs N kept ratings"
    )
    export.add_argument("--keep-flagged", action="store_true", help="keep ratings by raters the quality checks flag")
    export.add_argument("--include-simulated", action="store_true", help="count ratings marked simulated: true")
    export.add_argument(
        "--best-vs-worst",
        action="store_true",
        help="dpo: one pair per prompt, the answer with the most net wins over all its rated pairs against the one "
        "with the fewest (best-of-N through ratings; give every rated pair with --variants)",
    )
    export.add_argument(
        "--variants",
        action="append",
        metavar="A,B[,...]",
        default=None,
        help="the rated pair of variants (default base,tuned); repeat it for a candidates round's pairs, e.g. "
        "--variants sample1,sample2 --variants sample3,sample4; three or more names mean every pair of them",
    )

    commands.add_parser("fold", parents=[common], help="fold the rating journal into HumanEvaluations.json")
    commands.add_parser("check", parents=[common], help="report damaged logs without changing anything")
    commands.add_parser("repair", parents=[common], help="back up and repair what check reports")
    return parser


def _summary(args: argparse.Namespace, store: Store) -> None:

    resolved = resolve_evaluation(store, args.experiment, args.evaluation)
    if resolved is None and args.evaluation is None:
        raise HumanEvalError(f"no completed experiment with an evaluation in {store.logs_dir}")
    experiment_id, evaluation_id = resolved if resolved else (None, args.evaluation)
    records = store.ratings.find(evaluation_id=evaluation_id)
    summary = summarize(records, experiment_id=experiment_id, base=args.base, tuned=args.tuned)
    print(f"experiment {experiment_id}, evaluation {evaluation_id}: {len(records)} ratings")
    print(format_summary(summary))
    if args.csv is not None:
        args.csv.parent.mkdir(parents=True, exist_ok=True)
        args.csv.write_text(summary_csv(summary), encoding="utf-8")
        print(f"CSV written to {args.csv}")
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))


def _export(args: argparse.Namespace, store: Store) -> None:
    pairs = [pair for value in args.variants or [None] for pair in variant_pairs(value, "--variants")]
    if args.pairs is not None and args.variants:
        raise HumanEvalError("--variants names an evaluation's variants; a --pairs file names its own answers")
    if args.best_vs_worst and args.loss != "dpo":
        raise HumanEvalError("--best-vs-worst makes DPO pairs; KTO labels single answers (use --loss dpo)")
    first, *others = pairs
    service = RatingService(
        store, experiment_id=args.experiment, evaluation_id=args.evaluation, pairs_path=args.pairs, variants=first
    )
    if service.evaluation_id is None:
        raise HumanEvalError(f"no completed experiment with an evaluation in {store.logs_dir}")
    try:
        filters = PreferenceFilters(
            drop_flagged=not args.keep_flagged,
            include_simulated=args.include_simulated,
            min_raters=args.min_raters,
            best_vs_worst=args.best_vs_worst,
        )
    except ValueError as error:
        raise HumanEvalError(str(error)) from None
    data = service.export_preferences(args.output, args.loss, filters, other_variants=others)
    what = "preference pairs" if args.loss == "dpo" else "labelled answers (KTO)"
    print(f"{len(data.rows)} {what} from evaluation {service.evaluation_id} written to {args.output}")
    print(data.report())


def _fold(args: argparse.Namespace, store: Store) -> None:
    store.ratings.fold()  # opening the journal folds too: report both
    print(f"folded {store.ratings.folded_records} new ratings; {store.ratings.path} holds {len(store.ratings)}")


def _logs_dir(args: argparse.Namespace) -> Path:
    logs_dir = (args.logs_dir.expanduser() if args.logs_dir else default_logs_dir()).resolve()
    if not logs_dir.is_dir():
        raise HumanEvalError(f"no logs folder at {logs_dir}")
    return logs_dir


def _check(args: argparse.Namespace) -> int:
    findings = check_logs(_logs_dir(args))
    for finding in findings:
        print(finding)
    return 0 if all(finding.ok for finding in findings) else 1


def _repair(args: argparse.Namespace) -> int:
    logs_dir = _logs_dir(args)
    done = repair_logs(logs_dir)
    for line in done:
        print(line)
    if not done:
        print(f"nothing to repair in {logs_dir}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in ("check", "repair"):  # never through Store: opening the journal would fold it
        try:
            return {"check": _check, "repair": _repair}[args.command](args)
        except (HumanEvalError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    store = Store(args.logs_dir, ratings_fold_interval=None)
    try:
        {"summary": _summary, "export": _export, "fold": _fold}[args.command](args, store)
    except (HumanEvalError, StoreCorruptError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        with contextlib.suppress(StoreCorruptError):  # already reported above
            store.ratings.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
