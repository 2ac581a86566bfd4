"""Tiny data-bins and BART checkpoints shaped like the released ones (tests/_fairseq.py trains on
them).

The checkpoints are built with fairseq's own BARTModel (the tiny model of summ_plugin.tiny_model),
so their keys, tied embeddings and ``args`` are those of the real files; only the sizes
shrink. ``GPT2_LIKE_SYMBOLS`` plays the 50260 GPT-2 symbols; the bart.base-like checkpoint
adds 936 ``madeupword`` fillers and ``<mask>``, so it has exactly 937 rows more than the
data-bin's dictionary, as 51201 vs 50264.
"""
import argparse
import os
import random
from typing import Dict, Sequence

import numpy as np
import torch

from tests._fairseq import STOCK_TASK, train_args

GPT2_LIKE_SYMBOLS = [f"w{i}" for i in range(60)]
MADEUPWORDS = [f"madeupword{i:04d}" for i in range(936)]
SRC, TGT = "source", "target"


def write_dict(path: str, symbols: Sequence[str]) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        for rank, symbol in enumerate(symbols):
            handle.write(f"{symbol} {max(1, 1000 - rank)}\n")
    return path


def load_dictionary(path: str):
    from fairseq.data import Dictionary

    return Dictionary.load(path)


def make_data_bin(directory: str, symbols: Sequence[str] = GPT2_LIKE_SYMBOLS,
                  n_train: int = 32, n_valid: int = 8, seed: int = 0) -> str:
    """A translation data-bin (source/target) binarized with fairseq's own builder.

    At least 8 valid pairs: fairseq rounds batches to multiples of 8 and would drop them all.
    """
    from fairseq.data import indexed_dataset

    os.makedirs(directory, exist_ok=True)
    rng = random.Random(seed)
    for side in (SRC, TGT):
        write_dict(os.path.join(directory, f"dict.{side}.txt"), symbols)
    dictionary = load_dictionary(os.path.join(directory, f"dict.{SRC}.txt"))
    for split, count in (("train", n_train), ("valid", n_valid)):
        lines = {
            SRC: [" ".join(rng.choice(symbols) for _ in range(rng.randint(8, 20))) for _ in range(count)],
            TGT: [" ".join(rng.choice(symbols) for _ in range(rng.randint(3, 8))) for _ in range(count)],
        }
        for side, side_lines in lines.items():
            prefix = os.path.join(directory, f"{split}.{SRC}-{TGT}.{side}")
            builder = indexed_dataset.make_builder(prefix + ".bin", impl="mmap",
                                                   vocab_size=len(dictionary))
            for line in side_lines:
                builder.add_item(dictionary.encode_line(line, add_if_not_exist=False,
                                                        append_eos=True).long())
            builder.finalize(prefix + ".idx")
    return directory


def tiny_bart_args(task: str = "denoising") -> argparse.Namespace:
    """The ``args`` Namespace fairseq would build for the tiny bart_base (as old BART files hold)."""
    from fairseq import options

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser, train_args("unused-data-dir", task=STOCK_TASK, user_dir=None))
    args.task = task  # released BART files were pre-trained with the denoising task
    return args


def build_bart_state(symbols: Sequence[str], add_mask: bool = True, seed: int = 0):
    """A tiny BARTModel's state dict for a dictionary of ``symbols`` (+ specials, + <mask>)."""
    from fairseq.data import Dictionary
    from fairseq.models.bart import BARTModel

    dictionary = Dictionary()
    for symbol in symbols:
        dictionary.add_symbol(symbol)
    if add_mask:
        dictionary.add_symbol("<mask>")
    args = tiny_bart_args()
    task = argparse.Namespace(source_dictionary=dictionary, target_dictionary=dictionary)
    torch.manual_seed(seed)
    model = BARTModel.build_model(args, task)
    return model.state_dict(), args


def make_bart_checkpoint(path: str, symbols: Sequence[str], add_mask: bool = True,
                         style: str = "args", fp16: bool = False, seed: int = 0,
                         legacy_format: bool = False) -> Dict:
    """Save a checkpoint laid out like the released ``model.pt`` files.

    style "args": {args: Namespace, model, optimizer_history, extra_state} as bart.base/large;
    style "cfg": fairseq 0.12's layout (cfg dict whose ``model`` is a Namespace).
    extra_state holds numpy scalars/arrays, as in fairseq issue 5603.
    """
    model_state, args = build_bart_state(symbols, add_mask=add_mask, seed=seed)
    if fp16:
        # As a model.half() state dict: tied embeddings stay one (half) tensor.
        halves: Dict[int, torch.Tensor] = {}
        for key, value in model_state.items():
            if value.is_floating_point():
                model_state[key] = halves.setdefault(value.data_ptr(), value.half())
        args.fp16 = True
    state = {
        "model": model_state,
        "optimizer_history": [{"criterion_name": "CrossEntropyCriterion",
                               "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": np.float64(3.25)},
                               "num_updates": 500}],
        "extra_state": {"train_iterator": {"epoch": 7, "iterations_in_epoch": 0},
                        "val_loss": np.float32(3.25), "loss_history": np.arange(4.0)},
        "last_optimizer_state": None,
    }
    if style == "args":
        state["args"] = args
    elif style == "cfg":
        from fairseq.dataclass.utils import convert_namespace_to_omegaconf
        from omegaconf import OmegaConf

        cfg = convert_namespace_to_omegaconf(args)
        state["cfg"] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        state["args"] = None
    else:
        raise ValueError(style)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(state, path, _use_new_zipfile_serialization=not legacy_format)
    return state
