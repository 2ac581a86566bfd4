"""Summarize from Python, with the retrieval the model was trained with.

    from summ_plugin import Summarizer
    summaries = Summarizer.from_checkpoint("checkpoints/checkpoint_best.pt").summarize([long_text])
    summaries = Summarizer.from_exported("hf-export").summarize([long_text])

Both paths run one record -> model input path (:class:`~summ_plugin.data.encoder.ExampleEncoder`,
what summ-prepare made the training data with): the retriever, its options, the split mode and
the source budget come from the training record (a checkpoint's data-bin ``prepare.json``; an
export's ``retrieval.json``), so a long document is cut and selected as the training and
validation data were, not truncated. Then generation: fairseq's SequenceGenerator for a
checkpoint (summ-summarize is a thin command line over this class), transformers' ``generate``
with the exported ``generation_config.json`` for an export. The generation settings default to
the ones the model was validated with (summ_plugin.generation_settings).

This module imports neither fairseq nor transformers: each ``from_*`` imports what its path needs.
"""
import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from .data.encoder import ExampleEncoder
from .data.records import BadRecordError, FieldNames, Record, record_from_dict
from .errors import UserError
from .generation_settings import GenerationOptions

logger = logging.getLogger(__name__)

SummaryInput = Union[str, Mapping[str, Any], Record]


class SummarizeError(UserError):
    """A user error of summarizing (summ-summarize prints it as one line)."""


# ----------------------------------------------------------------------------- settings


def choose_retriever(given: Optional[str], given_options: Optional[Dict], recorded_name: str,
                     recorded_options: Dict, record: str) -> Tuple[str, Dict]:
    """The retriever to summarize with: the recorded one (``record`` names where it was read),
    unless one is given; a different one is logged as a WARNING, since the model was trained
    and validated on sources another retriever picked."""
    if given and (given, given_options or {}) != (recorded_name, recorded_options):
        logger.warning("--retriever %s %s overrides the retriever the model's training data was prepared with "
                       "(%s %s, %s): the model was trained and validated on other inputs",
                       given, json.dumps(given_options or {}), recorded_name, json.dumps(recorded_options), record)
    elif not given:
        logger.info("retriever %s %s: the one the model's valid data was prepared with (%s)",
                    recorded_name, json.dumps(recorded_options), record)
    if given:
        return given, dict(given_options or {})
    return recorded_name, dict(recorded_options)


def choose_source_budget(given: Optional[int], prepared: Optional[int], model_positions: int,
                         model: str, record: str) -> int:
    """The retrieval budget: ``given`` (--max-source-positions), else the one the training data
    was prepared with, else the model's positions; never more than the model's learned
    positions (a longer source would not fit the model). ``model``/``record`` name them in errors."""
    if given is not None:
        if given > model_positions:
            raise SummarizeError(
                f"--max-source-positions {given} is more than the model's {model_positions} source positions "
                f"({model}); extend the model first (summ-fix-vocab --max-source-positions, or fine-tune with "
                "--max-source-positions)")
        return given
    if prepared is None:
        return model_positions
    if prepared > model_positions:
        raise SummarizeError(
            f"{record} was prepared for {prepared} source positions but the model has {model_positions} "
            f"({model}): retrieval would pick sources the model cannot read; give --max-source-positions "
            f"{model_positions} (or less), or a model with {prepared} positions")
    return prepared


def check_generation_options(options: GenerationOptions, batch_size: Optional[int] = None) -> None:
    """Refuse settings fairseq would accept and then fail on mid-run or turn into empty output.
    Checks what is given (None: the model's setting, checked once it is known)."""
    o = options
    if o.beam is not None and o.beam < 1:
        raise SummarizeError(f"--beam must be at least 1, got {o.beam}")
    if batch_size is not None and batch_size < 1:
        raise SummarizeError(f"--batch-size must be at least 1, got {batch_size}")
    if (o.max_len_a is not None and o.max_len_a < 0) or (o.max_len_b is not None and o.max_len_b < 0):
        raise SummarizeError(f"--max-len-a/--max-len-b must not be negative, got {o.max_len_a}/{o.max_len_b}")
    if not o.max_len_a and o.max_len_b is not None and o.max_len_b < 1:
        raise SummarizeError(f"--max-len-b {o.max_len_b} leaves no room for a summary (with --max-len-a 0)")
    if o.min_len is not None and o.min_len < 0:
        raise SummarizeError(f"--min-len must not be negative, got {o.min_len}")
    if not o.max_len_a and None not in (o.min_len, o.max_len_b) and o.min_len > o.max_len_b:
        raise SummarizeError(f"--min-len {o.min_len} is more than --max-len-b {o.max_len_b}")
    if o.no_repeat_ngram_size is not None and o.no_repeat_ngram_size < 0:
        raise SummarizeError(f"--no-repeat-ngram-size must not be negative, got {o.no_repeat_ngram_size}")


def choose_device(device: Optional[str], fp16: bool) -> Tuple[str, bool]:
    """``device`` ("cpu", "cuda", "cuda:1"; None: "cpu") and whether half precision applies
    (on a GPU only: fairseq's and transformers' CPU kernels are float32)."""
    import torch

    device = device or "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SummarizeError(f"device {device!r} asked for, but torch sees no GPU (torch.cuda.is_available() is False)")
    if device != "cpu" and not device.startswith("cuda"):
        raise SummarizeError(f"device must be 'cpu' or 'cuda[:N]', got {device!r}")
    if fp16 and device == "cpu":
        logger.warning("fp16 is for GPUs; summarizing on CPU in float32")
        fp16 = False
    return device, fp16


# ----------------------------------------------------------------------------- inputs


def as_record(item: SummaryInput, index: int, fields: FieldNames = FieldNames()) -> Record:
    """One input of :meth:`Summarizer.summarize` as a Record: a string is one document; a dict
    holds ``document`` | ``documents`` | ``sections`` and optionally ``query``, ``title`` and
    ``id`` (default: its position); a Record is used as it is. A BadRecordError names the input."""
    location = f"input {index}"
    if isinstance(item, Record):
        # a Record made by hand has no file:line: errors name its place in the inputs
        return item if item.location else dataclasses.replace(item, location=location)
    if isinstance(item, str):
        if not item.strip():
            raise BadRecordError(location, "empty document", str(index))
        return Record(id=str(index), documents=[item], location=location)
    if isinstance(item, Mapping):
        obj = dict(item)
        obj.setdefault(fields.id, str(index))
        return record_from_dict(obj, location, fields, require_summary=False)
    raise BadRecordError(location, f"expected a string, a dict or a Record, got {type(item).__name__}", str(index))


# ----------------------------------------------------------------------------- the class


@dataclass
class InferenceSetup:
    """What a Summarizer was set up with: for the log, ``repr`` and the model card."""

    model: str
    retriever: str
    retriever_options: Dict[str, Any]
    split_mode: str
    max_source_positions: int
    generation: GenerationOptions
    generation_source: str


class Summarizer:
    """A fine-tuned model and the retrieval it was trained with.

    Build it with :meth:`from_checkpoint` (a fairseq checkpoint) or :meth:`from_exported`
    (a summ-export-hf directory); :meth:`summarize` takes strings, dicts or Records and returns
    the summaries in input order.
    """

    def __init__(self, encoder: ExampleEncoder, generate: Callable[[List[List[int]], GenerationOptions], List[List[int]]],
                 setup: InferenceSetup, decode_dictionary=None):
        self.encoder = encoder
        self.setup = setup
        self.retriever = encoder.retriever(setup.retriever, setup.retriever_options)
        self._generate = generate
        self._decode_dictionary = decode_dictionary

    def __repr__(self) -> str:
        s = self.setup
        return (f"Summarizer({s.model!r}, retriever={s.retriever!r}, split_mode={s.split_mode!r}, "
                f"max_source_positions={s.max_source_positions}, generation={s.generation.to_dict()})")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_checkpoint(cls, path: str, data_bin: Optional[str] = None, *, encoder_json: Optional[str] = None,
                        vocab_bpe: Optional[str] = None, allow_bpe_mismatch: bool = False,
                        retriever: Optional[str] = None, retriever_options: Optional[Dict] = None,
                        split_mode: Optional[str] = None, max_source_positions: Optional[int] = None,
                        device: Optional[str] = "cpu", fp16: bool = False) -> "Summarizer":
        """A fairseq checkpoint (``checkpoint_best.pt``). ``data_bin``: the data-bin it was trained
        on (default: the checkpoint's ``task.data``), whose dictionary, BPE files and
        ``prepare.json`` (retriever, split mode, budget) are used; the other arguments override
        them (a different retriever is logged as a WARNING). BPE files other than the ones
        ``prepare.json`` records are refused unless ``allow_bpe_mismatch``. Needs fairseq."""
        from .summarize import CheckpointRequest, load_for_inference

        request = CheckpointRequest(checkpoint=path, data_bin=data_bin, encoder_json=encoder_json,
                                    vocab_bpe=vocab_bpe, allow_bpe_mismatch=allow_bpe_mismatch, retriever=retriever,
                                    retriever_options=retriever_options,
                                    split_mode=split_mode, max_source_positions=max_source_positions)
        device, fp16 = choose_device(device, fp16)
        return load_for_inference(cls, request, device, fp16)

    @classmethod
    def from_exported(cls, hf_dir: str, *, retriever: Optional[str] = None, retriever_options: Optional[Dict] = None,
                      split_mode: Optional[str] = None, max_source_positions: Optional[int] = None,
                      device: Optional[str] = "cpu", fp16: bool = False) -> "Summarizer":
        """A summ-export-hf directory: its tokenizer, its ``retrieval.json`` (retriever, split mode,
        budget; a selector file beside it) and ``generate`` with its ``generation_config.json``.
        Needs transformers, not fairseq."""
        from .export_hf.inference import load_exported

        device, fp16 = choose_device(device, fp16)
        return load_exported(cls, hf_dir, retriever=retriever, retriever_options=retriever_options,
                             split_mode=split_mode, max_source_positions=max_source_positions,
                             device=device, fp16=fp16)

    # ------------------------------------------------------------------ the steps

    @property
    def generation(self) -> GenerationOptions:
        """The settings :meth:`summarize` uses for those not given (the validated ones)."""
        return self.setup.generation

    def encode(self, item: SummaryInput, index: int = 0, fields: FieldNames = FieldNames()) -> Dict:
        """What the model reads for one input: ``{"source": ids, "meta": {...}}`` (the retriever,
        the selected passage ids in document order, the source token count). A BadRecordError
        names an input that cannot be used."""
        record = item if isinstance(item, Record) else as_record(item, index, fields)
        example, _ = self.encoder.encode(record, self.retriever, use_reference=False)
        return example

    def generate_ids(self, sources: Sequence[Sequence[int]], options: GenerationOptions) -> List[List[int]]:
        """The model's output ids for a batch of encoded sources, in their order (``options``
        complete, see :meth:`resolve`): fairseq's hypothesis (ending in ``</s>``) for a
        checkpoint; transformers' output (starting with the decoder's ``</s>``, maybe padded
        after the closing one) for an export."""
        return self._generate([[int(i) for i in s] for s in sources], options)

    def generate(self, sources: Sequence[Sequence[int]], options: GenerationOptions) -> List[str]:
        """Summaries of a batch of encoded sources, in their order; ``options`` complete."""
        return [self.encoder.decode(ids, self._decode_dictionary) for ids in self.generate_ids(sources, options)]

    def resolve(self, **given) -> GenerationOptions:
        """The generation options of a call: those given, the model's for the rest; checked."""
        options = GenerationOptions(**given)
        check_generation_options(options)
        options = options.resolved(self.setup.generation.to_dict())
        check_generation_options(options)
        return options

    def summarize(self, inputs: Union[SummaryInput, Iterable[SummaryInput]], *, batch_size: int = 8,
                  beam: Optional[int] = None, lenpen: Optional[float] = None, max_len_a: Optional[float] = None,
                  max_len_b: Optional[int] = None, min_len: Optional[int] = None,
                  no_repeat_ngram_size: Optional[int] = None, return_details: bool = False,
                  fields: FieldNames = FieldNames()) -> List[Any]:
        """Summaries of ``inputs`` (a string, a dict, a Record, or a list of them), in input order.

        Generation settings not given are the model's validated ones (:attr:`generation`).
        ``return_details``: a dict per input, as a line of summ-summarize's output: ``id``,
        ``summary``, ``retriever``, ``passage_ids`` (the selected passages, document order) and
        ``n_source_tokens``. An input that cannot be used raises SummarizeError naming it."""
        if isinstance(inputs, (str, Mapping, Record)):
            inputs = [inputs]
        if batch_size < 1:
            raise SummarizeError(f"batch_size must be at least 1, got {batch_size}")
        options = self.resolve(beam=beam, lenpen=lenpen, max_len_a=max_len_a, max_len_b=max_len_b,
                               min_len=min_len, no_repeat_ngram_size=no_repeat_ngram_size)
        encoded: List[Tuple[Record, Dict]] = []
        for index, item in enumerate(inputs):
            try:
                record = as_record(item, index, fields)
                encoded.append((record, self.encode(record)))
            except BadRecordError as err:
                raise SummarizeError(str(err)) from None
        results: List[Any] = []
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start:start + batch_size]
            summaries = self.generate([example["source"] for _, example in batch], options)
            for (record, example), summary in zip(batch, summaries):
                results.append(details(record, example, summary) if return_details else summary)
        return results


def details(record: Record, example: Dict, summary: str) -> Dict[str, Any]:
    """One line of summ-summarize's output."""
    meta = example["meta"]
    return {"id": record.id, "summary": summary, "retriever": meta["retriever"],
            "passage_ids": meta["passage_ids"], "n_source_tokens": meta["n_source_tokens"]}
