"""Prepare a raw directory once and reuse the data-bin: what ``--task retrieve_summarize``
calls when its data path holds raw records instead of a data-bin.

The cache key is the sha256 of the prepare options and of every input file (name, size,
content sha256), so changing an option, a record, the BPE or the dictionary gives a new
data-bin and never a stale one. A file lock around check-and-prepare makes concurrent
callers (distributed ranks, two jobs) wait for the one that prepares, then reuse its
output; the data-bin itself is published with a rename, so it is never seen half-written.
"""
import hashlib
import json
import logging
import os
import shutil
from dataclasses import fields as dataclass_fields
from typing import Dict, Optional

from filelock import FileLock

from summ_plugin.data.config import PrepareConfig, PrepareError
from summ_plugin.data.data_bin import PREPARE_JSON, DataBin, data_path
from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin, sha256_path
from summ_plugin.data.records import FieldNames
from summ_plugin.safe_io import remove_stale_temps

logger = logging.getLogger(__name__)

CACHE_ENV = "SUMM_PLUGIN_CACHE"
CACHE_DIRNAME = ".summ_cache"
# options that say where or how fast, not what: they do not change the bytes written
_NOT_IN_KEY = {"workers", "destdir", "overwrite", "max_unk_rate"}
_DEFAULT_FILES = {"encoder_json": "encoder.json", "vocab_bpe": "vocab.bpe", "dict": "dict.txt"}


def _config_from_options(raw_dir: str, options: Dict, destdir: str) -> PrepareConfig:
    allowed = {f.name for f in dataclass_fields(PrepareConfig)} - {"destdir", "inputs", "dict_path", "overwrite"}
    allowed |= {"dict"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise PrepareError(f"unknown prepare option(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
    opts = dict(options)
    for key, default_name in _DEFAULT_FILES.items():
        if not opts.get(key):
            opts[key] = os.path.join(raw_dir, default_name)
        opts[key] = os.path.abspath(opts[key])
        if not os.path.isfile(opts[key]):
            raise PrepareError(f"{opts[key]}: {default_name} not found (set option '{key}' or put {default_name} in {raw_dir})")
    if isinstance(opts.get("fields"), dict):
        opts["fields"] = FieldNames(**opts["fields"])
    if "allow_missing_summary" in opts:
        opts["allow_missing_summary"] = tuple(opts["allow_missing_summary"])
    dict_path = opts.pop("dict")
    inputs = find_split_inputs(raw_dir, opts.get("input_format", "auto"))
    for split in ("train", "valid"):
        if split not in inputs:
            raise PrepareError(f"{raw_dir}: no {split} input (expected e.g. {split}.jsonl or {split}.csv)")
    return PrepareConfig(destdir=destdir, dict_path=dict_path, inputs=inputs, overwrite=False, **opts)


def cache_key(config: PrepareConfig) -> str:
    """sha256 over the options that shape the output and the input files' name, size, content."""
    options = {k: v for k, v in config.to_json().items() if k not in _NOT_IN_KEY and k != "inputs"}
    files = dict(config.inputs)
    files.update({"encoder_json": config.encoder_json, "vocab_bpe": config.vocab_bpe, "dict": config.dict_path})
    # a retriever option naming a file (the learned selector) shapes the output by its content
    for which, opts in (("retriever", config.retriever_options), ("train_retriever", config.train_retriever_options)):
        for key, value in sorted((opts or {}).items()):
            if isinstance(value, str) and os.path.isfile(value):
                files[f"{which}_options.{key}"] = value
    described = {}
    for role, path in sorted(files.items()):
        size = os.path.getsize(path) if os.path.isfile(path) else None
        described[role] = {"name": os.path.basename(path), "size": size, "sha256": sha256_path(path)}
    payload = json.dumps({"options": options, "files": described}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def reuse(target: str, config: PrepareConfig) -> str:
    """The data path of the cached data-bin ``target``, once its record says it was prepared
    with ``config``'s BPE files: the key names their content, so another record means a cache
    entry that was copied, edited or written by something else; never trained on silently."""
    from summ_plugin.data.bpe_record import check_against_record

    data_bin = DataBin.read(target)
    for role, path in (("encoder_json", config.encoder_json), ("vocab_bpe", config.vocab_bpe)):
        check_against_record(data_bin, role, path, option=f"option '{role}'")
    return data_path(target, config.shards)


def default_cache_root(raw_dir: str) -> str:
    return os.environ.get(CACHE_ENV) or os.path.join(raw_dir, CACHE_DIRNAME)


def prepare_cached(raw_dir: str, options: Dict, cache_root: Optional[str] = None) -> str:
    """Return the data path (a data-bin directory; ``:``-joined shards when ``shards`` > 1) for ``raw_dir`` prepared with ``options``, building it once.

    ``options`` are :class:`PrepareConfig` fields (``retriever``, ``train_retriever``,
    ``max_source_positions``, ...); ``encoder_json``, ``vocab_bpe`` and ``dict`` default to
    ``encoder.json``, ``vocab.bpe`` and ``dict.txt`` inside ``raw_dir``.
    Cache root: ``cache_root``, else ``$SUMM_PLUGIN_CACHE``, else ``RAW_DIR/.summ_cache``.
    """
    raw_dir = os.path.abspath(raw_dir)
    root = os.path.abspath(cache_root or default_cache_root(raw_dir))
    config = _config_from_options(raw_dir, options, destdir="")
    key = cache_key(config)
    target = os.path.join(root, key)
    os.makedirs(root, exist_ok=True)
    complete = os.path.join(target, PREPARE_JSON)
    if os.path.exists(complete):
        logger.info("reusing cached data-bin %s for %s", target, raw_dir)
        return reuse(target, config)
    with FileLock(os.path.join(root, key + ".lock")):
        # another process may have finished while this one waited for the lock
        if os.path.exists(complete):
            logger.info("reusing cached data-bin %s for %s (prepared by another process)", target, raw_dir)
            return reuse(target, config)
        # debris of killed runs for any key (their PIDs are gone); live writers are left alone
        remove_stale_temps(root)
        logger.info("no cached data-bin for %s with these options; preparing %s", raw_dir, target)
        if os.path.exists(target):
            # no prepare.json: debris of a killed run of an older or foreign writer
            # (summ-prepare's own tmp-and-rename never leaves one); rebuild it
            shutil.rmtree(target)
        config.destdir = target
        return prepare_data_bin(config)
