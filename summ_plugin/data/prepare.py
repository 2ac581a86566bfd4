"""Raw records -> retrieval -> GPT-2 BPE -> a binarized fairseq data-bin.

The output is fairseq's translation layout (``{split}.source-target.{source,target}.{bin,idx}``
in the mmap indexed format, ``dict.source.txt``, ``dict.target.txt``), so stock
``fairseq-train --task translation -s source -t target`` reads it as well as
``--task retrieve_summarize``. Next to it: ``{split}.meta.jsonl`` (one line per example, in
data-bin order) and ``prepare.json`` (options and per-split figures), written last.

Everything is built in ``DEST.tmp-<pid>`` and published with a rename, so a failed or
interrupted run never leaves a directory that looks complete.

Records stream through a worker pool (pool.py) in bounded, ordered chunks: memory does not
grow with the corpus, and the bytes written do not depend on the number of workers. Each
worker turns records into examples with an ExampleEncoder (encoder.py); a SplitWriter
(split_writer.py) writes them. This module is the driver: it checks the options, chooses
and resolves the retrievers, holds the destination lock and publishes the result.
"""
import hashlib
import json
import logging
import os
import shutil
from contextlib import closing
from dataclasses import replace
from typing import Dict, Iterator, List, Tuple

from tqdm import tqdm

from summ_plugin.atomic import directory_state, publish_directory
from summ_plugin.safe_io import DestinationBusyError, DestinationLock, check_outputs_are_not_inputs
from summ_plugin.data.bad_records import BAD_RECORD_MODES, BadRecordPolicy, with_duplicate_check
from summ_plugin.data.encoder import ExampleEncoder
from summ_plugin.data.formats import iter_input_records, split_input_path, write_canonical_jsonl
from summ_plugin.data.pool import OrderedPool, chunked, usable_workers
from summ_plugin.data.records import BadRecordError, Record
from summ_plugin.data.split_writer import SplitStats, SplitWriter
from summ_plugin.data.text import clean_record
from summ_plugin.data.data_bin import (
    PrepareManifest, PreparedBudget, RecordedFile, RetrieverSetting, SplitRecord,
    PREPARE_JSON, check_destination, data_path, shard_dirs, write_manifest,
)
from summ_plugin.data.config import SELECTOR_FILE, SOURCE_LANG, SPLITS, TARGET_LANG, PrepareConfig, PrepareError
from summ_plugin.numbers import find_non_finite, number_problem
from summ_plugin.retrieval.budget import RESERVED_TOKENS, SEPARATOR_TOKENS

logger = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- hashing


def sha256_path(path: str) -> str:
    """sha256 of a file, or of a directory's files (sorted relative names + contents)."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                digest.update(os.path.relpath(full, path).encode("utf-8") + b"\0")
                digest.update(sha256_path(full).encode("ascii"))
        return digest.hexdigest()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- input


def find_split_inputs(input_dir: str, input_format: str = "auto") -> Dict[str, str]:
    """``{split: path}`` for the splits present in a raw directory (data/formats' rules:
    ``train.jsonl``/``.csv``/``.parquet``..., ``valid`` also as ``validation``/``val``/``dev``)."""
    if not os.path.isdir(input_dir):
        raise PrepareError(f"{input_dir}: input directory not found")
    found = {}
    try:
        for split in SPLITS:
            path = split_input_path(input_dir, split, input_format)
            if path is not None:
                found[split] = path
    except BadRecordError as err:
        raise PrepareError(str(err)) from None
    if not found:
        raise PrepareError(f"{input_dir}: holds no input for train, valid or test (e.g. train.jsonl)")
    return found


def iter_split_records(path: str, config: PrepareConfig, split: str, require_summary: bool) -> Iterator[object]:
    """Record | BadRecordError for one split, in any input format (see data/formats)."""
    try:
        return iter_input_records(
            path, fmt=config.input_format, fields=config.fields, require_summary=require_summary, split=split
        )
    except BadRecordError as err:  # the input as a whole is unusable (InputFormatError)
        raise PrepareError(str(err)) from None


# ----------------------------------------------------------------------------- per-record work (runs in workers)

_WORKER: Dict[str, ExampleEncoder] = {}


def _init_worker(config: PrepareConfig) -> None:
    _WORKER["encoder"] = ExampleEncoder.from_config(config)


def _encode_chunk(task: Tuple[Tuple[str, Dict], bool, List[object]]) -> List[object]:
    """Worker entry: per item, ``([example, ...], cleaned)`` or the BadRecordError (it pickles as it is).

    Items are records or the errors found while reading them, passed through so that every
    outcome comes back in input order."""
    (name, options), use_reference, items = task
    encoder = _WORKER["encoder"]
    retriever = encoder.retriever(name, options)
    results: List[object] = []
    for item in items:
        if isinstance(item, Record):
            try:
                # training data: one example per reference (use_reference is "this is train")
                item = encoder.encode_all(item, retriever, use_reference, per_reference=use_reference)
            except BadRecordError as err:
                item = err
        results.append(item)
    return results


# ----------------------------------------------------------------------------- checks

# tokens seen before the <unk> rate is judged mid-split (the end of a split is always judged)
UNK_CHECK_MIN_TOKENS = 20000


def check_unk_rate(stats: SplitStats, split: str, config: PrepareConfig, final: bool) -> None:
    """Stop when the dictionary maps too many BPE tokens to <unk>.

    A dict.txt that does not fit encoder.json/vocab.bpe (empty, cut short, another corpus's)
    loads fine and turns most tokens into <unk>; the model would then train on noise.
    """
    if not final and stats.tokens < UNK_CHECK_MIN_TOKENS:
        return
    rate = stats.unk_rate_percent()
    if rate > config.max_unk_rate:
        raise PrepareError(
            f"{config.dict_path}: {rate:.1f}% of the {split} tokens ({stats.unk_tokens} of {stats.tokens}) "
            f"are <unk> with this dictionary (limit {config.max_unk_rate:g}%, --max-unk-rate): it does not "
            f"fit {config.encoder_json} / {config.vocab_bpe}; use the model's own dict.txt or make one "
            "with summ-make-vocab"
        )


# ----------------------------------------------------------------------------- driver


def validate_config(config: PrepareConfig) -> None:
    from summ_plugin import retrieval

    if not config.inputs:
        raise PrepareError("no input: give --input DIR or --train/--valid/--test files")
    unknown = set(config.inputs) - set(SPLITS)
    if unknown:
        raise PrepareError(f"unknown split(s) {sorted(unknown)}; expected train, valid, test")
    for split, path in config.inputs.items():
        if not os.path.exists(path):
            raise PrepareError(f"{path}: input file for split '{split}' not found")
    for split in config.allow_missing_summary:
        if split not in SPLITS:
            raise PrepareError(f"--allow-missing-summary: unknown split '{split}'")
        if split in ("train", "valid"):
            raise PrepareError(f"--allow-missing-summary {split}: train and valid need summaries")
    if config.on_bad_record not in BAD_RECORD_MODES:
        raise PrepareError(f"--on-bad-record must be error or skip, got {config.on_bad_record!r}")
    if config.max_source_positions <= RESERVED_TOKENS + SEPARATOR_TOKENS + 1:
        raise PrepareError(f"--max-source-positions {config.max_source_positions} is too small")
    if config.max_target_positions < 2:
        raise PrepareError(f"--max-target-positions {config.max_target_positions} is too small")
    if config.workers < 1:
        raise PrepareError(f"--workers must be >= 1, got {config.workers}")
    if config.shards < 1:
        raise PrepareError(f"--shards must be >= 1, got {config.shards}")
    if config.selector_train_records < 1 or config.selector_valid_records < 1:
        raise PrepareError("--selector-train-records and --selector-valid-records must be >= 1")
    if number_problem(config.max_unk_rate):  # NaN compares False: it would disable the check
        raise PrepareError(f"--max-unk-rate {config.max_unk_rate}: {number_problem(config.max_unk_rate)}")
    if config.max_unk_rate < 0:
        raise PrepareError(f"--max-unk-rate must be >= 0 (a percentage), got {config.max_unk_rate}")
    available = list(retrieval.available_retrievers())
    for split in config.inputs:
        name, _ = config.retriever_for(split)
        if name is None:
            continue  # chosen on the valid split before any record is encoded
        if name not in available:
            raise PrepareError(f"unknown retriever '{name}' (available: {', '.join(available)})")
        options = config.retriever_for(split)[1]
        bad = find_non_finite(options)
        if bad:
            raise PrepareError(f"retriever '{name}' option {bad} is not a finite number of a usable size")
        try:  # fail on bad --retriever-options now, not in a worker halfway through
            built = retrieval.build_retriever(name, **options)
        except (TypeError, ValueError, OSError) as err:
            raise PrepareError(f"retriever '{name}' with options {json.dumps(options)}: {err}") from None
        if built.needs_reference and split != "train":
            raise PrepareError(
                f"retriever '{name}' reads the reference summary and is for training data only; "
                f"split '{split}' needs another --retriever (use --train-retriever {name})"
            )


def _prepare_split(split: str, config: PrepareConfig, pool: OrderedPool, out_root: str, out_dirs: List[str], vocab_size: int, unk: int) -> Dict:
    path = config.inputs[split]
    require_summary = split not in config.allow_missing_summary
    name, options = config.retriever_for(split)
    logger.info("%s: %s, retriever %s %s, %d worker(s)", split, path, name, json.dumps(options, sort_keys=True), config.workers)

    items = with_duplicate_check(iter_split_records(path, config, split, require_summary))
    # only the training data's retriever may read the summary (the oracle)
    tasks = (((name, options), split == "train", chunk) for chunk in chunked(items))
    results_stream = pool.imap(_encode_chunk, tasks)
    with SplitWriter(split, out_dirs, vocab_size, unk, out_root) as writer, \
            tqdm(desc=f"summ-prepare {split}", unit="doc", mininterval=1.0) as progress, closing(results_stream):
        policy = BadRecordPolicy(config.on_bad_record, PrepareError, on_skip=writer.skip)
        for result in (r for results in results_stream for r in results):
            progress.update(1)
            if isinstance(result, BadRecordError):
                policy.handle(result)
                continue
            examples, cleaned = result
            for number, example in enumerate(examples):
                writer.add(example, cleaned and number == 0)
            check_unk_rate(writer.stats, split, config, final=False)
    stats = writer.stats
    if stats.examples == 0:
        raise PrepareError(f"{path}: no usable records for split '{split}'")
    check_unk_rate(stats, split, config, final=True)
    summary = stats.to_json()
    summary.update({"input": os.path.abspath(path), "input_sha256": sha256_path(path)})
    logger.info(
        "%s: %d examples, %d skipped%s, %d targets truncated to %d tokens, %d records cleaned "
        "(control characters / long runs), mean source %.1f tokens (max %d), coverage R1 %.4f R2 %.4f",
        split,
        stats.examples,
        stats.skipped,
        f" (listed in {split}.skipped.jsonl)" if stats.skipped else "",
        stats.targets_truncated,
        config.max_target_positions,
        stats.records_cleaned,
        summary["mean_source_tokens"],
        stats.max_source_tokens,
        summary.get("mean_rouge1_recall", float("nan")),
        summary.get("mean_rouge2_recall", float("nan")),
    )
    return summary


# the sample of the default's choice is drawn from at most this many records per record wanted
SAMPLE_SCAN_FACTOR = 100


def _sample_records(path: str, config: PrepareConfig, split: str, limit: int, seed: int = 0) -> List[Record]:
    """Up to ``limit`` usable records (with summaries) drawn across the split, cleaned as for
    encoding, in file order. Seeded: the same input gives the same sample.

    Drawn across documents, not from the head: a record's key is (how many earlier records had
    the same documents, a seeded random number), and the ``limit`` smallest keys are kept, so
    every document gets one record before any gets a second (a corpus of five questions per
    story trains on many stories, not on the first forty). Streaming, one pass over at most
    ``SAMPLE_SCAN_FACTOR * limit`` records; memory holds the sample and one hash per document.
    """
    import heapq
    import random

    rng = random.Random(f"{seed}:{split}")
    seen_documents: Dict[str, int] = {}
    heap: List[Tuple[Tuple[int, float, int], int, Record]] = []  # max-heap on the key (negated)
    scanned = 0
    for item in iter_split_records(path, config, split, require_summary=True):
        if scanned >= SAMPLE_SCAN_FACTOR * limit:
            break
        scanned += 1
        if not isinstance(item, Record):
            continue
        digest = hashlib.sha1("\0".join(item.documents).encode("utf-8", "surrogatepass")).hexdigest()
        earlier = seen_documents.get(digest, 0)
        seen_documents[digest] = earlier + 1
        key = (earlier, rng.random(), scanned)
        if len(heap) < limit:
            heapq.heappush(heap, ((-key[0], -key[1], -key[2]), scanned, item))
        elif key < (-heap[0][0][0], -heap[0][0][1], -heap[0][0][2]):
            heapq.heapreplace(heap, ((-key[0], -key[1], -key[2]), scanned, item))
    records = []
    for _, _, item in sorted(heap, key=lambda entry: entry[1]):
        record, _ = clean_record(item)
        if any(d.strip() for d in record.documents) and record.summary and record.summary.strip():
            records.append(record)
    return records


def choose_default_retriever(config: PrepareConfig, out_dir: str, encoder: ExampleEncoder):
    """The retriever for valid/test when none was given: see summ_plugin.retrieval.choice."""
    from summ_plugin.retrieval.choice import Choice, choose_retriever

    train_path = config.inputs.get("train")
    if train_path is None:
        return Choice("lead", {}, [], "no train split with summaries to learn from: lead (truncation)")
    train = _sample_records(train_path, config, "train", config.selector_train_records)
    if "valid" in config.inputs:
        held_out = _sample_records(config.inputs["valid"], config, "valid", config.selector_valid_records)
    else:  # no valid split: score on every fifth training record, train on the others
        held_out, train = train[4::5], [r for i, r in enumerate(train) if i % 5 != 4]
    info = {"input_sha256": sha256_path(train_path), "records": len(train)}
    return choose_retriever(train, held_out, encoder.budget(), os.path.join(out_dir, SELECTOR_FILE), info,
                            config.workers)


def resolve_retrievers(config: PrepareConfig, out_dir: str, encoder: ExampleEncoder) -> Tuple[PrepareConfig, Dict]:
    """Fill in the default retriever and copy every selector file the retrievers use into
    ``out_dir`` (the data-bin holds what it was made with). Returns the config the workers
    use and how the valid/test retriever was chosen (prepare.json's ``default_choice``)."""
    if config.retriever is None:
        choice = choose_default_retriever(config, out_dir, encoder)
        if not choice.table:
            logger.info("retriever: %s", choice.reason)
        config = replace(config, retriever=choice.retriever, retriever_options=dict(choice.options))
        default_choice = {"reason": choice.reason, "candidates": choice.table}
    else:
        default_choice = {"reason": "given with --retriever"}
    for which, options_field, file_name in (("retriever", "retriever_options", SELECTOR_FILE),
                                            ("train_retriever", "train_retriever_options", "train." + SELECTOR_FILE)):
        options = getattr(config, options_field)
        selector = (options or {}).get("selector")
        if not selector or os.path.dirname(os.path.abspath(selector)) == os.path.abspath(out_dir):
            continue
        if not os.path.isfile(selector):
            what = "is a directory" if os.path.isdir(selector) else \
                "not a regular file" if os.path.exists(selector) else "no such file"
            raise PrepareError(f"{selector}: --{options_field.replace('_', '-')} selector: {what}")
        copy = os.path.join(out_dir, file_name)
        shutil.copyfile(selector, copy)
        config = replace(config, **{options_field: dict(options, selector=copy)})
    return config, default_choice


# PrepareConfig fields that prepare.json records elsewhere (budget, retrievers, files, splits)
# or that say nothing about the data (where it went, whether it replaced an older one)
_RECORDED_ELSEWHERE = ("destdir", "inputs", "encoder_json", "vocab_bpe", "dict_path", "retriever",
                       "retriever_options", "train_retriever", "train_retriever_options", "split_mode",
                       "max_source_positions", "max_target_positions", "shards", "overwrite")


def build_manifest(config: PrepareConfig, default_choice: Dict, splits: Dict[str, Dict],
                   dictionary_size: int) -> PrepareManifest:
    """The record of a finished run (``config`` with its retrievers resolved)."""
    def recorded(path: str) -> RecordedFile:
        return RecordedFile(os.path.abspath(path), sha256_path(path))

    return PrepareManifest(
        budget=PreparedBudget(config.max_source_positions, config.max_target_positions, RESERVED_TOKENS,
                              SEPARATOR_TOKENS, config.split_mode),
        retrievers={split: RetrieverSetting(*config.retriever_for(split)) for split in SPLITS if split in splits},
        encoder_json=recorded(config.encoder_json), vocab_bpe=recorded(config.vocab_bpe),
        dictionary=recorded(config.dict_path), dictionary_size=dictionary_size, shards=config.shards,
        splits={split: SplitRecord(info["input"], info["input_sha256"],
                                   {k: v for k, v in info.items() if k not in ("input", "input_sha256")})
                for split, info in splits.items()},
        default_choice=default_choice,
        options={k: v for k, v in config.to_json().items() if k not in _RECORDED_ELSEWHERE})


def files_read(config: PrepareConfig) -> List[Tuple[str, str]]:
    """(option, path) of every file a run reads: the split inputs, the BPE and dictionary, selectors."""
    files = [(f"--{split}", path) for split, path in config.inputs.items()]
    files += [("--encoder-json", config.encoder_json), ("--vocab-bpe", config.vocab_bpe), ("--dict", config.dict_path)]
    for option in ("retriever_options", "train_retriever_options"):
        selector = (getattr(config, option) or {}).get("selector")
        if isinstance(selector, str):
            files.append((f"--{option.replace('_', '-')} selector", selector))
    return [(label, path) for label, path in files if path]


def prepare_data_bin(config: PrepareConfig) -> str:
    """Build the data-bin described by ``config``; return the data path for fairseq-train."""
    validate_config(config)
    # a symlinked --destdir (data on another disk): the data-bin it names is replaced, the link kept
    dest = os.path.realpath(config.destdir)
    # the destination is built whole: it must not be, hold or lie inside anything read
    # (summ-prepare's command line checks the same; this guards every other caller)
    check_outputs_are_not_inputs(files_read(config), [], [("--destdir", dest)])
    # one writer per destination: a second summ-prepare on the same --destdir stops here
    try:
        with DestinationLock(f"{dest}.summ-prepare"):
            return _prepare_locked(config, dest)
    except DestinationBusyError as err:
        raise PrepareError(str(err)) from None


def _prepare_locked(config: PrepareConfig, dest: str) -> str:
    from summ_plugin.data.bpe import BPEFileError, check_dictionary_matches_bpe

    check_destination(dest, config.overwrite)
    config = replace(config, workers=usable_workers(config.workers))
    state_at_start = directory_state(dest, PREPARE_JSON)
    try:
        encoder = ExampleEncoder.from_config(config)  # fail before any work, naming the file
        dictionary = encoder.dictionary
        check_dictionary_matches_bpe(dictionary, encoder.bpe, config.dict_path)
    except BPEFileError as err:
        raise PrepareError(str(err)) from None
    logger.info(
        "budget: max_source_positions %d (reserved %d, query separator %d), max_target_positions %d, split mode %s",
        config.max_source_positions,
        RESERVED_TOKENS,
        SEPARATOR_TOKENS,
        config.max_target_positions,
        config.split_mode,
    )
    logger.info("dictionary %s: %d entries; %d worker(s); %d shard(s)", config.dict_path, len(dictionary), config.workers, config.shards)

    # built in DEST.tmp-PID, renamed into place (replacing only the data-bin checked above)
    with publish_directory(dest, state_at_start, PREPARE_JSON) as tmp:
        dirs = shard_dirs(tmp, config.shards)
        for out_dir in dirs:
            os.makedirs(out_dir, exist_ok=True)
            for lang in (SOURCE_LANG, TARGET_LANG):
                shutil.copyfile(config.dict_path, os.path.join(out_dir, f"dict.{lang}.txt"))
        config, default_choice = resolve_retrievers(config, tmp, encoder)
        splits = {}
        with OrderedPool(config.workers, _init_worker, (config,)) as pool:
            for split in SPLITS:
                if split not in config.inputs:
                    continue
                # train is spread over the shards; valid/test go whole into the first and are copied
                targets = dirs if split == "train" else dirs[:1]
                splits[split] = _prepare_split(split, config, pool, tmp, targets, len(dictionary), dictionary.unk())
                if split == "train" and splits[split]["examples"] < config.shards:
                    # an empty shard passes now and crashes fairseq-train epochs later (empty mmap)
                    raise PrepareError(
                        f"--shards {config.shards}: the train split has only {splits[split]['examples']} "
                        "examples, so some shards would be empty; use fewer shards"
                    )
                if split != "train":
                    for other in dirs[1:]:
                        for name in os.listdir(dirs[0]):
                            if name.startswith(split + "."):
                                shutil.copyfile(os.path.join(dirs[0], name), os.path.join(other, name))
        path = data_path(dest, config.shards)
        # last file written: its presence marks a complete data-bin
        write_manifest(tmp, build_manifest(config, default_choice, splits, len(dictionary)))
    logger.info("wrote %s; fairseq-train data path: %s", dest, path)
    return path


def convert_only(config: PrepareConfig, out_path: str) -> int:
    """Write the canonical JSONL of the one input (any format) and return the record count."""
    if len(config.inputs) != 1:
        raise PrepareError(f"--convert-only takes exactly one input, got {len(config.inputs)} ({', '.join(config.inputs)})")
    ((split, path),) = config.inputs.items()
    require_summary = split not in config.allow_missing_summary
    policy = BadRecordPolicy(config.on_bad_record, PrepareError)
    records = with_duplicate_check(iter_split_records(path, config, split, require_summary))
    count = write_canonical_jsonl(policy.records(records), out_path)
    policy.log_summary(logger, path)
    return count
