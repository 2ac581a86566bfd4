"""summ-make-vocab: a GPT-2-format BPE and a fairseq dict.txt from raw records.

    # train a small byte-level BPE on the corpus (the demo / tests), then count dict.txt
    summ-make-vocab --input data/sample/train.jsonl,data/sample/valid.jsonl --vocab-size 4000 --out vocab/

    # keep an existing BPE (the real GPT-2 files) and only count a dict.txt with it
    summ-make-vocab --input train.jsonl --encoder-json encoder.json --vocab-bpe vocab.bpe --out vocab/

Texts used: every document, query, title and summary, cleaned as summ-prepare cleans them.
"""
import argparse
import logging
import os
import shutil
from typing import Iterator, List, Optional

from tqdm import tqdm

from summ_plugin.cli.common import FileOptions, add_log_level_option, add_record_options, record_fields, run_main
from summ_plugin.errors import UserError

PROG = "summ-make-vocab"
logger = logging.getLogger("summ_plugin.cli.make_vocab")


class VocabError(UserError):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="comma-separated input files (any summ-prepare format)")
    parser.add_argument("--out", required=True, help="output directory for encoder.json, vocab.bpe, dict.txt")
    parser.add_argument("--overwrite", action="store_true", help="replace the vocabulary files already in --out")
    parser.add_argument("--vocab-size", type=int, help="train a byte-level BPE of this many tokens")
    parser.add_argument("--min-frequency", type=int, default=2, help="BPE merges need a pair seen this often "
                        "(0 or more)")
    parser.add_argument("--encoder-json", help="use this existing BPE instead of training one (with --vocab-bpe)")
    parser.add_argument("--vocab-bpe", help="use this existing BPE instead of training one (with --encoder-json)")
    add_record_options(parser)
    add_log_level_option(parser)
    return parser


def iter_texts(paths: List[str], fmt: str, on_bad_record: str, fields=None) -> Iterator[str]:
    from summ_plugin.data.bad_records import BadRecordPolicy
    from summ_plugin.data.formats import iter_input_records
    from summ_plugin.data.records import BadRecordError
    from summ_plugin.data.text import clean_text, target_text

    for path in paths:
        try:
            records = iter_input_records(path, fmt=fmt, fields=fields, require_summary=False)
        except BadRecordError as err:
            raise VocabError(str(err)) from None
        policy = BadRecordPolicy(on_bad_record, VocabError)
        for item in policy.records(records):
            for doc in item.documents:
                yield clean_text(doc)
            for extra in (item.query, item.title):
                if extra:
                    yield clean_text(extra)
            for reference in item.references:
                if reference:
                    yield target_text(clean_text(reference))
        policy.log_summary(logger, path)


VOCAB_FILES = ("encoder.json", "vocab.bpe", "dict.txt")


def _vocab_files(args: argparse.Namespace):
    """What --out receives: dict.txt, and the BPE files unless they are the given ones (kept)."""
    from summ_plugin.safe_io import same_file

    writes = []
    for name, given in (("encoder.json", args.encoder_json), ("vocab.bpe", args.vocab_bpe), ("dict.txt", None)):
        path = os.path.join(args.out, name)
        if not (given and same_file(given, path)):
            writes.append(("--out", path))
    return [], writes


FILES = FileOptions(reads=("input", "encoder_json", "vocab_bpe"), comma_separated=("input",), more=_vocab_files)


def check_output_dir(out_dir: str, overwrite: bool) -> None:
    """--out must be a directory (or not exist yet); a vocabulary already there is replaced
    only with --overwrite (data-bins and models made with it would no longer match)."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise VocabError(f"--out {out_dir}: exists and is not a directory")
    existing = [name for name in VOCAB_FILES if os.path.exists(os.path.join(out_dir, name))]
    if existing and not overwrite:
        raise VocabError(f"--out {out_dir}: already holds {', '.join(existing)} (pass --overwrite to replace them)")


def make_vocab(paths: List[str], out_dir: str, vocab_size: Optional[int], fmt: str = "auto",
               encoder_json: Optional[str] = None, vocab_bpe: Optional[str] = None,
               on_bad_record: str = "error", min_frequency: int = 2, overwrite: bool = True, fields=None) -> str:
    """Write encoder.json, vocab.bpe and dict.txt to ``out_dir``; return dict.txt's path.

    Everything is built in ``OUT/vocab.tmp-PID`` and moved into place at the end, so a failed
    run (bad record, no text, Ctrl-C) leaves none of the three behind (a rerun is not then
    refused with "already holds"); a killed run's scratch directory is removed by the next run."""
    from summ_plugin.safe_io import remove_stale_temps, temp_path

    for path in paths:
        if not os.path.exists(path):
            raise VocabError(f"{path}: input file not found")
    if (encoder_json or vocab_bpe) and not (encoder_json and vocab_bpe):
        raise VocabError("give both --encoder-json and --vocab-bpe, or neither (then --vocab-size trains one)")
    for option, given in (("--encoder-json", encoder_json), ("--vocab-bpe", vocab_bpe)):
        if given and not os.path.isfile(given):
            what = "is a directory" if os.path.isdir(given) else "not a regular file" if os.path.exists(given) else \
                "no such file"
            raise VocabError(f"{given} ({option}): {what}")
    if not (encoder_json or vocab_size):
        raise VocabError("give --vocab-size to train a BPE (or --encoder-json/--vocab-bpe to use one)")
    check_output_dir(out_dir, overwrite)
    os.makedirs(out_dir, exist_ok=True)
    remove_stale_temps(out_dir, SCRATCH)
    scratch = temp_path(os.path.join(out_dir, SCRATCH))
    shutil.rmtree(scratch, ignore_errors=True)  # our own PID's: a dead process that had it
    os.mkdir(scratch)
    try:
        _build_vocab(paths, scratch, vocab_size, fmt, encoder_json, vocab_bpe, on_bad_record, min_frequency, fields)
        for name in VOCAB_FILES:  # dict.txt last: its presence marks a complete vocabulary
            os.replace(os.path.join(scratch, name), os.path.join(out_dir, name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return os.path.join(out_dir, "dict.txt")


# the scratch directory of a run: OUT/vocab.tmp-PID
SCRATCH = "vocab"


def _build_vocab(paths, scratch, vocab_size, fmt, encoder_json, vocab_bpe, on_bad_record, min_frequency, fields) -> None:
    from summ_plugin.data.bpe import BPEFileError, build_dictionary, check_bpe_pair, load_gpt2_bpe, train_byte_level_bpe

    out_encoder, out_vocab = os.path.join(scratch, "encoder.json"), os.path.join(scratch, "vocab.bpe")
    if encoder_json:
        try:
            check_bpe_pair(encoder_json, vocab_bpe)  # before anything is copied
        except BPEFileError as err:
            raise VocabError(str(err)) from None
        shutil.copyfile(encoder_json, out_encoder)
        shutil.copyfile(vocab_bpe, out_vocab)
    else:
        counted = _Counted(iter_texts(paths, fmt, on_bad_record, fields))
        try:
            train_byte_level_bpe(counted, vocab_size, scratch, min_frequency=min_frequency)
        except ValueError as err:
            raise VocabError(str(err)) from None
        counted.require_text(paths)
    try:
        bpe = load_gpt2_bpe(out_encoder, out_vocab)
    except BPEFileError as err:
        # name the file the user gave, not the scratch copy
        raise VocabError(str(err).replace(out_encoder, encoder_json or out_encoder)
                         .replace(out_vocab, vocab_bpe or out_vocab)) from None
    # every BPE symbol gets a dict entry (count 0 if unseen): no <unk> on valid/test text
    counted = _Counted(iter_texts(paths, fmt, on_bad_record, fields))
    streams = (bpe.encode(" " + text) for text in tqdm(counted, desc="counting", unit=" texts"))
    build_dictionary(streams, os.path.join(scratch, "dict.txt"), include_ids=bpe.ids)
    counted.require_text(paths)


class _Counted:
    """An iterator of texts that counts the non-blank ones (a corpus of none makes no vocabulary)."""

    def __init__(self, texts: Iterator[str]):
        self.texts, self.n = texts, 0

    def __iter__(self):
        from summ_plugin.data.records import is_blank

        for text in self.texts:
            if not is_blank(text):
                self.n += 1
            yield text

    def require_text(self, paths: List[str]) -> None:
        if self.n == 0:
            raise VocabError(f"{', '.join(paths)}: no text to build a vocabulary from (no records, or only "
                             "empty or invisible text); nothing written")


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(build_parser(), argv, run, files=FILES)


def run(args: argparse.Namespace) -> int:
    dict_path = make_vocab(
        [p for p in args.input.split(",") if p], args.out, args.vocab_size, fmt=args.input_format,
        encoder_json=args.encoder_json, vocab_bpe=args.vocab_bpe, on_bad_record=args.on_bad_record,
        min_frequency=args.min_frequency, overwrite=args.overwrite, fields=record_fields(args),
    )
    print(os.path.dirname(dict_path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
