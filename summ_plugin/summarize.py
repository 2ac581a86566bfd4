"""summ-summarize's engine: inference on raw documents with a fairseq checkpoint.

:class:`summ_plugin.summarizer.Summarizer` is the one inference path; this module loads a
checkpoint for it (:func:`load_for_inference`: the model, the data-bin it was trained on, the
retrieval and generation settings recorded there) and is the file-to-file driver of
summ-summarize (:func:`summarize_file`). Each record goes through ``ExampleEncoder.encode``
(summ_plugin.data.encoder, what summ-prepare uses), so a document is cleaned, cut, scored and
budgeted exactly as the model saw it in training, without the reference; the selected source
is batched and decoded with fairseq's SequenceGenerator, and the output ids are turned into
text by the same encoder's BPE.
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
from .generation_settings import GenerationOptions, validated_generation_settings
from .data.bad_records import BadRecordPolicy, with_duplicate_check
from .data.encoder import ExampleEncoder
from .data.pool import chunked
from .data.data_bin import DataBin, DataBinError
from .data.records import BadRecordError, FieldNames
from .data.formats import iter_input_records
from .retrieval.passages import SPLIT_MODES
from .summarizer import (InferenceSetup, SummarizeError, Summarizer, check_generation_options, choose_device,
                         choose_retriever, choose_source_budget, details)

logger = logging.getLogger(__name__)


@dataclass
class CheckpointRequest:
    """What :meth:`Summarizer.from_checkpoint` is given (SummarizeConfig has the same fields)."""

    checkpoint: str
    data_bin: Optional[str] = None
    encoder_json: Optional[str] = None
    vocab_bpe: Optional[str] = None
    allow_bpe_mismatch: bool = False
    retriever: Optional[str] = None
    retriever_options: Optional[Dict] = None
    split_mode: Optional[str] = None
    max_source_positions: Optional[int] = None


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
    """The options given on the command line, checked before any work (the model's own
    settings fill the rest and are checked with them once the checkpoint is read)."""
    check_generation_options(options, batch_size)


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


def source_budget(config, data_bin: DataBin, model_positions: int) -> int:
    """The retrieval budget: --max-source-positions, else the data-bin's; never more than
    the model's learned positions (a longer source would not fit the model)."""
    prepared = data_bin.budget.max_source_positions if data_bin.budget is not None else None
    return choose_source_budget(config.max_source_positions, prepared, model_positions, config.checkpoint,
                                data_bin.root)


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
    retriever, retriever_options = choose_retriever(config.retriever, config.retriever_options, recorded.name,
                                                    recorded.options, record)
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
        "retriever": retriever,
        "retriever_options": retriever_options,
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


def load_model(config, device: str = "cpu", fp16: bool = False):
    """The checkpoint's models (eval mode, on ``device``), cfg and task, and the data path it
    was trained on. ``config``: a CheckpointRequest or SummarizeConfig."""
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
    for model in models:
        model.eval()
        if fp16:
            model.half()
        model.to(device)
    return models, cfg, task, trained_data


def load_for_inference(summarizer_class, request, device: str, fp16: bool) -> Summarizer:
    """A Summarizer over the checkpoint of ``request`` (a CheckpointRequest or SummarizeConfig)."""
    models, cfg, task, trained_data = load_model(request, device, fp16)
    # what the model can read: its learned positions (extended ones included), capped by the task's
    model_positions = min([int(cfg.task.max_source_positions)] + [int(m.max_positions()[0]) for m in models])
    # task.cfg, not cfg.task: for a model trained on a raw directory, setup_task has replaced
    # its data path with the prepared data-bin (dictionary, prepare.json)
    task_cfg = getattr(task, "cfg", cfg.task)
    settings = resolve_inference_settings(request, task_cfg, model_positions)
    check_dictionary_is_the_models(models, trained_data, settings)
    validated, source = validated_generation_settings(getattr(task_cfg, "eval_rouge_args", None))
    encoder = ExampleEncoder(settings["encoder_json"], settings["vocab_bpe"], settings["dict_path"],
                             max_source_positions=settings["max_source_positions"],
                             split_mode=settings["split_mode"])
    setup = InferenceSetup(model=request.checkpoint, retriever=settings["retriever"],
                           retriever_options=settings["retriever_options"], split_mode=settings["split_mode"],
                           max_source_positions=settings["max_source_positions"],
                           generation=GenerationOptions(**validated), generation_source=source)
    return summarizer_class(encoder, FairseqGeneration(task, models, device), setup,
                            decode_dictionary=task.target_dictionary)


class FairseqGeneration:
    """fairseq's SequenceGenerator over batches of source ids (one generator per setting)."""

    def __init__(self, task, models, device: str):
        self.task, self.models, self.device = task, models, device
        self._generators: Dict[tuple, object] = {}

    def __call__(self, sources: List[List[int]], options: GenerationOptions) -> List[List[int]]:
        key = tuple(sorted(options.to_dict().items()))
        if key not in self._generators:
            self._generators[key] = self.task.build_generator(self.models, Namespace(**options.to_dict()))
        return generate_ids(self.task, self._generators[key], self.models, sources, self.device)


def summarize_file(config: SummarizeConfig) -> Dict[str, int]:
    """Summarize every record of ``config.input`` into ``config.output`` (JSONL, atomic)."""
    check_output_is_not_input(config.input, config.output)
    validate_generation_options(config.generation, config.batch_size)
    device = "cuda" if torch.cuda.is_available() and not config.cpu else "cpu"
    device, fp16 = choose_device(device, config.fp16)
    summarizer = load_for_inference(Summarizer, config, device, fp16)
    options = summarizer.resolve(**config.generation.to_dict())
    setup = summarizer.setup
    logger.info("retriever %s (options %s), split mode %s, source budget %d tokens; generation %s (%s for what "
                "was not given)", setup.retriever, setup.retriever_options, setup.split_mode,
                setup.max_source_positions, options.to_dict(), setup.generation_source)
    counts = {"summarized": 0}
    policy = BadRecordPolicy(config.on_bad_record, SummarizeError)

    def encoded_records():
        records = iter_input_records(config.input, config.input_format, config.fields, require_summary=False)
        for record in policy.records(with_duplicate_check(records)):
            try:
                example = summarizer.encode(record)
            except BadRecordError as err:
                policy.handle(err)
                continue
            yield record, example

    with atomic_output(config.output) as out, tqdm(desc="summ-summarize", unit="doc") as progress:
        for batch in chunked(encoded_records(), config.batch_size):
            summaries = summarizer.generate([example["source"] for _, example in batch], options)
            for (record, example), summary in zip(batch, summaries):
                out.write(json.dumps(details(record, example, summary), ensure_ascii=False) + "\n")
            counts["summarized"] += len(batch)
            progress.update(len(batch))
    counts["skipped"] = policy.skipped
    policy.log_summary(logger, config.input)
    return counts


def generate_ids(task, generator, models, sources: List[List[int]], device: str) -> List[List[int]]:
    """Search over one batch of source id lists: the best hypothesis' ids, in the order of ``sources``."""
    tokens = [torch.tensor(src, dtype=torch.long) for src in sources]
    dataset = task.build_dataset_for_inference(tokens, [len(t) for t in tokens])
    sample = dataset.collater([dataset[i] for i in range(len(dataset))])
    sample = utils.apply_to_sample(lambda tensor: tensor.to(device), sample)
    with torch.no_grad():
        hypos = task.inference_step(generator, models, sample)
    best: List[List[int]] = [[] for _ in sources]
    for i, sample_id in enumerate(sample["id"].tolist()):
        best[sample_id] = hypos[i][0]["tokens"].tolist()
    return best
