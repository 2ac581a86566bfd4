"""summ-train-selector: fit the learned passage selector (the one summ-prepare's default trains).

    python -m summ_plugin.cli.train_selector --input data/sample/train.jsonl \\
        --out selector.json [--valid data/sample/valid.jsonl --encoder-json E --vocab-bpe V] \\
        [--split-mode sentence] [--max-docs N]

Each training record's passages are labelled as summ-prepare's default labels them ("blend":
half whether the greedy ROUGE oracle picks it for the first reference, half its density, the
share of each reference's bigrams it holds per token, averaged over the record's references);
gradient-boosted regression trees over passage features (the query's among them) learn to
predict it without the summary. Records are cleaned exactly as summ-prepare cleans them, so
the selector is trained on the text it later scores. With ``--valid``, the coverage the
selector reaches there (ROUGE-1/2 recall of the reference by the selected source, under
``--max-positions``) is printed next to lead's (truncation). The JSON written is what
``--retriever learned --retriever-options '{"selector": "selector.json"}'`` loads.
Deterministic: the same input gives the same file.
"""
import argparse
import logging
import os
import sys

from summ_plugin.data.bad_records import BadRecordPolicy
from summ_plugin.data.formats import iter_input_records
from summ_plugin.data.prepare import sha256_path
from summ_plugin.data.text import clean_record
from summ_plugin.errors import UserError
from summ_plugin.retrieval.choice import format_table, score_candidates, train_selector_on
from summ_plugin.cli.common import (
    add_retrieval_tool_options, passage_counting_encoder, prepare_default, record_fields, run_main,
)

PROG = "summ-train-selector"

logger = logging.getLogger("summ_plugin.cli.train_selector")


def read_records(path: str, on_bad_record: str, limit=None, fmt: str = "auto", fields=None):
    """Cleaned records of an input file in any format summ-prepare reads (bad ones raise, or
    are skipped and counted)."""
    policy = BadRecordPolicy(on_bad_record, UserError)
    records = []
    for record in policy.records(iter_input_records(path, fmt, fields)):
        if limit is not None and len(records) >= limit:
            break
        records.append(clean_record(record)[0])
    policy.log_summary(logger, path)
    return records


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="training records with summaries (any input format "
                        "summ-prepare reads, see --format)")
    parser.add_argument("--out", required=True, help="selector JSON to write")
    parser.add_argument("--valid", help="records with summaries to report the coverage on (same format)")
    parser.add_argument("--max-positions", "--max-source-positions", dest="max_positions", type=int,
                        default=prepare_default("max_source_positions"), metavar="N",
                        help="source budget for --valid (default: %(default)s, summ-prepare's)")
    add_retrieval_tool_options(parser, "exact token counts for --valid")
    return parser


def main(argv=None) -> int:
    return run_main(build_parser(), argv, run)


def run(args: argparse.Namespace) -> int:
    if not os.path.isfile(args.input):
        raise UserError(f"input file not found: {args.input}")
    if args.max_docs is not None and args.max_docs < 1:
        raise UserError("--max-docs must be >= 1")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        raise UserError(f"output directory does not exist: {os.path.dirname(os.path.abspath(args.out))}")
    if args.valid and not os.path.isfile(args.valid):
        raise UserError(f"--valid file not found: {args.valid}")
    # the budget and token counts summ-prepare scores the candidates with
    encoder = passage_counting_encoder(args, args.max_positions)
    if not args.encoder_json and args.valid:
        logger.info("no --encoder-json/--vocab-bpe: counting tokens approximately (1.3 per word)")

    fields = record_fields(args)
    train = read_records(args.input, args.on_bad_record, args.max_docs, args.input_format, fields)
    valid = read_records(args.valid, args.on_bad_record, None, args.input_format, fields) if args.valid else []
    info = {"input_sha256": sha256_path(args.input), "max_docs": args.max_docs}
    try:
        selector = train_selector_on(train, args.split_mode, info)
    except ValueError as err:
        raise UserError(f"{args.input}: {err}") from None
    selector.save(args.out)
    logger.info("wrote %s", args.out)
    if valid:
        choice = score_candidates(valid, args.out, encoder.budget(), candidates=(("lead", {}), ("learned", {})))
        print(f"coverage of the reference on {args.valid} ({len(valid)} records, "
              f"{args.max_positions} positions):\n{format_table(choice)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
