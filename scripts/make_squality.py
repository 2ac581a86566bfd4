#!/usr/bin/env python
"""Build the query-focused development corpus: SQuALITY v1.3 stories with questions.

    python scripts/make_squality.py --out work/squality            # train.jsonl, valid.jsonl
    python scripts/make_squality.py --out work/squality --with-test   # + test.jsonl (final report only)

The source is ``../shared/data/squality/{train,dev,test}.jsonl.gz`` (``--source``), SQuALITY
v1.3 as published (see its README for licence and citation): 50/25/52 stories, 5 questions
each, 4 human responses per question. One record per (story, question)::

    {"id": "<passage_id>-q<N>", "document": "<story>", "query": "<question>",
     "summary": ["<response 1>", "<response 2>", "<response 3>", "<response 4>"]}

``summary`` is the list of the four responses: every one is a reference (summ-prepare trains
one example per reference and scores against the best; summ-score and summ-eval-retrieval
take the best, as rouge-score's ``score_multi`` does). The story is the document as given,
with the stray whitespace-only lines of the release removed (paragraphs stay separated by a
blank line). ``dev`` becomes ``valid.jsonl``. Develop and tune on train and valid; keep test
for a final report (``--with-test``).
"""
import argparse
import gzip
import json
import logging
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summ_plugin.atomic import atomic_output  # noqa: E402

logger = logging.getLogger("make_squality")

DEFAULT_SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                              "data", "squality")
SPLIT_FILES = {"train": "train.jsonl.gz", "valid": "dev.jsonl.gz", "test": "test.jsonl.gz"}
_BLANKS = re.compile(r"\n(?:[ \t]*\n)+")


def story_text(document: str) -> str:
    """Lines stripped; runs of (whitespace-only) blank lines become one paragraph break."""
    lines = [" ".join(line.split()) for line in document.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def build_split(path: str):
    """Records of one split file: one per (story, question), with every response a reference."""
    records = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                story = story_text(row["document"])
                passage_id = str(row["metadata"]["passage_id"])
                for question in row["questions"]:
                    responses = [" ".join(r["response_text"].split()) for r in question["responses"]]
                    responses = [r for r in responses if r]
                    if not responses:
                        continue
                    records.append({"id": f"{passage_id}-q{question['question_number']}", "document": story,
                                    "query": " ".join(question["question_text"].split()), "summary": responses})
            except (KeyError, TypeError, AttributeError) as err:
                raise SystemExit(f"make_squality: error: {path}:{number}: unexpected layout ({err!r})")
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for train.jsonl, valid.jsonl (and test.jsonl)")
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help="directory holding SQuALITY's train/dev/test.jsonl.gz (default: ../shared/data/squality)")
    parser.add_argument("--with-test", action="store_true",
                        help="also write test.jsonl (for the final report only: do not tune on it)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for split in ["train", "valid"] + (["test"] if args.with_test else []):
        source = os.path.join(args.source, SPLIT_FILES[split])
        if not os.path.isfile(source):
            print(f"make_squality: error: {source}: not found (--source)", file=sys.stderr)
            return 2
        records = build_split(source)
        path = os.path.join(args.out, f"{split}.jsonl")
        with atomic_output(path) as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        logger.info("%s: %d records (story, question) -> %s", split, len(records), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
