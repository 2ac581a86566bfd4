"""summ-train-selector: fit the learned passage selector on oracle labels.

    python -m summ_plugin.cli.train_selector --input data/sample/train.jsonl \\
        --out selector.json [--split-mode sentence] [--max-docs N]

Each training record's passages are labelled with the greedy ROUGE oracle against its
summary (1 = picked); a logistic regression over passage features learns to predict the
labels without the summary. The JSON written is what ``--retriever learned
--selector selector.json`` (or ``build_retriever("learned", selector=...)``) loads.
Deterministic: the same input gives the same file.
"""
import argparse
import hashlib
import logging
import os
import sys

from tqdm import tqdm

from summ_plugin.data.records import BadRecordError, iter_jsonl_records
from summ_plugin.retrieval import SPLIT_MODES
from summ_plugin.retrieval.learned import oracle_labelled_features, train_selector

logger = logging.getLogger("summ_plugin.cli.train_selector")


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="summ-train-selector", description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, help="training JSONL records with summaries")
    parser.add_argument("--out", required=True, help="selector JSON to write")
    parser.add_argument("--split-mode", default="sentence", choices=SPLIT_MODES)
    parser.add_argument("--max-docs", type=int, help="use only the first N records")
    parser.add_argument("--regularization", type=float, default=1.0,
                        help="inverse regularization strength C of the logistic regression")
    parser.add_argument("--on-bad-record", choices=("error", "skip"), default="error")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    def fail(message: str) -> int:
        print(f"summ-train-selector: error: {message}", file=sys.stderr)
        return 2

    if not os.path.isfile(args.input):
        return fail(f"input file not found: {args.input}")
    if args.max_docs is not None and args.max_docs < 1:
        return fail("--max-docs must be >= 1")
    if not os.path.isdir(os.path.dirname(os.path.abspath(args.out))):
        return fail(f"output directory does not exist: {os.path.dirname(os.path.abspath(args.out))}")

    examples, skipped = [], 0
    for item in tqdm(iter_jsonl_records(args.input), desc="labelling", unit="rec", disable=None):
        if isinstance(item, BadRecordError):
            if args.on_bad_record == "error":
                return fail(str(item))
            skipped += 1
            continue
        if args.max_docs is not None and len(examples) >= args.max_docs:
            break
        examples.append(oracle_labelled_features(item.documents, item.query, item.title,
                                                 item.summary, args.split_mode))
    if skipped:
        logger.warning("skipped %d bad records", skipped)
    info = {"input_sha256": file_sha256(args.input), "max_docs": args.max_docs}
    try:
        selector = train_selector(examples, args.split_mode, args.regularization, info)
    except ValueError as err:
        return fail(f"{args.input}: {err}")
    selector.save(args.out)
    logger.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
