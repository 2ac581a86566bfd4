"""Shared helpers for the summ-prepare / BPE / cache tests: a tiny corpus, a BPE trained on it."""
import json
import os
import random
from typing import Dict, List

WORDS = (
    "the council voted to approve a new budget for schools roads and parks after a long debate "
    "residents asked about taxes while the mayor said the plan keeps spending flat officials "
    "expect work to start in spring engineers will repair the old bridge near the river market "
    "teachers welcomed funding for books computers and buses critics warned about rising costs"
).split()


def make_sentence(rng: random.Random, n_words: int) -> str:
    words = [rng.choice(WORDS) for _ in range(n_words)]
    return " ".join(words).capitalize() + "."


def make_records(n: int, seed: int = 0, sentences: int = 12, with_query: bool = False) -> List[Dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        sents = [make_sentence(rng, rng.randint(6, 14)) for _ in range(sentences)]
        rec = {"id": f"doc{seed}-{i}", "document": " ".join(sents), "summary": sents[1] + "\n" + sents[3]}
        if with_query and i % 2 == 0:
            rec["query"] = "what about the " + rng.choice(WORDS) + "?"
        records.append(rec)
    return records


def write_jsonl(path: str, records: List[Dict]) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec) + "\n")
    return path


def make_raw_dir(root: str, n_train: int = 24, n_valid: int = 6, n_test: int = 4, with_query: bool = False) -> str:
    write_jsonl(os.path.join(root, "train.jsonl"), make_records(n_train, seed=1, with_query=with_query))
    write_jsonl(os.path.join(root, "valid.jsonl"), make_records(n_valid, seed=2, with_query=with_query))
    if n_test:
        write_jsonl(os.path.join(root, "test.jsonl"), make_records(n_test, seed=3, with_query=with_query))
    return root


def build_vocab(out_dir: str, vocab_size: int = 400) -> Dict[str, str]:
    """Train the tiny BPE with our own trainer and count dict.txt, as summ-make-vocab does."""
    from summ_plugin.cli.make_vocab import make_vocab

    corpus = write_jsonl(os.path.join(out_dir, "corpus.jsonl"), make_records(40, seed=9, with_query=True))
    make_vocab([corpus], out_dir, vocab_size)
    return {
        "encoder_json": os.path.join(out_dir, "encoder.json"),
        "vocab_bpe": os.path.join(out_dir, "vocab.bpe"),
        "dict": os.path.join(out_dir, "dict.txt"),
    }
