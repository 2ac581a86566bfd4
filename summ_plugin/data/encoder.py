"""One record -> model input: the core that every tool goes through.

summ-prepare (and the raw-directory task path, which runs it), summ-summarize,
summ-train-selector and summ-eval-retrieval all clean, budget, select and encode with one
:class:`ExampleEncoder`, so the model and the selector see the same text, cut the same way,
wherever a record comes from. The steps, each usable alone:

    select         retrieval under the budget -> Selection
    build_source   retrieval, then the selection's ids: [query </s>] passages </s>
    build_target   the summary -> target ids ending in </s>, and whether it was cut
    coverage       ROUGE-1/2 recall of the selected text against the summary
    encode         clean (summ_plugin.data.text), then all of the above: one example

``use_reference``: whether retrieval may read the record's summary (the oracle and other
reference-guided retrievers; training data only). summ-prepare passes ``split == "train"``,
summ-summarize False.
"""
import copy
import json
from functools import lru_cache
from typing import Dict, List, Optional, Tuple

import numpy as np

from summ_plugin.data.config import PrepareConfig
from summ_plugin.data.records import BadRecordError, Record
from summ_plugin.data.text import clean_record, target_text
from summ_plugin.retrieval import Selection, approx_token_count, build_retriever, retrieval_coverage
from summ_plugin.retrieval.budget import DEFAULT_SPLIT_MODE, Budget

# dictionary-id encodings kept: a passage is encoded once to count it and once to emit it
ENCODE_CACHE_SIZE = 16384


class ExampleEncoder:
    """The source budget, the GPT-2 BPE and the dictionary of one set of prepared data.

    One per worker process. Without ``dict_path`` tokens are counted exactly but no ids
    are made (the selector and retrieval tools); without BPE files (``encoder_json`` None)
    they are counted approximately, 1.3 per word (quick evaluation only, see
    summ_plugin.retrieval.tokens).
    """

    def __init__(self, encoder_json: Optional[str], vocab_bpe: Optional[str], dict_path: Optional[str] = None, *,
                 max_source_positions: int = 1024, max_target_positions: int = 1024, split_mode: str = DEFAULT_SPLIT_MODE):
        from summ_plugin.data.bpe import load_dictionary, load_gpt2_bpe

        self.max_source_positions = max_source_positions
        self.max_target_positions = max_target_positions
        self.split_mode = split_mode
        self.bpe = load_gpt2_bpe(encoder_json, vocab_bpe) if (encoder_json or vocab_bpe) else None
        self.dictionary = load_dictionary(dict_path) if dict_path else None
        self.eos = self.dictionary.eos() if self.dictionary is not None else None
        # an exported transformers tokenizer in place of the BPE files and dictionary (from_tokenizer)
        self.tokenizer = None
        self.encode_text = lru_cache(maxsize=ENCODE_CACHE_SIZE)(self._encode)
        self._approx_count = lru_cache(maxsize=None)(approx_token_count)
        self._retrievers: Dict[Tuple[str, str], object] = {}
        self._budget = self.budget()

    @classmethod
    def from_config(cls, config: PrepareConfig) -> "ExampleEncoder":
        return cls(config.encoder_json, config.vocab_bpe, config.dict_path,
                   max_source_positions=config.max_source_positions,
                   max_target_positions=config.max_target_positions, split_mode=config.split_mode)

    @classmethod
    def from_tokenizer(cls, tokenizer, *, max_source_positions: int, split_mode: str = DEFAULT_SPLIT_MODE,
                       max_target_positions: int = 1024) -> "ExampleEncoder":
        """An encoder that counts and encodes with the tokenizer of a summ-export-hf directory.

        That tokenizer encodes ``text`` as fairseq's BPE and dictionary encode ``" " + text``
        (ids a BPE symbol missing from the dictionary gets are aliases of ``<unk>``: one token
        each, as fairseq's ``<unk>``), so counts, budgets, selections and sources are the ones
        the BPE files give; it needs neither fairseq nor the BPE files."""
        encoder = cls(None, None, None, max_source_positions=max_source_positions,
                      max_target_positions=max_target_positions, split_mode=split_mode)
        encoder.tokenizer = tokenizer
        encoder.eos = tokenizer.eos_token_id
        encoder._budget = encoder.budget()
        return encoder

    @property
    def encodes(self) -> bool:
        """Whether this encoder makes token ids (BPE files or a tokenizer), not approximate counts."""
        return self.bpe is not None or self.tokenizer is not None

    # ------------------------------------------------------------------ BPE and budget

    def _encode(self, text: str) -> Tuple[int, ...]:
        """Dictionary ids (BPE ids without a dictionary) of ``" " + text``: the leading space
        makes a passage encode the same wherever it lands in the source."""
        if self.tokenizer is not None:
            # the exported tokenizer prepends the space itself (normalizers.Prepend)
            # (verbose=False: a passage longer than the model's source is counted, not fed to it)
            return tuple(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
        if self.bpe is None:
            raise RuntimeError("this ExampleEncoder has no BPE files: it counts tokens approximately and cannot encode")
        ids = self.bpe.encode(" " + text)
        if self.dictionary is None:
            return tuple(ids)
        index = self.dictionary.index
        return tuple(index(str(bpe_id)) for bpe_id in ids)

    def count_tokens(self, text: str) -> int:
        if not self.encodes:
            return self._approx_count(text)
        return len(self.encode_text(text))

    @staticmethod
    def token_bounds(text: str) -> Tuple[int, int]:
        """Cheap bounds on ``count_tokens``: GPT-2 BPE gives each whitespace-separated word at
        least one token and each token at least one byte of ``" " + text``."""
        return len(text.split()), len(text.encode("utf-8")) + 1

    def budget(self) -> Budget:
        """How retrieval is called: positions, reserved and separator tokens, the token count."""
        return Budget(self.max_source_positions, self.count_tokens, self.split_mode,
                      token_bounds=self.token_bounds if self.encodes else None)

    def with_source_positions(self, max_source_positions: int) -> "ExampleEncoder":
        """This encoder (the same BPE, dictionary and caches) under another source budget."""
        other = copy.copy(self)
        other.max_source_positions = max_source_positions
        other._budget = other.budget()
        return other

    def decode(self, token_ids, dictionary=None) -> str:
        """Dictionary ids (a model's output) -> text, as fairseq's ``--bpe gpt2`` decodes them.
        ``dictionary``: the one the ids index (default: this encoder's)."""
        if self.tokenizer is not None and dictionary is None:
            return decode_with_tokenizer(self.tokenizer, token_ids)
        from summ_plugin.data.bpe import decode_ids

        return decode_ids(self.dictionary if dictionary is None else dictionary, self.bpe, token_ids)

    def retriever(self, name: str, options: Optional[Dict] = None):
        """The retriever ``name`` with ``options``, built once per encoder (a learned one
        loads its selector file; the oracle memoizes its tables)."""
        key = (name, json.dumps(options or {}, sort_keys=True))
        if key not in self._retrievers:
            self._retrievers[key] = build_retriever(name, **(options or {}))
        return self._retrievers[key]

    # ------------------------------------------------------------------ the steps

    def select(self, record: Record, retriever, use_reference: bool, reference: Optional[str] = None) -> Selection:
        """``reference``: which of the record's references a reference-guided retriever reads
        (default: the first, ``record.summary``)."""
        return self._budget.select(record, retriever, (reference or record.summary) if use_reference else None)

    def build_source(self, record: Record, retriever, use_reference: bool,
                     reference: Optional[str] = None) -> Tuple[List[int], Selection]:
        selection = self.select(record, retriever, use_reference, reference)
        source: List[int] = []
        if selection.query:
            source.extend(self.encode_text(selection.query))
            source.append(self.eos)
        for passage in selection.passages:
            source.extend(self.encode_text(passage))
        source.append(self.eos)
        if len(source) > self.max_source_positions:
            # the product's promise; a retrieval bug must not turn into a silently truncated input
            raise RuntimeError(
                f"{record.location}: source of {len(source)} tokens exceeds --max-source-positions "
                f"{self.max_source_positions} (retriever {selection.retriever}); this is a bug"
            )
        if not selection.passages:
            raise BadRecordError(record.location, "retrieval selected no passage (empty document after cleaning?)", record.id)
        return source, selection

    def build_target(self, summary: Optional[str]) -> Tuple[List[int], bool]:
        """Target ids ending in </s>, cut to ``max_target_positions``; just </s> without a summary."""
        if summary is None or not summary.strip():
            return [self.eos], False
        target = list(self._encode(target_text(summary)))  # not cached: each summary is seen once
        truncated = len(target) + 1 > self.max_target_positions
        if truncated:
            target = target[: self.max_target_positions - 1]
        target.append(self.eos)
        return target, truncated

    @staticmethod
    def coverage(selection: Selection, summary) -> Dict[str, float]:
        """ROUGE-1/2 recall of the selected text; several references (a list): the best."""
        return retrieval_coverage(" ".join(selection.passages), summary)

    def encode_example(self, record: Record, retriever, use_reference: bool, reference: Optional[int] = None) -> Dict:
        """``{"source", "target", "meta"}`` of one cleaned record (see :meth:`encode`).

        ``reference``: None: the target is the first reference and the meta line lists every
        reference (valid/test; coverage is the best over them). An index: one training example
        for that reference (id suffixed ``#refN``, coverage of that reference)."""
        references = record.references
        summary = record.summary if reference is None else references[reference]
        source, selection = self.build_source(record, retriever, use_reference, summary)
        meta = {
            "id": record.id if reference is None else f"{record.id}#ref{reference}",
            "retriever": selection.retriever,
            "passage_ids": [int(i) if isinstance(i, (int, np.integer)) else i for i in selection.passage_ids],
            "n_source_tokens": len(source),
            "n_passages": selection.n_passages,
            "query_shortened": bool(getattr(selection, "query_shortened", False)),
        }
        target, truncated = self.build_target(summary)
        if reference is None and len(references) > 1:
            meta["references"] = references
        if summary is not None and summary.strip():
            coverage = self.coverage(selection, references if reference is None else summary)
            meta["rouge1_recall"] = round(float(coverage["rouge1_recall"]), 6)
            meta["rouge2_recall"] = round(float(coverage["rouge2_recall"]), 6)
        meta["n_target_tokens"] = len(target)
        meta["target_truncated"] = truncated
        return {"source": source, "target": target, "meta": meta}

    def encode(self, record: Record, retriever, use_reference: bool) -> Tuple[Dict, bool]:
        """Clean a raw record and encode it: ``(example, whether cleaning changed it)``.
        A record with nothing left to read raises BadRecordError."""
        examples, cleaned = self.encode_all(record, retriever, use_reference, per_reference=False)
        return examples[0], cleaned

    def encode_all(self, record: Record, retriever, use_reference: bool,
                   per_reference: bool) -> Tuple[List[Dict], bool]:
        """Like :meth:`encode`; with ``per_reference`` (training data) one example per reference
        of a record with several (ids ``ID#ref0``, ``ID#ref1``...), else one."""
        record, cleaned = clean_record(record)
        if not any(d.strip() for d in record.documents):
            raise BadRecordError(record.location, "empty document after removing control characters", record.id)
        if per_reference and len(record.references) > 1:
            return [self.encode_example(record, retriever, use_reference, n)
                    for n in range(len(record.references))], cleaned
        return [self.encode_example(record, retriever, use_reference)], cleaned


def decode_with_tokenizer(tokenizer, token_ids) -> str:
    """An exported model's output ids -> text, as :func:`summ_plugin.data.bpe.decode_ids` decodes
    fairseq's: ``<s>`` and padding dropped (the decoder's start ``</s>`` too), the first ``</s>``
    after it ends the text, ``<unk>`` stays as it is written, no surrounding spaces."""
    ids = [int(i) for i in token_ids]
    eos = tokenizer.eos_token_id
    if ids and ids[0] == eos:  # transformers returns the decoder's start token
        ids = ids[1:]
    if eos in ids:
        ids = ids[:ids.index(eos)]
    dropped = {tokenizer.bos_token_id, tokenizer.pad_token_id}
    return tokenizer.decode([i for i in ids if i not in dropped], skip_special_tokens=False).strip()
