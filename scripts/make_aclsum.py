#!/usr/bin/env python
"""Build the real development corpus: ACL papers with expert summaries, from the PyPI wheel `aclsum`.

    python scripts/make_aclsum.py --out work/aclsum            # train.jsonl, valid.jsonl
    python scripts/make_aclsum.py --out work/aclsum --with-test   # + test.jsonl (final report only)

`aclsum` (MIT licence; Takeshita et al. 2024) ships S2ORC parses of ACL Anthology papers
with three expert summaries each (challenge, approach, outcome). The wheel is fetched once
with ``pip download`` into a cache (``--cache``, default ``~/.cache/summ_plugin``); nothing
is downloaded when the wheel is there or given with ``--wheel``, and nothing at import time.

One record per paper::

    {"id": "P06-1112", "title": "...", "document": "1 Introduction\\n\\n<paragraph>\\n\\n...",
     "summary": "<challenge>\\n<approach>\\n<outcome>"}

With ``--queries``, the query-focused view: one record per paper and aspect, the aspect asked as
a question (``QUESTIONS``) and its expert summary the reference::

    {"id": "P06-1112-approach", "title": "...", "document": "...",
     "query": "What approach or method does the paper propose?", "summary": "<approach>"}

The document is the parsed body text: each section heading on its own line ("3.2 Results"),
paragraphs separated by blank lines. The abstract is left out (it would be a near copy of
the summary) and so is the back matter (acknowledgements, bibliography). Papers whose parse
has no body text are skipped and counted. Develop on train and valid; keep test for a final
report (``--with-test``).
"""
import argparse
import glob
import json
import logging
import os
import subprocess
import sys
import zipfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from summ_plugin.atomic import atomic_output  # noqa: E402

logger = logging.getLogger("make_aclsum")

PACKAGE = "aclsum==0.1.2"
ASPECTS = ("challenge", "approach", "outcome")
SPLIT_FILES = {"train": "train.jsonl", "valid": "val.jsonl", "test": "test.jsonl"}
# --queries: each aspect asked as a question (the wording of the aclsum annotation guidelines' aspects)
QUESTIONS = {
    "challenge": "What problem or challenge does the paper address?",
    "approach": "What approach or method does the paper propose?",
    "outcome": "What are the outcomes and results of the paper?",
}


def fetch_wheel(cache: str) -> str:
    """The aclsum wheel in ``cache``, downloaded with pip (registry only) when missing."""
    pattern = os.path.join(cache, "aclsum-0.1.2-*.whl")
    found = sorted(glob.glob(pattern))
    if found:
        return found[0]
    os.makedirs(cache, exist_ok=True)
    logger.info("fetching %s into %s with pip", PACKAGE, cache)
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                    "--only-binary", ":all:", "--dest", cache, PACKAGE], check=True)
    found = sorted(glob.glob(pattern))
    if not found:
        raise SystemExit(f"make_aclsum: error: pip did not leave {pattern}")
    return found[0]


def body_text(paper: dict) -> str:
    """Headings on their own line, blank lines between paragraphs; abstract and back matter left out."""
    blocks, last_heading = [], None
    for paragraph in paper.get("pdf_parse", {}).get("body_text", []):
        text = " ".join((paragraph.get("text") or "").split())
        if not text:
            continue
        section = " ".join((paragraph.get("section") or "").split())
        heading = f"{paragraph['sec_num']} {section}" if paragraph.get("sec_num") and section else section
        if heading and heading != last_heading:
            blocks.append(heading)
        last_heading = heading or last_heading
        blocks.append(text)
    return "\n\n".join(blocks)


def build_split(wheel: zipfile.ZipFile, split: str, queries: bool = False):
    """Records of one split (``queries``: one per paper and aspect), and how many papers had no body text."""
    records, skipped = [], 0
    names = set(wheel.namelist())
    for line in wheel.read(f"aclsum/dataset/{SPLIT_FILES[split]}").decode("utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        paper_name = f"aclsum/dataset/paper_jsons/{row['id']}.json"
        paper = json.loads(wheel.read(paper_name)) if paper_name in names else {}
        document = body_text(paper)
        if not document:
            skipped += 1
            continue
        title = " ".join((paper.get("title") or "").split()) or None
        if queries:
            for aspect in ASPECTS:
                record = {"id": f"{row['id']}-{aspect}", "title": title, "document": document,
                          "query": QUESTIONS[aspect], "summary": " ".join(row["summary"][aspect].split())}
                records.append({k: v for k, v in record.items() if v is not None})
            continue
        summary = "\n".join(" ".join(row["summary"][aspect].split()) for aspect in ASPECTS)
        record = {"id": row["id"], "title": title, "document": document, "summary": summary}
        records.append({k: v for k, v in record.items() if v is not None})
    return records, skipped


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for train.jsonl, valid.jsonl (and test.jsonl)")
    parser.add_argument("--cache", default=os.path.join(os.path.expanduser("~"), ".cache", "summ_plugin"),
                        help="where the aclsum wheel is kept (downloaded with pip when missing)")
    parser.add_argument("--wheel", help="use this aclsum wheel file instead of the cache")
    parser.add_argument("--with-test", action="store_true",
                        help="also write test.jsonl (for the final report only: do not tune on it)")
    parser.add_argument("--queries", action="store_true",
                        help="query-focused view: one record per paper and aspect, the aspect as a question")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    wheel_path = args.wheel or fetch_wheel(args.cache)
    splits = ["train", "valid"] + (["test"] if args.with_test else [])
    with zipfile.ZipFile(wheel_path) as wheel:
        for split in splits:
            records, skipped = build_split(wheel, split, args.queries)
            path = os.path.join(args.out, f"{split}.jsonl")
            with atomic_output(path) as handle:
                for record in records:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            logger.info("%s: %d %s (%d papers without body text skipped) -> %s", split, len(records),
                        "records (paper, aspect)" if args.queries else "papers", skipped, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
