"""summ-summarize: summarize raw documents with a fine-tuned checkpoint.

    summ-summarize --path checkpoints/checkpoint_best.pt --input docs.jsonl --output summaries.jsonl \\
        --beam 4 --lenpen 2.0 --max-len-b 140 --min-len 55 --no-repeat-ngram-size 3

A thin command line over ``summ_plugin.Summarizer.from_checkpoint`` (the one inference path):
the retrieval runs exactly as for the training data (same splitter, retriever and budget, read
from the data-bin's prepare.json unless given), and generation settings not given are the ones
the model was validated with (its --eval-rouge-args; else beam 4 and fairseq-generate's other
defaults). Writes JSONL: id, summary, retriever, selected passage ids, source tokens.
"""
import argparse
import sys
from typing import List, Optional

from summ_plugin.cli.common import (add_dataclass_arguments, add_log_level_option, add_record_options,
                                    dataclass_values, record_fields, run_main)
from summ_plugin.summarize import GenerationOptions, SummarizeConfig

PROG = "summ-summarize"
# SummarizeConfig fields that are not options of their own: --*-field, the generation group;
# input_format and on_bad_record are the shared record options (add_record_options)
NOT_OPTIONS = ("input_format", "on_bad_record", "fields", "generation")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_dataclass_arguments(parser, SummarizeConfig, exclude=NOT_OPTIONS, names={"checkpoint": "--path"})
    add_record_options(parser.add_argument_group("records"))
    add_dataclass_arguments(parser.add_argument_group("generation (fairseq's options)"), GenerationOptions)
    add_log_level_option(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> SummarizeConfig:
    return SummarizeConfig(
        fields=record_fields(args), generation=GenerationOptions(**dataclass_values(args, GenerationOptions)),
        **dataclass_values(args, SummarizeConfig, exclude=("fields", "generation")),
    )


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(build_parser(), argv, run, user_errors=(FileNotFoundError, ValueError),
                    consequence="no output written")


def run(args: argparse.Namespace) -> int:
    from summ_plugin.summarize import summarize_file

    counts = summarize_file(config_from_args(args))
    print(f"{PROG}: {counts['summarized']} summaries written to {args.output}"
          + (f" ({counts['skipped']} records skipped)" if counts["skipped"] else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
