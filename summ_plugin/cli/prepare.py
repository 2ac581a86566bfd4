"""summ-prepare: raw records -> retrieval -> GPT-2 BPE -> binarized fairseq data-bin.

    summ-prepare --input data/raw --destdir data-bin/demo \\
        --encoder-json encoder.json --vocab-bpe vocab.bpe --dict dict.txt \\
        --retriever bm25 --train-retriever oracle --workers 2

Prints the data path to give fairseq-train (``D`` or ``D/shard0:D/shard1:...``) on stdout.
"""
import argparse
import json
import os
import signal
import sys
from typing import List, Optional

from summ_plugin.cli import setup_logging

PROG = "summ-prepare"
# formats.FORMATS, spelt out so that --help does not import the data stack
INPUT_FORMATS = ("auto", "jsonl", "csv", "parquet", "cnndm-stories")


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
    io.add_argument("--format", default="auto", choices=INPUT_FORMATS,
                    help="input format: auto|jsonl|csv|parquet|cnndm-stories (default auto)")
    io.add_argument("--destdir", help="output data-bin directory")
    io.add_argument("--overwrite", action="store_true", help="replace an existing data-bin in --destdir")
    io.add_argument("--convert-only", metavar="OUT.jsonl",
                    help="only write the one input as canonical JSONL to OUT.jsonl and stop")
    io.add_argument("--shards", type=int, default=1,
                    help="spread the train split round-robin over N shard dirs (fairseq epoch sharding)")

    bpe = parser.add_argument_group("vocabulary")
    bpe.add_argument("--encoder-json", help="GPT-2 encoder.json")
    bpe.add_argument("--vocab-bpe", help="GPT-2 vocab.bpe")
    bpe.add_argument("--dict", dest="dict_path", help="fairseq dict.txt (of the model to fine-tune)")
    bpe.add_argument("--max-unk-rate", type=float, default=1.0, metavar="PERCENT",
                     help="stop when more than this percentage of tokens are <unk> (default 1): "
                     "the dictionary does not fit the BPE")

    ret = parser.add_argument_group("retrieval")
    ret.add_argument("--retriever", default=None,
                     help="retriever for valid/test; default: chosen on the valid split among lead "
                     "(truncation), a selector learned on the train split, and lead+learned hybrids "
                     "(the table and the choice are logged and kept in prepare.json)")
    ret.add_argument("--train-retriever",
                     help="retriever for the train split; default: oracle padded with random passages "
                     "(the published recipe)")
    ret.add_argument("--retriever-options", default="{}", help="JSON object of options for --retriever")
    ret.add_argument("--train-retriever-options", default=None,
                     help="JSON object of options for --train-retriever (default: --retriever-options "
                     "when both name the same retriever, else none)")
    ret.add_argument("--selector-train-records", type=int, default=200,
                     help="default retriever: train the selector on the first N train records")
    ret.add_argument("--selector-valid-records", type=int, default=200,
                     help="default retriever: score the candidates on the first N valid records")
    ret.add_argument("--split-mode", default="sentence", choices=("sentence", "paragraph", "window"),
                     help="how documents are cut into passages")
    ret.add_argument("--max-source-positions", type=int, default=1024)
    ret.add_argument("--max-target-positions", type=int, default=1024,
                     help="longer targets are truncated (counted in the log and prepare.json)")

    rec = parser.add_argument_group("records")
    rec.add_argument("--on-bad-record", default="error", choices=("error", "skip"),
                     help="error: stop at the first bad record; skip: list it in {split}.skipped.jsonl and go on")
    rec.add_argument("--allow-missing-summary", default="", metavar="SPLITS",
                     help="comma-separated splits whose records may lack a summary (only: test)")
    for name in ("id", "document", "documents", "query", "summary", "title"):
        rec.add_argument(f"--{name}-field", help=f"input field holding the {name} (default: detect the layout)")

    parser.add_argument("--workers", type=int, default=1, help="worker processes (output is identical for any N)")
    parser.add_argument("--log-level", default="INFO")
    return parser


def _json_option(parser, name: str, value: Optional[str]):
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as err:
        parser.error(f"{name}: not valid JSON ({err.msg})")
    if not isinstance(parsed, dict):
        parser.error(f"{name}: expected a JSON object, got {type(parsed).__name__}")
    return parsed


def _split_of(path: str) -> str:
    from summ_plugin.data.formats import SPLIT_STEMS, file_stem

    stem = file_stem(path)
    for split, stems in SPLIT_STEMS.items():
        if stem in stems:
            return split
    raise ValueError(stem)


def config_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace):
    from summ_plugin.data.formats import field_names_from_options
    from summ_plugin.data.prepare import PrepareConfig, find_split_inputs

    inputs = {}
    per_split = {s: getattr(args, s) for s in ("train", "valid", "test") if getattr(args, s)}
    if args.input and per_split:
        parser.error("give either --input or --train/--valid/--test, not both")
    if args.input:
        if os.path.isdir(args.input):
            inputs = find_split_inputs(args.input, args.format)
        else:
            for path in args.input.split(","):
                if not os.path.exists(path):
                    parser.error(f"--input {path}: not found")
                try:
                    inputs[_split_of(path)] = path
                except ValueError:
                    parser.error(f"--input {path}: cannot tell the split from the name (use train.*, valid.*, test.* or --train/--valid/--test)")
    else:
        inputs = per_split
    if not inputs:
        parser.error("no input: give --input DIR or --train/--valid/--test")

    fields = field_names_from_options(
        id=args.id_field, document=args.document_field, documents=args.documents_field,
        query=args.query_field, summary=args.summary_field, title=args.title_field,
    )
    if not args.convert_only:
        missing = [opt for opt, value in (("--destdir", args.destdir), ("--encoder-json", args.encoder_json),
                                          ("--vocab-bpe", args.vocab_bpe), ("--dict", args.dict_path)) if not value]
        if missing:
            parser.error(f"missing {', '.join(missing)}")
    return PrepareConfig(
        destdir=args.destdir or "",
        encoder_json=args.encoder_json or "",
        vocab_bpe=args.vocab_bpe or "",
        dict_path=args.dict_path or "",
        inputs=inputs,
        retriever=args.retriever,
        train_retriever=args.train_retriever,
        retriever_options=_json_option(parser, "--retriever-options", args.retriever_options),
        train_retriever_options=_json_option(parser, "--train-retriever-options", args.train_retriever_options),
        split_mode=args.split_mode,
        selector_train_records=args.selector_train_records,
        selector_valid_records=args.selector_valid_records,
        max_source_positions=args.max_source_positions,
        max_target_positions=args.max_target_positions,
        workers=args.workers,
        on_bad_record=args.on_bad_record,
        fields=fields,
        input_format=args.format,
        shards=args.shards,
        overwrite=args.overwrite,
        allow_missing_summary=tuple(s for s in args.allow_missing_summary.split(",") if s),
        max_unk_rate=args.max_unk_rate,
    )


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    from summ_plugin.data.prepare import PrepareError, convert_only, prepare_data_bin
    from summ_plugin.safe_io import exit_on_write_error

    previous_sigterm = _interrupt_on_sigterm()
    try:
        config = config_from_args(parser, args)
        if args.convert_only:
            count = convert_only(config, args.convert_only)
            print(f"wrote {count} records to {args.convert_only}")
            return 0
        print(prepare_data_bin(config))
    except PrepareError as err:
        sys.stderr.write(f"{PROG}: error: {err}\n")
        raise SystemExit(1)
    except KeyboardInterrupt:
        sys.stderr.write(f"{PROG}: interrupted; nothing was published\n")
        raise SystemExit(130)
    except OSError as err:
        exit_on_write_error(err, PROG, "nothing was published")
        raise
    finally:
        if previous_sigterm is not None:
            signal.signal(signal.SIGTERM, previous_sigterm)
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
    main()
