"""The benchmark corpus: seeded, streamed long news-like documents with short summaries.

Built from the sentence generators of ``scripts/make_sample_data.py`` (filler, distractor,
context and key-fact sentences), but every record is one ~3000-word document, so that the
stock recipe (one document per line) and ``summ-prepare`` read the same text.

Each record draws from its own ``random.Random(f"{seed}:{split}:{index}")``: record ``i``
is the same whatever the corpus size, and a 10x corpus is written one record at a time
(nothing is held in memory). No fairseq import.
"""
import importlib.util
import json
import os
import random
import tempfile
from typing import Dict, Iterator, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE_GENERATOR = os.path.join(REPO, "scripts", "make_sample_data.py")

# filler words drawn per document; facts, distractors and overshoot add about 200
WORDS_LOW, WORDS_HIGH = 2500, 3100

_sample = None


def _sample_module():
    """scripts/make_sample_data.py, imported by path (scripts/ is not a package)."""
    global _sample
    if _sample is None:
        spec = importlib.util.spec_from_file_location("summ_bench_sample_data", SAMPLE_GENERATOR)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _sample = module
    return _sample


def build_long_document(rng: random.Random, facts, distractors, n_words: int, lead_fraction: float = 0.15):
    """make_sample_data's ``build_document``: facts spread one per segment past the opening
    ``lead_fraction``; returns ``(text with blank-line paragraphs, facts in order of appearance)``."""
    return _sample_module().build_document(rng, facts, distractors, n_words, lead_fraction)


def make_long_record(seed: int, split: str, index: int) -> Dict[str, str]:
    """One record: ``{"id", "document", "summary"}`` (summary: one sentence per line)."""
    sample = _sample_module()
    rng = random.Random(f"{seed}:{split}:{index}")
    org = sample.make_organisation(rng, set())
    facts = sample.fact_sentences(rng, org, rng.randint(4, 6))
    distractors = [sample.distractor_sentence(rng, org) for _ in range(4)] + sample.context_sentences(rng, org, 7)
    text, appearing = build_long_document(rng, facts, distractors, rng.randint(WORDS_LOW, WORDS_HIGH))
    return {
        "id": f"{split}-{index:06d}",
        "document": text,
        "summary": "\n".join(summary for _, summary in appearing),
    }


def iter_records(seed: int, split: str, count: int) -> Iterator[Dict[str, str]]:
    for index in range(count):
        yield make_long_record(seed, split, index)


def stock_source_line(record: Dict[str, str]) -> str:
    """The document as fairseq's BART recipe expects it: one line, whitespace collapsed."""
    return " ".join(record["document"].split())


def stock_target_line(record: Dict[str, str]) -> str:
    return " ".join(record["summary"].split())


class _AtomicFiles:
    """Open several temp files next to their targets; ``os.replace`` them all on success."""

    def __init__(self, paths: Sequence[str]):
        self.paths = list(paths)
        self.tmps = []
        self.handles = []

    def __enter__(self):
        for path in self.paths:
            directory = os.path.dirname(os.path.abspath(path))
            os.makedirs(directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
            self.tmps.append(tmp)
            self.handles.append(os.fdopen(fd, "w", encoding="utf-8", newline="\n"))
        return self.handles

    def __exit__(self, exc_type, exc, tb):
        for handle in self.handles:
            handle.close()
        if exc_type is None:
            for tmp, path in zip(self.tmps, self.paths):
                os.replace(tmp, path)
        else:
            for tmp in self.tmps:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        return False


def write_split(out_dir: str, seed: int, split: str, count: int, stock: bool = True,
                progress: Optional[object] = None) -> Dict[str, str]:
    """Write ``{split}.jsonl`` (summ-prepare's input) and, with ``stock``, ``{split}.source`` /
    ``{split}.target`` (the stock recipe's input) from the same records, streaming.

    Returns the paths written, by kind.
    """
    paths = {"jsonl": os.path.join(out_dir, f"{split}.jsonl")}
    if stock:
        paths["source"] = os.path.join(out_dir, f"{split}.source")
        paths["target"] = os.path.join(out_dir, f"{split}.target")
    with _AtomicFiles(list(paths.values())) as handles:
        for record in iter_records(seed, split, count):
            handles[0].write(json.dumps(record, ensure_ascii=False) + "\n")
            if stock:
                handles[1].write(stock_source_line(record) + "\n")
                handles[2].write(stock_target_line(record) + "\n")
            if progress is not None:
                progress.update(1)
    return paths


def make_rouge_pair(seed: int, index: int):
    """(hypothesis, reference) like a model's output against a reference summary: the
    reference is 3-6 summary sentences, the hypothesis the source sentences of the same
    facts (paraphrases sharing the entities), in another order. Cheap: no document."""
    sample = _sample_module()
    rng = random.Random(f"{seed}:rouge:{index}")
    org = sample.make_organisation(rng, set())
    facts = sample.fact_sentences(rng, org, rng.randint(3, 6))
    reference = " ".join(summary for _, summary in facts)
    hypothesis = [source for source, _ in facts]
    rng.shuffle(hypothesis)
    return " ".join(hypothesis[: max(2, len(hypothesis) - 1)]), reference


def write_rouge_pairs(out_dir: str, seed: int, count: int):
    """``hyps.txt`` and ``refs.txt``, one pair per line; returns their paths."""
    paths = [os.path.join(out_dir, "hyps.txt"), os.path.join(out_dir, "refs.txt")]
    with _AtomicFiles(paths) as (hyps, refs):
        for index in range(count):
            hypothesis, reference = make_rouge_pair(seed, index)
            hyps.write(hypothesis + "\n")
            refs.write(reference + "\n")
    return paths
