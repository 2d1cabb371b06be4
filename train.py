"""bempathy training recipe: prepare -> train -> evaluate, logged to TinyDB under logs/.

    python train.py --config configs/tiny-cpu.yaml --output-dir runs/tiny            # everything
    python train.py --config configs/llama31-8b-qlora.yaml --data "PATH/corpus.csv" --stage train
    python train.py --stage preference --from_run runs/tiny --preferences prefs.jsonl --preference_loss dpo

Each stage runs the stages it needs first when their output is missing: `--stage train` on an empty output
dir prepares the data first; `--stage evaluate` trains first if there is no adapter. `--stage preference`
trains DPO or KTO on top of a trained run and writes a new run folder (default: FROM_RUN-dpo or FROM_RUN-kto).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bempathy.boot import preimport_unsloth
from bempathy.runs import ModelLoadError, RunFolder
from bempathy.serve.errors import GenerationFailed

DESCRIPTION = __doc__.split("\n\n", 1)[0]


def prepare(config) -> dict:
    """Clean, format, split and measure the corpus; write DIR/data/*.jsonl and DIR/data_report.json."""
    from bempathy.data.processor import DatasetProcessor, write_prepared
    from bempathy.data.summary import format_report
    from bempathy.model.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(config.model.model_name_or_path, config.model.model_revision)
    processor = DatasetProcessor(config.data, tokenizer, config.train.max_length, _tokenizer_name(config))
    prepared = processor.process(config.data.data)
    run = RunFolder(write_prepared(prepared, config.train.output_dir))
    print(f"\nData: {config.data.data} -> {run.data_dir}\n{format_report(prepared.report)}\n")
    return prepared.report


def _tokenizer_name(config) -> str:
    revision = config.model.model_revision
    return config.model.model_name_or_path + (f"@{revision}" if revision not in (None, "main") else "")


def _prepared_matches(config) -> bool:
    """Prepared data exists and was made from the same corpus bytes with the same settings and tokenizer."""
    from bempathy.data.processor import preparation_settings
    from bempathy.data.read import source_digest

    run = RunFolder(Path(config.train.output_dir))
    if not run.has_prepared_data():
        return False
    report = run.data_report()
    settings = preparation_settings(config.data, config.train.max_length, _tokenizer_name(config))
    return report.get("settings") == settings and report["source"]["sha256"] == source_digest(config.data.data)


def ensure_prepared(config, force: bool = False) -> None:
    """Prepare when the data is missing or stale (or when forced); under several processes rank 0 prepares
    and the others wait, then reuse its output instead of writing the same files at once."""
    with config.train.main_process_first(desc="preparing data"):
        if (force and config.train.process_index == 0) or not _prepared_matches(config):
            prepare(config)


def train(config, store=None):
    """Fine-tune with the selected strategy (preparing first when needed)."""
    from bempathy.train.finetuner import LLAMAFineTuner

    ensure_prepared(config)
    result = LLAMAFineTuner(config, store).train()
    if result.experiment_id is not None:
        print(
            "\nTraining done\n"
            f"  experiment     {result.experiment_id}\n"
            f"  adapter        {result.adapter_dir}\n"
            f"  train loss     {result.train_loss:.4f}\n"
            f"  val loss       {result.val_loss if result.val_loss is None else round(result.val_loss, 4)}\n"
            f"  steps          {result.global_step}   (longest example {result.longest_example} tokens, untruncated)\n"
            f"  time           {result.runtime_s:.1f} s   peak memory {result.peak_memory_mb:.0f} MiB\n"
            + "".join(f"  export {kind:<8}{path}\n" for kind, path in result.exported.items())
        )
    return result


def evaluate(config, store=None):
    """Score base vs tuned on the held-out test split (training first when there is no adapter)."""
    from bempathy.eval.stage import run_evaluation

    if not RunFolder(Path(config.train.output_dir)).has_adapter():
        train(config, store)
    return run_evaluation(config, store)  # returns None on ranks other than 0: evaluation runs once


def preference(config, store=None):
    """DPO or KTO from rated answers (--preferences) on top of a trained run (--from_run)."""
    from bempathy.train.preference import PreferenceTrainer

    result = PreferenceTrainer(config, store).train()
    if result.experiment_id is not None:
        metrics = "".join(f"  {key:<19}{value:.4f}\n" for key, value in result.final_metrics.items())
        print(
            f"\nPreference training ({config.preference.preference_loss}) done\n"
            f"  experiment         {result.experiment_id}\n"
            f"  adapter            {result.adapter_dir}\n"
            f"  train loss         {result.train_loss:.4f}\n"
            f"{metrics}"
            f"  steps              {result.global_step}   ({result.rows} rows, longest {result.max_length} tokens, "
            "untruncated)\n"
            f"  time               {result.runtime_s:.1f} s   peak memory {result.peak_memory_mb:.0f} MiB\n"
            f"{held_out_lines(result.held_out)}"
        )
    return result


def held_out_lines(held: dict | None) -> str:
    """The held-out rows' accuracies, before (the run's own model) and after, as the summary's last lines."""
    if not held:
        return "  held out           none (--preference_held_out 0, or one prompt only)\n"
    lines = f"  held out           {held['rows']} rows, never trained on\n"
    if "likelihood_accuracy_before" in held:
        lines += (
            f"  chosen ranked first {held['likelihood_accuracy_before']:.3f} before -> "
            f"{held['likelihood_accuracy_after']:.3f} after (log-probability)\n"
        )
    return lines + f"  reward accuracy    {held['reward_accuracy']:.3f}   mean margin {held['reward_margin']:+.4f}\n"


STAGES = {"prepare": prepare, "train": train, "evaluate": evaluate, "preference": preference}


def _command_line_value(argv: list[str], name: str) -> str | None:
    """The value of --name (or its dashed spelling) on the command line itself, not from a preset."""
    spellings = {f"--{name}", f"--{name.replace('_', '-')}"}
    for i, arg in enumerate(argv):
        if arg in spellings and i + 1 < len(argv):
            return argv[i + 1]
        if "=" in arg and arg.split("=", 1)[0] in spellings:
            return arg.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _command_line_value(argv, "stage") != "preference":  # the preference stage trains with PEFT, never Unsloth
        preimport_unsloth(argv)

    from bempathy.config import ConfigError, make_parser, parse_config
    from bempathy.data.read import DataError
    from bempathy.storage.log import StoreCorruptError
    from bempathy.storage.store import Store

    try:
        config = parse_config(argv, make_parser(prog="train.py", description=DESCRIPTION))
        if config.run.stage == "preference" and _command_line_value(argv, "output_dir") is None:
            from bempathy.train.preference import default_output_dir

            # A preset's output_dir is the SFT run's folder: a preference run gets its own folder next to it.
            preference_args = config.preference
            config.train.output_dir = default_output_dir(preference_args.from_run, preference_args.preference_loss)
        if config.run.stage == "prepare":
            ensure_prepared(config, force=True)
            return 0
        store = Store(config.run.logs_dir)  # one per process: training and evaluation log through it
        if config.run.stage == "all":
            ensure_prepared(config, force=True)
            train(config, store)
            from bempathy.train.fresh_process import evaluate_in_fresh_process, unsloth_patched

            if unsloth_patched():  # Unsloth patched this process's Llama classes: evaluate in a fresh one
                return evaluate_in_fresh_process(argv)
            evaluate(config, store)
        else:
            STAGES[config.run.stage](config, store)
    except (ConfigError, DataError, ModelLoadError, StoreCorruptError, GenerationFailed) as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("train.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
