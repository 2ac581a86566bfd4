"""summ-prepare: raw records -> retrieval -> GPT-2 BPE -> binarized fairseq data-bin.

    summ-prepare --input data/raw --destdir data-bin/demo \\
        --encoder-json encoder.json --vocab-bpe vocab.bpe --dict dict.txt \\
        --retriever bm25 --train-retriever oracle --workers 2

Prints the data path to give fairseq-train (``D`` or ``D/shard0:D/shard1:...``) on stdout.
"""
import argparse
import os
import signal
from typing import List, Optional

from summ_plugin.cli.common import (FileOptions, add_dataclass_arguments, add_log_level_option, add_record_options,
                                    dataclass_values, record_fields, run_main)
from summ_plugin.data.config import PrepareConfig

PROG = "summ-prepare"
# PrepareConfig fields that are not options of their own: built from --input/--train/... and --*-field
NOT_OPTIONS = ("inputs", "fields")


def _selectors(args: argparse.Namespace):
    """Selector files named in --retriever-options / --train-retriever-options: inputs too."""
    reads = []
    for option in ("retriever_options", "train_retriever_options"):
        selector = (getattr(args, option, None) or {}).get("selector")
        if isinstance(selector, str):
            reads.append((f"--{option.replace('_', '-')} selector", selector))
    return reads, []


# --destdir is built whole: it must not be, hold or lie inside an input (nor --convert-only)
FILES = FileOptions(reads=("input", "train", "valid", "test", "encoder_json", "vocab_bpe", "dict_path"), reads_whole=("input",),
                    writes=("convert_only",), writes_dirs=("destdir",), comma_separated=("input",), more=_selectors)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Retrieve passages that fit BART's source, BPE-encode and binarize them for fairseq.",
    )
    io = parser.add_argument_group("input and output")
    io.add_argument("--input", help="directory holding train/valid/test inputs (train.jsonl, ...), "
                    "or comma-separated files named by split (train.jsonl,valid.jsonl)")
    io.add_argument("--train", help="train split input file (instead of --input)")
    io.add_argument("--valid", help="valid split input file")
    io.add_argument("--test", help="test split input file")
    io.add_argument("--convert-only", metavar="OUT.jsonl",
                    help="only write the one input as canonical JSONL to OUT.jsonl and stop")
    # destdir, encoder_json, vocab_bpe, dict_path have no default; --convert-only needs none of them
    add_dataclass_arguments(io, PrepareConfig, include=("destdir", "overwrite", "shards"), required=False)
    add_dataclass_arguments(parser.add_argument_group("vocabulary"), PrepareConfig,
                            include=("encoder_json", "vocab_bpe", "dict_path", "max_unk_rate"),
                            names={"dict_path": "--dict"}, required=False)
    add_dataclass_arguments(parser.add_argument_group("retrieval"), PrepareConfig, include=(
        "retriever", "train_retriever", "retriever_options", "train_retriever_options", "selector_train_records",
        "selector_valid_records", "split_mode", "max_source_positions", "max_target_positions"))
    records = parser.add_argument_group("records")
    add_record_options(records)
    add_dataclass_arguments(records, PrepareConfig, include=("allow_missing_summary",))
    add_dataclass_arguments(parser, PrepareConfig, include=("workers",))
    add_log_level_option(parser)
    return parser


def _split_of(path: str) -> str:
    from summ_plugin.data.formats import SPLIT_STEMS, file_stem

    stem = file_stem(path)
    for split, stems in SPLIT_STEMS.items():
        if stem in stems:
            return split
    raise ValueError(stem)


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace):
    from summ_plugin.data.prepare import find_split_inputs

    inputs = {}
    per_split = {s: getattr(args, s) for s in ("train", "valid", "test") if getattr(args, s)}
    if args.input and per_split:
        parser.error("give either --input or --train/--valid/--test, not both")
    if args.input:
        if os.path.isdir(args.input):
            inputs = find_split_inputs(args.input, args.input_format)
        else:
            for path in args.input.split(","):
                if not os.path.exists(path):
                    parser.error(f"--input {path}: not found")
                try:
                    split = _split_of(path)
                except ValueError:
                    parser.error(f"--input {path}: cannot tell the split from the name (use train.*, valid.*, test.* or --train/--valid/--test)")
                if split in inputs:  # the later one would silently replace the earlier
                    parser.error(f"--input: {inputs[split]} and {path} are both the {split} split; give one file per split")
                inputs[split] = path
    else:
        inputs = per_split
    if not inputs:
        parser.error("no input: give --input DIR or --train/--valid/--test")

    if not args.convert_only:
        missing = [opt for opt, value in (("--destdir", args.destdir), ("--encoder-json", args.encoder_json),
                                          ("--vocab-bpe", args.vocab_bpe), ("--dict", args.dict_path)) if not value]
        if missing:
            parser.error(f"missing {', '.join(missing)}")
    values = dataclass_values(args, PrepareConfig, exclude=NOT_OPTIONS)
    for name in ("destdir", "encoder_json", "vocab_bpe", "dict_path"):
        values[name] = values[name] or ""
    return PrepareConfig(inputs=inputs, fields=record_fields(args), **values)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    previous_sigterm = _interrupt_on_sigterm()
    try:
        return run_main(parser, argv, lambda args: _run(parser, args), files=FILES,
                        consequence="nothing was published")
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from summ_plugin.data.prepare import convert_only, prepare_data_bin

    config = config_from_args(parser, args)
    convert_to = args.convert_only
    if convert_to:
        count = convert_only(config, convert_to)
        print(f"wrote {count} records to {convert_to}")
        return 0
    print(prepare_data_bin(config))
    return 0


def _interrupt_on_sigterm():
    """SIGTERM (kill, a batch scheduler) unwinds like Ctrl-C, so the temporary directory is
    removed; Python's default would end the process with no clean-up at all. Returns the
    previous handler (None where signals cannot be set: outside the main thread)."""
    import threading

    def handler(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    raise SystemExit(main())
