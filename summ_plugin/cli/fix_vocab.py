"""summ-fix-vocab: fit a BART checkpoint to a data-bin's dictionary and to longer inputs.

    summ-fix-vocab --checkpoint bart.base/model.pt --dict data-bin/dict.source.txt \
        --out bart.base/model.gpt2dict.pt [--add-mask] [--checkpoint-dict bart.base/dict.txt]
    summ-fix-vocab --checkpoint bart.large/model.pt --max-source-positions 2048 \
        --out bart.large/model.2048.pt [--max-target-positions N] [--allow-shrink]

Vocabulary rows (``--dict``) and learned positions (``--max-source-positions`` /
``--max-target-positions``) can be fixed in one call; the task does the same in memory on
``--restore-file``, with the same weights. Prints the old and new shapes; writes atomically;
never overwrites the input; running it on its own output is a no-op ("already matches", the
output is a byte copy).
"""
import argparse
import logging
import os
import shutil
import sys
from typing import List, Optional

from summ_plugin.atomic import atomic_output
from summ_plugin.cli.common import FileOptions, add_log_level_option, run_main
from summ_plugin.errors import UserError
from summ_plugin.numbers import seed_int

logger = logging.getLogger(__name__)

PROG = "summ-fix-vocab"
FILES = FileOptions(reads=("checkpoint", "dict_path", "checkpoint_dict"), writes=("out",))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Resize a BART checkpoint's embedding rows (encoder/decoder embed_tokens, "
        "output_projection) to the size of a fairseq dictionary, e.g. bart.base (51201 rows) "
        "to the GPT-2 dict.txt of a data-bin (50264 entries), and/or extend its learned "
        "position tables past 1024 positions.",
    )
    parser.add_argument("--checkpoint", required=True, help="input checkpoint (model.pt)")
    parser.add_argument("--dict", dest="dict_path",
                        help="the task's dict.txt (fairseq adds its 4 specials); without it the "
                        "vocabulary rows are left as they are")
    parser.add_argument("--out", required=True, help="output checkpoint (must differ from input)")
    parser.add_argument("--add-mask", action="store_true",
                        help="the task adds <mask> to the dictionary (denoising-style tasks)")
    parser.add_argument("--checkpoint-dict",
                        help="the checkpoint's own dict.txt: map rows by symbol instead of index")
    parser.add_argument("--seed", type=seed_int, default=0, help="seed for new rows (default 0)")
    parser.add_argument("--max-dropped-rows", type=int, default=DEFAULT_MAX_DROPPED_ROWS,
                        help="refuse dictionaries that drop more checkpoint rows than this "
                        f"(default {DEFAULT_MAX_DROPPED_ROWS}; bart.base to the GPT-2 dict.txt drops 937)")
    parser.add_argument("--max-new-rows", type=int, default=256,
                        help="refuse dictionaries needing more new rows than this (default 256)")
    positions = parser.add_argument_group("learned positions")
    positions.add_argument("--max-source-positions", type=int,
                           help="extend the encoder's position table to this many positions (e.g. 2048): "
                           "the pretrained rows are copied block after block, the first ones unchanged")
    positions.add_argument("--max-target-positions", type=int,
                           help="the same for the decoder's table (left alone unless given)")
    positions.add_argument("--allow-shrink", action="store_true",
                           help="allow fewer positions than the checkpoint has (cuts the table)")
    add_log_level_option(parser)
    return parser


def _load_dictionary(path: str, add_mask: bool):
    from fairseq.data import Dictionary

    from ..vocab_fix import MASK_SYMBOL

    if not os.path.isfile(path):
        raise UserError(f"{path}: {'is a directory, not a' if os.path.isdir(path) else 'no such'} dictionary file")
    try:
        dictionary = Dictionary.load(path)
    except Exception as err:  # fairseq raises a bare Exception for bytes that are not UTF-8
        raise UserError(f"bad dictionary {path}: {err}") from None
    if add_mask:
        dictionary.add_symbol(MASK_SYMBOL)
    return dictionary


# bart.base -> GPT-2 dict.txt drops its 937 filler rows (936 madeupwords + <mask>); an empty
# or cut-short dict.txt would drop nearly all trained rows, and exit 0
DEFAULT_MAX_DROPPED_ROWS = 1024


def check_dictionary_size(dict_path: str, target, checkpoint_rows: int, max_dropped_rows: int) -> None:
    symbols = len(target) - target.nspecial
    if symbols <= 0:
        raise UserError(f"{dict_path}: the dictionary is empty (no symbols besides "
                         "fairseq's specials); give the data-bin's dict.source.txt")
    dropped = checkpoint_rows - len(target)
    if dropped > max_dropped_rows:
        raise UserError(
            f"{dict_path}: {len(target)} entries for a checkpoint with {checkpoint_rows} "
            f"vocabulary rows would drop {dropped} trained rows (at most {max_dropped_rows}, --max-dropped-rows): "
            "a dictionary this small is not this model's (cut short, or of another corpus)")


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    return run_main(parser, argv, lambda args: _run(parser, args), files=FILES, consequence="nothing written")


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not args.dict_path and args.max_source_positions is None and args.max_target_positions is None:
        parser.error("nothing to do: give --dict and/or --max-source-positions / --max-target-positions")
    if (args.add_mask or args.checkpoint_dict) and not args.dict_path:
        parser.error("--add-mask and --checkpoint-dict need --dict")
    from ..checkpoints import (CheckpointContentsError, CorruptCheckpointError, UnsafeCheckpointError,
                               load_fairseq_checkpoint, save_checkpoint_atomically)
    from ..positions import PositionFixError, fix_checkpoint_positions
    from ..vocab_fix import FixReport, VocabFixError, embedding_rows, fix_checkpoint

    if not os.path.isfile(args.checkpoint):
        raise UserError(f"checkpoint not found: {args.checkpoint}")
    if os.path.isdir(args.out):
        raise UserError(f"--out {args.out}: is a directory; give the path of the checkpoint file to write")
    target = _load_dictionary(args.dict_path, args.add_mask) if args.dict_path else None
    checkpoint_symbols = None
    if args.checkpoint_dict:
        checkpoint_symbols = _load_dictionary(args.checkpoint_dict, False).symbols
    try:
        checkpoint = load_fairseq_checkpoint(args.checkpoint)
        fixed, report = checkpoint, FixReport(False, "")
        if target is not None:
            if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
                check_dictionary_size(args.dict_path, target, embedding_rows(checkpoint["model"]),
                                      args.max_dropped_rows)
            fixed, report = fix_checkpoint(
                checkpoint, target.symbols, checkpoint_symbols, args.seed, args.max_new_rows)
        position_report = None
        if args.max_source_positions is not None or args.max_target_positions is not None:
            fixed, position_report = fix_checkpoint_positions(
                fixed, args.max_source_positions, args.max_target_positions, args.allow_shrink)
    except CheckpointContentsError:
        raise  # names the file already
    except (UnsafeCheckpointError, CorruptCheckpointError, VocabFixError, PositionFixError) as err:
        raise UserError(f"{args.checkpoint}: {err}")
    messages = [r.message for r in (report, position_report) if r is not None and r.message]

    if not report.changed and not (position_report and position_report.changed):
        def copy_input(handle):
            with open(args.checkpoint, "rb") as source:
                shutil.copyfileobj(source, handle)

        with atomic_output(args.out, "wb") as handle:
            copy_input(handle)
        print(f"{args.checkpoint}: {'; '.join(messages)}; copied unchanged to {args.out}")
        return 0
    for assumption in report.assumptions:
        print(f"assumed: {assumption}")
    for key, old, new in report.changes:
        print(f"{key}: {old} -> {new}")
    for key, old, new, _ in (position_report.changes if position_report else []):
        print(f"{key}: {old} -> {new}")
    save_checkpoint_atomically(fixed, args.out)  # a full disk: one line, no partial file
    changed = [r.message for r in (report, position_report) if r is not None and r.changed]
    print(f"{'; '.join(changed)}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
