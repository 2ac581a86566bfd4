"""One split of a data-bin on disk: the source/target mmap datasets, ``{split}.meta.jsonl``
and ``{split}.skipped.jsonl``, and the split's figures for prepare.json.

    with SplitWriter(split, out_dirs, vocab_size, unk, skip_dir) as writer:
        writer.add(example, cleaned)      # or writer.skip(bad_record_error)
    writer.stats.to_json()

Leaving the block normally finalizes the index files; leaving it by an exception removes
what the writer wrote, so no split is left that looks complete.
"""
import json
import os
from typing import Dict, List, Sequence

from summ_plugin.data.config import SOURCE_LANG, TARGET_LANG
from summ_plugin.data.records import BadRecordError


class SplitStats:
    def __init__(self):
        self.examples = 0
        self.skipped = 0
        self.targets_truncated = 0
        self.records_cleaned = 0
        self.source_tokens = 0
        self.max_source_tokens = 0
        self.passages_selected = 0
        self.coverage_n = 0
        self.rouge1 = 0.0
        self.rouge2 = 0.0
        self.tokens = 0  # source + target tokens, eos included
        self.unk_tokens = 0

    def add(self, example: Dict, cleaned: bool, unk: int) -> None:
        meta = example["meta"]
        self.tokens += len(example["source"]) + len(example["target"])
        self.unk_tokens += example["source"].count(unk) + example["target"].count(unk)
        self.examples += 1
        self.records_cleaned += int(cleaned)
        self.targets_truncated += int(meta["target_truncated"])
        self.source_tokens += meta["n_source_tokens"]
        self.max_source_tokens = max(self.max_source_tokens, meta["n_source_tokens"])
        self.passages_selected += len(meta["passage_ids"])
        if "rouge1_recall" in meta:
            self.coverage_n += 1
            self.rouge1 += meta["rouge1_recall"]
            self.rouge2 += meta["rouge2_recall"]

    def unk_rate_percent(self) -> float:
        return 100.0 * self.unk_tokens / self.tokens if self.tokens else 0.0

    def to_json(self) -> Dict:
        n = max(self.examples, 1)
        out = {
            "examples": self.examples,
            "skipped": self.skipped,
            "targets_truncated": self.targets_truncated,
            "records_cleaned": self.records_cleaned,
            "mean_source_tokens": round(self.source_tokens / n, 3),
            "max_source_tokens": self.max_source_tokens,
            "mean_passages_selected": round(self.passages_selected / n, 3),
            "unk_rate_percent": round(self.unk_rate_percent(), 4),
        }
        if self.coverage_n:
            out["mean_rouge1_recall"] = round(self.rouge1 / self.coverage_n, 6)
            out["mean_rouge2_recall"] = round(self.rouge2 / self.coverage_n, 6)
        return out


class SplitWriter:
    """Writes one split's examples into one or more dirs (round-robin: the train shards) and
    lists skipped records in ``skip_dir/{split}.skipped.jsonl``; ``stats`` holds its figures."""

    def __init__(self, split: str, out_dirs: Sequence[str], vocab_size: int, unk: int, skip_dir: str):
        self.split = split
        self.out_dirs = list(out_dirs)
        self.vocab_size = vocab_size
        self.unk = unk
        self.skipped_path = os.path.join(skip_dir, f"{split}.skipped.jsonl")
        self.stats = SplitStats()
        self.builders: List[Dict] = []
        self.meta_files: List = []
        self._skipped_file = None
        self._written: List[str] = []

    def prefix(self, out_dir: str, lang: str) -> str:
        return os.path.join(out_dir, f"{self.split}.{SOURCE_LANG}-{TARGET_LANG}.{lang}")

    def __enter__(self) -> "SplitWriter":
        from fairseq.data import indexed_dataset

        try:
            for out_dir in self.out_dirs:
                pair = {}
                for lang in (SOURCE_LANG, TARGET_LANG):
                    path = indexed_dataset.data_file_path(self.prefix(out_dir, lang))
                    self._written.append(path)
                    pair[lang] = indexed_dataset.make_builder(path, impl="mmap", vocab_size=self.vocab_size)
                self.builders.append(pair)
                meta_path = os.path.join(out_dir, f"{self.split}.meta.jsonl")
                self._written.append(meta_path)
                self.meta_files.append(open(meta_path, "w", encoding="utf-8"))
        except BaseException:
            self._close(complete=False)
            raise
        return self

    def add(self, example: Dict, cleaned: bool) -> None:
        import torch

        # round-robin over shards: deterministic, and every shard gets a fair share
        slot = self.stats.examples % len(self.out_dirs)
        self.builders[slot][SOURCE_LANG].add_item(torch.IntTensor(example["source"]))
        self.builders[slot][TARGET_LANG].add_item(torch.IntTensor(example["target"]))
        self.meta_files[slot].write(json.dumps(example["meta"], ensure_ascii=False, sort_keys=True) + "\n")
        self.stats.add(example, cleaned, self.unk)

    def skip(self, err: BadRecordError) -> None:
        if self._skipped_file is None:
            self._written.append(self.skipped_path)
            self._skipped_file = open(self.skipped_path, "w", encoding="utf-8")
        self._skipped_file.write(
            json.dumps({"location": err.location, "id": err.record_id, "reason": err.reason}, ensure_ascii=False) + "\n"
        )
        self.stats.skipped += 1

    def __exit__(self, exc_type, *exc) -> None:
        self._close(complete=exc_type is None)

    def _close(self, complete: bool) -> None:
        from fairseq.data import indexed_dataset

        index_paths: List[str] = []
        try:
            for out_dir, pair in zip(self.out_dirs, self.builders):
                for lang, builder in pair.items():
                    # finalize also closes the data file; an incomplete split's files are removed below
                    index_paths.append(indexed_dataset.index_file_path(self.prefix(out_dir, lang)))
                    builder.finalize(index_paths[-1])
        finally:
            for handle in self.meta_files + [self._skipped_file]:
                if handle is not None:
                    handle.close()
            if not complete:
                for path in self._written + index_paths:
                    _remove_quietly(path)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
