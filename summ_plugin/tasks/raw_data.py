"""DATA may be a raw directory of input splits (train/valid as JSONL, CSV, Parquet ...: what
``summ-prepare`` reads): prepare it once into a cached data-bin.

Every rank of a distributed run calls this; the cache takes a file lock, so one process
prepares while the others wait and then reuse the published data-bin.
"""
import dataclasses
import logging
import os

from fairseq import utils

from ..data.config import PrepareError
from ..data.formats import split_input_path
from ..numbers import find_non_finite

logger = logging.getLogger(__name__)

# The splits whose input makes a directory raw: the task trains on train and validates on valid.
RAW_DIRECTORY_SPLITS = ("train", "valid")


def is_raw_directory(path: str) -> bool:
    """A directory holding a train or valid input that summ-prepare reads (the rule of
    ``find_split_inputs``: any input format, ``valid`` also as ``validation``/``val``/``dev``)
    and no binarized dictionaries (``dict.source.txt``: a data-bin) is raw input."""
    if not os.path.isdir(path):
        return False
    if any(name.startswith("dict.") and name != "dict.txt" for name in os.listdir(path)):
        return False
    return any(split_input_path(path, split) is not None for split in RAW_DIRECTORY_SPLITS)


def raw_prepare_options(cfg) -> dict:
    raw_dir = utils.split_paths(cfg.data)[0]
    from ..data.formats.jsonl import JSONTextError, parse_json

    try:
        retriever_options = parse_json(cfg.retriever_options or "{}")
    except JSONTextError as err:
        raise PrepareError(f"--retriever-options is not valid JSON: {err.reason}") from None
    if not isinstance(retriever_options, dict):
        raise PrepareError(f"--retriever-options: expected a JSON object, got {type(retriever_options).__name__}")
    bad = find_non_finite(retriever_options)
    if bad:
        raise PrepareError(f"--retriever-options: {bad} is not a finite number of a usable size")
    return {
        "retriever": cfg.retriever,
        "train_retriever": cfg.train_retriever,
        "retriever_options": retriever_options,
        "split_mode": cfg.split_mode,
        "max_source_positions": cfg.max_source_positions,
        "max_target_positions": cfg.max_target_positions,
        "encoder_json": cfg.encoder_json or os.path.join(raw_dir, "encoder.json"),
        "vocab_bpe": cfg.vocab_bpe or os.path.join(raw_dir, "vocab.bpe"),
        "dict": cfg.dict_path or os.path.join(raw_dir, "dict.txt"),
        "workers": cfg.prepare_workers,
    }


# the task's settings that only a raw directory uses (a data-bin was prepared with its own)
RAW_ONLY_SETTINGS = ("retriever", "train_retriever", "retriever_options", "split_mode", "dict_path",
                     "raw_cache_dir", "prepare_workers")


def raw_only_settings_given(cfg) -> list:
    """The raw-directory settings of ``cfg`` that differ from the task's defaults."""
    from .retrieve_summarize import RetrieveSummarizeConfig  # cfg may be an omegaconf copy of it

    defaults = {f.name: f.default for f in dataclasses.fields(RetrieveSummarizeConfig)}
    return [name for name in RAW_ONLY_SETTINGS
            if name in defaults and getattr(cfg, name, defaults[name]) not in (defaults[name], None)]


def resolve_data_path(cfg, warn_unused: bool = True) -> str:
    """Return the data-bin path to train on: DATA itself, or the cached preparation of it.
    ``warn_unused``: a data-bin given with raw-directory settings logs a WARNING (they are not
    applied: the data-bin holds its own retrieval; not an error, since checkpoints store them)."""
    paths = utils.split_paths(cfg.data)
    if len(paths) != 1 or not is_raw_directory(paths[0]):
        given = raw_only_settings_given(cfg) if warn_unused else []
        if given:
            logger.warning("%s is a data-bin: %s apply only to a raw directory and are ignored (the data-bin "
                           "was prepared with its own; see its prepare.json)", cfg.data,
                           ", ".join("--" + name.replace("_", "-") for name in given))
        return cfg.data
    from ..data.cache import prepare_cached

    options = raw_prepare_options(cfg)
    logger.info(
        "%s is a raw directory: preparing with retriever=%s (train: %s), max_source_positions=%d",
        paths[0], options["retriever"] or "chosen on valid", options["train_retriever"] or "oracle pad=random",
        options["max_source_positions"],
    )
    try:
        data_bin = prepare_cached(paths[0], options, cache_root=cfg.raw_cache_dir)
    except OSError as err:
        # fairseq-train would print a traceback: one line naming the path instead
        # (a --raw-cache-dir that is a file, a read-only or full disk, a lock that is a directory)
        where = err.filename or cfg.raw_cache_dir or paths[0]
        raise PrepareError(f"{where}: cannot prepare the raw directory {paths[0]}: "
                           f"{err.strerror or err}") from None
    logger.info("training on the prepared data-bin %s", data_bin)
    return data_bin


def split_data_path(data: str, epoch: int) -> str:
    """The shard fairseq reads in this epoch (its own rule in TranslationTask.load_dataset)."""
    paths = utils.split_paths(data)
    return paths[(epoch - 1) % len(paths)]
