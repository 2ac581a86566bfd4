"""summ-train-selector: fit the learned passage selector on oracle labels.

    python -m summ_plugin.cli.train_selector --input data/sample/train.jsonl \\
        --out selector.json [--valid data/sample/valid.jsonl --encoder-json E --vocab-bpe V] \\
        [--split-mode sentence] [--max-docs N]

Each training record's passages are labelled with the greedy ROUGE oracle against its
summary (1 = picked); gradient-boosted trees over passage features learn to predict the
labels without the summary. Records are cleaned exactly as summ-prepare cleans them, so
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
from summ_plugin.data.bpe import BPEFileError
from summ_plugin.data.encoder import ExampleEncoder
from summ_plugin.data.prepare import sha256_path
from summ_plugin.data.formats import iter_jsonl_records
from summ_plugin.data.text import clean_record
from summ_plugin.retrieval import SPLIT_MODES
from summ_plugin.retrieval.choice import format_table, score_candidates, train_selector_on
from summ_plugin.cli import setup_logging

logger = logging.getLogger("summ_plugin.cli.train_selector")


class SelectorInputError(Exception):
    """A bad record in --input or --valid (with --on-bad-record error)."""


def read_records(path: str, on_bad_record: str, limit=None):
    """Cleaned records of a JSONL file (bad ones raise, or are skipped and counted)."""
    policy = BadRecordPolicy(on_bad_record, SelectorInputError)
    records = []
    for record in policy.records(iter_jsonl_records(path)):
        if limit is not None and len(records) >= limit:
            break
        records.append(clean_record(record)[0])
    policy.log_summary(logger, path)
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="summ-train-selector", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="training JSONL records with summaries")
    parser.add_argument("--out", required=True, help="selector JSON to write")
    parser.add_argument("--split-mode", default="sentence", choices=SPLIT_MODES)
    parser.add_argument("--max-docs", type=int, help="use only the first N records")
    parser.add_argument("--on-bad-record", choices=("error", "skip"), default="error")
    parser.add_argument("--valid", help="JSONL records with summaries to report the coverage on")
    parser.add_argument("--max-positions", type=int, default=1024, help="source budget for --valid")
    parser.add_argument("--encoder-json", help="GPT-2 encoder.json (exact token counts for --valid)")
    parser.add_argument("--vocab-bpe", help="GPT-2 vocab.bpe (exact token counts for --valid)")
    args = parser.parse_args(argv)
    setup_logging()

    def fail(message: str) -> int:
        print(f"summ-train-selector: error: {message}", file=sys.stderr)
        return 2

    if not os.path.isfile(args.input):
        return fail(f"input file not found: {args.input}")
    if args.max_docs is not None and args.max_docs < 1:
        return fail("--max-docs must be >= 1")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        return fail(f"output directory does not exist: {os.path.dirname(os.path.abspath(args.out))}")
    if args.valid and not os.path.isfile(args.valid):
        return fail(f"--valid file not found: {args.valid}")
    if bool(args.encoder_json) != bool(args.vocab_bpe):
        return fail("give both --encoder-json and --vocab-bpe, or neither")
    try:
        # the budget and token counts summ-prepare scores the candidates with
        encoder = ExampleEncoder(args.encoder_json, args.vocab_bpe, max_source_positions=args.max_positions,
                                 split_mode=args.split_mode)
    except BPEFileError as err:
        return fail(str(err))
    if not args.encoder_json and args.valid:
        logger.info("no --encoder-json/--vocab-bpe: counting tokens approximately (1.3 per word)")

    try:
        train = read_records(args.input, args.on_bad_record, args.max_docs)
        valid = read_records(args.valid, args.on_bad_record) if args.valid else []
    except SelectorInputError as err:
        return fail(str(err))
    info = {"input_sha256": sha256_path(args.input), "max_docs": args.max_docs}
    try:
        selector = train_selector_on(train, args.split_mode, info)
    except ValueError as err:
        return fail(f"{args.input}: {err}")
    selector.save(args.out)
    logger.info("wrote %s", args.out)
    if valid:
        choice = score_candidates(valid, args.out, encoder.budget(), candidates=(("lead", {}), ("learned", {})))
        print(f"coverage of the reference on {args.valid} ({len(valid)} records, "
              f"{args.max_positions} positions):\n{format_table(choice)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
