"""Inference on raw documents: the same retrieval as training data, then BART generation.

Each record goes through ``ExampleEncoder.encode`` (summ_plugin.data.encoder, what summ-prepare
uses), so a document is cleaned, cut, scored and budgeted exactly as the model saw it in
training, without the reference; the selected source is batched and decoded with fairseq's
SequenceGenerator, and the output ids are turned into text by the same encoder's BPE.
"""
import json
import logging
import os
from argparse import Namespace
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from fairseq import checkpoint_utils, utils
from tqdm import tqdm

from .atomic import atomic_output
from .data.bpe_record import resolve_bpe_files, resolve_stored_path
from .data.config import (allow_bpe_mismatch_field, input_format_field, on_bad_record_field, trained_bpe_field,
                          trained_data_bin_field)
from .data.bad_records import BadRecordPolicy, with_duplicate_check
from .data.encoder import ExampleEncoder
from .data.pool import chunked
from .data.data_bin import DataBin, DataBinError
from .data.records import BadRecordError, FieldNames
from .data.formats import iter_input_records
from .errors import UserError
from .retrieval.passages import SPLIT_MODES

logger = logging.getLogger(__name__)


class SummarizeError(UserError):
    """A user error: the CLI prints it as one line."""


@dataclass
class GenerationOptions:
    """fairseq's generation options. Defaults: fairseq-generate's, except the beam: 4, as in
    fairseq's BART summarization example (fairseq-generate's own default is 5)."""

    beam: int = field(default=4, metadata={"help": "beam size", "metavar": "N"})
    lenpen: float = field(default=1.0, metadata={
        "help": "length penalty: < 1.0 favours shorter, > 1.0 longer summaries"})
    max_len_a: float = field(default=0.0, metadata={
        "help": "generate at most max_len_a * source length + max_len_b tokens"})
    max_len_b: int = field(default=200, metadata={
        "help": "generate at most max_len_a * source length + max_len_b tokens", "metavar": "N"})
    min_len: int = field(default=1, metadata={"help": "generate at least this many tokens", "metavar": "N"})
    no_repeat_ngram_size: int = field(default=0, metadata={
        "help": "never repeat an n-gram of this size (0: allowed)", "metavar": "N"})


@dataclass
class SummarizeConfig:
    checkpoint: str = field(metadata={"help": "checkpoint (checkpoint_best.pt)"})
    input: str = field(metadata={"help": "raw records (any input format summ-prepare reads, see --format)"})
    output: str = field(metadata={"help": "output JSONL"})
    data_bin: Optional[str] = trained_data_bin_field()
    encoder_json: Optional[str] = trained_bpe_field("encoder.json")
    vocab_bpe: Optional[str] = trained_bpe_field("vocab.bpe")
    allow_bpe_mismatch: bool = allow_bpe_mismatch_field()
    retriever: Optional[str] = field(default=None, metadata={
        "help": "retriever (default: the valid/test retriever of the training data)"})
    retriever_options: Optional[Dict] = field(default=None, metadata={
        "help": "JSON object of retriever options", "metavar": "JSON"})
    split_mode: Optional[str] = field(default=None, metadata={
        "help": "how documents are cut into passages (default: as in training)", "choices": SPLIT_MODES})
    input_format: str = input_format_field()
    fields: Optional[FieldNames] = None
    batch_size: int = field(default=8, metadata={"help": "documents per generation batch", "metavar": "N"})
    cpu: bool = field(default=False, metadata={"help": "run on CPU even when a GPU is available"})
    fp16: bool = field(default=False, metadata={"help": "half precision on GPU"})
    on_bad_record: str = on_bad_record_field()
    max_source_positions: Optional[int] = field(default=None, metadata={
        "help": "source budget of the retrieval (default: the data-bin's, from prepare.json); at most the "
                "model's source positions", "metavar": "N"})
    generation: GenerationOptions = field(default_factory=GenerationOptions)


def validate_generation_options(options: GenerationOptions, batch_size: int) -> None:
    """Refuse settings fairseq would accept and then fail on mid-run or turn into empty output."""
    if options.beam < 1:
        raise SummarizeError(f"--beam must be at least 1, got {options.beam}")
    if batch_size < 1:
        raise SummarizeError(f"--batch-size must be at least 1, got {batch_size}")
    if options.max_len_a < 0 or options.max_len_b < 0:
        raise SummarizeError(f"--max-len-a/--max-len-b must not be negative, got {options.max_len_a}/{options.max_len_b}")
    if options.max_len_a == 0 and options.max_len_b < 1:
        raise SummarizeError(f"--max-len-b {options.max_len_b} leaves no room for a summary (with --max-len-a 0)")
    if options.min_len < 0:
        raise SummarizeError(f"--min-len must not be negative, got {options.min_len}")
    if options.max_len_a == 0 and options.min_len > options.max_len_b:
        raise SummarizeError(f"--min-len {options.min_len} is more than --max-len-b {options.max_len_b}")
    if options.no_repeat_ngram_size < 0:
        raise SummarizeError(f"--no-repeat-ngram-size must not be negative, got {options.no_repeat_ngram_size}")


def check_output_is_not_input(input_path: str, output_path: str) -> None:
    """The output replaces its path at the end: if that path is the input (the same name, a
    hard link or a symlink to it), the documents and references would be lost."""
    from .safe_io import same_file

    if os.path.isdir(output_path):
        raise SummarizeError(f"--output {output_path} is a directory; give a file name")
    if same_file(input_path, output_path):
        raise SummarizeError(
            f"--output {output_path} is the input file {input_path}; writing it would destroy the input. "
            "Give another output path"
        )


def check_dictionary_is_the_models(models, trained_data: Optional[str], settings: Dict) -> None:
    """At inference the dictionary must be the one the model was trained with: another one
    (a different --data-bin) has other rows for other symbols, and resizing the embeddings
    to fit gives fluent nonsense ("The The The ...") with exit status 0."""
    from .data.bpe import load_dictionary

    dictionary = load_dictionary(settings["dict_path"])
    rows = models[0].encoder.embed_tokens.weight.size(0) if hasattr(models[0], "encoder") else None
    trained_dir = utils.split_paths(trained_data)[0] if trained_data else None
    trained_dict = os.path.join(trained_dir, "dict.source.txt") if trained_dir else None
    if rows is not None and rows not in (len(dictionary), len(dictionary) + 1):
        raise SummarizeError(
            f"{settings['dict_path']} has {len(dictionary)} entries but the model in the checkpoint has {rows} "
            f"vocabulary rows: this is not the dictionary the model was trained with"
            + (f" ({trained_dict})" if trained_dict else "") + "; give that data-bin with --data-bin"
        )
    if trained_dict and os.path.isfile(trained_dict) and not os.path.samefile(trained_dict, settings["dict_path"]):
        with open(trained_dict, "rb") as a, open(settings["dict_path"], "rb") as b:
            if a.read() != b.read():
                raise SummarizeError(
                    f"{settings['dict_path']} differs from {trained_dict}, the dictionary the model was trained "
                    "with; give that data-bin with --data-bin"
                )


def source_budget(config: SummarizeConfig, data_bin: DataBin, model_positions: int) -> int:
    """The retrieval budget: --max-source-positions, else the data-bin's; never more than
    the model's learned positions (a longer source would not fit the model)."""
    if config.max_source_positions is not None:
        if config.max_source_positions > model_positions:
            raise SummarizeError(
                f"--max-source-positions {config.max_source_positions} is more than the model's "
                f"{model_positions} source positions ({config.checkpoint}); extend the model first "
                "(summ-fix-vocab --max-source-positions, or fine-tune with --max-source-positions)")
        return config.max_source_positions
    if data_bin.budget is None:
        return model_positions
    prepared = data_bin.budget.max_source_positions
    if prepared > model_positions:
        raise SummarizeError(
            f"{data_bin.root} was prepared for {prepared} source positions but the model has "
            f"{model_positions} ({config.checkpoint}): retrieval would pick sources the model "
            f"cannot read; give --max-source-positions {model_positions} (or less), or a model "
            f"with {prepared} positions")
    return prepared


def resolve_inference_settings(config: SummarizeConfig, task_cfg, model_positions: Optional[int] = None) -> Dict:
    """Fill what the user did not give from the data-bin the model was trained on:
    its dictionary, its BPE files, and the retriever it used for valid/test.
    ``model_positions``: the model's source positions (default: the task's)."""
    try:
        data_bin = DataBin.locate(config.data_bin or task_cfg.data)
    except DataBinError as err:
        raise SummarizeError(str(err)) from None
    dict_path = data_bin.dictionary_path("source")
    if not os.path.isfile(dict_path):
        raise SummarizeError(
            f"{dict_path} not found: give --data-bin, the data-bin (or a directory holding dict.source.txt) "
            "the model was trained on"
        )
    recorded = data_bin.retriever("valid", getattr(task_cfg, "retriever", None))
    record = data_bin.manifest_path if data_bin.manifest else f"{data_bin.root} has no prepare.json"
    if config.retriever and (config.retriever, config.retriever_options or {}) != (recorded.name, recorded.options):
        logger.warning("--retriever %s %s overrides the retriever the model's training data was prepared with "
                       "(%s %s, %s): the model was trained and validated on other inputs",
                       config.retriever, json.dumps(config.retriever_options or {}), recorded.name,
                       json.dumps(recorded.options), record)
    elif not config.retriever:
        logger.info("retriever %s %s: the one the model's valid data was prepared with (%s)",
                    recorded.name, json.dumps(recorded.options), record)
    # the files the data-bin was prepared with (its sha256 record), never others
    bpe_files = resolve_bpe_files(
        data_bin, {"encoder_json": config.encoder_json, "vocab_bpe": config.vocab_bpe},
        {"encoder_json": getattr(task_cfg, "encoder_json", None), "vocab_bpe": getattr(task_cfg, "vocab_bpe", None)},
        stored_in=config.checkpoint, allow_mismatch=config.allow_bpe_mismatch)
    settings = {
        "data_bin": data_bin.root,
        "dict_path": dict_path,
        "encoder_json": bpe_files[0],
        "vocab_bpe": bpe_files[1],
        "retriever": config.retriever or recorded.name,
        "retriever_options": (config.retriever_options or {}) if config.retriever else dict(recorded.options),
        "split_mode": config.split_mode or data_bin.split_mode,
        "max_source_positions": source_budget(
            config, data_bin, int(model_positions or task_cfg.max_source_positions)),
    }
    return settings


def _apply_overrides(state: Dict, overrides: Dict) -> Optional[str]:
    """Apply ``overrides`` as ``load_checkpoint_to_cpu(path, overrides)`` would, and return the
    data path the model was trained on (before ``--data-bin`` replaces it)."""
    from fairseq.dataclass.utils import overwrite_args_by_name

    trained_data = None
    if state.get("args") is not None:
        trained_data = getattr(state["args"], "data", None)
        for name, value in overrides.items():
            setattr(state["args"], name, value)
    elif state.get("cfg") is not None:
        task_cfg = state["cfg"].get("task") or {}
        trained_data = task_cfg.get("data") if hasattr(task_cfg, "get") else None
        overwrite_args_by_name(state["cfg"], overrides)
    return trained_data


# Task settings that hold at inference whatever the model was trained with.
INFERENCE_TASK_OVERRIDES = {
    # never resize the embeddings to another dictionary (see check_dictionary_is_the_models)
    "vocab_fix": "error",
    # validation ROUGE and support weights are training-time features: left on, build_model
    # would look for the BPE files and coverage metadata at the paths training used, which
    # need not exist where (or when) the model is used; summarize loads its own BPE files
    "eval_rouge": False,
    "support_weighting": False,
    # refused by the task; an older checkpoint may still hold it
    "eval_bleu": False,
}


def load_model(config: SummarizeConfig):
    if not os.path.isfile(config.checkpoint):
        raise SummarizeError(f"{config.checkpoint}: checkpoint not found")
    overrides = {"data": config.data_bin} if config.data_bin else {}
    overrides.update(INFERENCE_TASK_OVERRIDES)
    from .vocab_fix import VocabFixError

    state = checkpoint_utils.load_checkpoint_to_cpu(config.checkpoint)
    trained_data = _apply_overrides(state, overrides)
    if trained_data and not config.data_bin:
        resolve_stored_path(str(trained_data), f"{config.checkpoint}'s task.data")  # warns if relative
    try:
        models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([config.checkpoint], state=state)
    except VocabFixError as err:
        where = config.data_bin or "the checkpoint's data-bin"
        raise SummarizeError(
            f"{config.checkpoint}: the dictionary of {where} is not the one the model was trained with "
            f"({err.args[0].split(' (--vocab-fix')[0]}); give the training data-bin with --data-bin"
        ) from None
    use_cuda = torch.cuda.is_available() and not config.cpu
    for model in models:
        model.eval()
        if config.fp16 and use_cuda:
            model.half()
        if use_cuda:
            model.cuda()
    return models, cfg, task, use_cuda, trained_data


def summarize_file(config: SummarizeConfig) -> Dict[str, int]:
    """Summarize every record of ``config.input`` into ``config.output`` (JSONL, atomic)."""
    check_output_is_not_input(config.input, config.output)
    validate_generation_options(config.generation, config.batch_size)
    models, cfg, task, use_cuda, trained_data = load_model(config)
    # what the model can read: its learned positions (extended ones included), capped by the task's
    model_positions = min([int(cfg.task.max_source_positions)] + [int(m.max_positions()[0]) for m in models])
    # task.cfg, not cfg.task: for a model trained on a raw directory, setup_task has replaced
    # its data path with the prepared data-bin (dictionary, prepare.json)
    settings = resolve_inference_settings(config, getattr(task, "cfg", cfg.task), model_positions)
    check_dictionary_is_the_models(models, trained_data, settings)
    logger.info(
        "retriever %s (options %s), split mode %s, source budget %d tokens; beam %d lenpen %s max_len_b %d min_len %d",
        settings["retriever"], settings["retriever_options"], settings["split_mode"],
        settings["max_source_positions"], config.generation.beam, config.generation.lenpen,
        config.generation.max_len_b, config.generation.min_len,
    )
    encoder = ExampleEncoder(settings["encoder_json"], settings["vocab_bpe"], settings["dict_path"],
                             max_source_positions=settings["max_source_positions"],
                             split_mode=settings["split_mode"])
    retriever = encoder.retriever(settings["retriever"], settings["retriever_options"])
    generator = task.build_generator(models, Namespace(**vars(config.generation)))
    counts = {"summarized": 0}
    policy = BadRecordPolicy(config.on_bad_record, SummarizeError)

    def encoded_records():
        records = iter_input_records(config.input, config.input_format, config.fields, require_summary=False)
        for record in policy.records(with_duplicate_check(records)):
            try:
                example, _ = encoder.encode(record, retriever, use_reference=False)
            except BadRecordError as err:
                policy.handle(err)
                continue
            yield record, example

    with atomic_output(config.output) as out, tqdm(desc="summ-summarize", unit="doc") as progress:
        for batch in chunked(encoded_records(), config.batch_size):
            summaries = generate_summaries(task, generator, models, encoder, [ex["source"] for _, ex in batch], use_cuda)
            for (record, example), summary in zip(batch, summaries):
                meta = example["meta"]
                out.write(json.dumps({
                    "id": record.id,
                    "summary": summary,
                    "retriever": meta["retriever"],
                    "passage_ids": meta["passage_ids"],
                    "n_source_tokens": meta["n_source_tokens"],
                }, ensure_ascii=False) + "\n")
            counts["summarized"] += len(batch)
            progress.update(len(batch))
    counts["skipped"] = policy.skipped
    policy.log_summary(logger, config.input)
    return counts


def generate_summaries(task, generator, models, encoder: ExampleEncoder, sources: List[List[int]],
                       use_cuda: bool) -> List[str]:
    """Beam search over one batch of source id lists; summaries in the order of ``sources``."""
    tokens = [torch.tensor(src, dtype=torch.long) for src in sources]
    dataset = task.build_dataset_for_inference(tokens, [len(t) for t in tokens])
    sample = dataset.collater([dataset[i] for i in range(len(dataset))])
    if use_cuda:
        sample = utils.move_to_cuda(sample)
    with torch.no_grad():
        hypos = task.inference_step(generator, models, sample)
    summaries = [""] * len(sources)
    for i, sample_id in enumerate(sample["id"].tolist()):
        summaries[sample_id] = encoder.decode(hypos[i][0]["tokens"], task.target_dictionary)
    return summaries

