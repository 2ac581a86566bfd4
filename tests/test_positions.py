"""Extending learned positions (summ_plugin.positions): the table itself, the offline tool
(summ-fix-vocab --max-source-positions), the automatic path on restore, and what loads the result.

Tiny checkpoints stand in for bart.base/large: 128 learned positions extended to 256 plays
1024 extended to 2048 (the same code, 16 times smaller).
"""
import argparse
import os
import shutil

import pytest
import torch

from summ_plugin.checkpoints import load_checkpoint_safely
from summ_plugin.cli.fix_vocab import main as fix_vocab_main
from summ_plugin.positions import (POSITION_OFFSET, PositionFixError, fix_checkpoint_positions,
                                   resized_position_table)
from tests import _checkpoint_fixtures as fx
from tests._fairseq import train_args

OLD, NEW = 128, 256
ENC, DEC = "encoder.embed_positions.weight", "decoder.embed_positions.weight"


# ----------------------------------------------------------------------------- the table


def test_extended_rows_are_the_pretrained_rows_block_after_block():
    old = torch.randn(OLD + POSITION_OFFSET, 8)
    new = resized_position_table(old, 300)
    assert new.shape == (300 + POSITION_OFFSET, 8)
    # offset rows and positions 0..OLD-1 unchanged
    assert torch.equal(new[: OLD + POSITION_OFFSET], old)
    pretrained = old[POSITION_OFFSET:]
    for position in range(300):
        assert torch.equal(new[POSITION_OFFSET + position], pretrained[position % OLD]), position
    # the last block is cut to fit: 300 = 128 + 128 + 44
    assert torch.equal(new[-44:], pretrained[:44])


def test_dtype_is_kept_and_shrinking_keeps_the_first_rows():
    old = torch.randn(OLD + POSITION_OFFSET, 4).half()
    assert resized_position_table(old, NEW).dtype == torch.float16
    cut = resized_position_table(old, 100)
    assert torch.equal(cut, old[:100 + POSITION_OFFSET])


# ----------------------------------------------------------------------------- tiny checkpoints


def tiny_bart_args(max_positions: int, task: str = "denoising") -> argparse.Namespace:
    args = fx.tiny_bart_args(task)
    args.max_source_positions = args.max_target_positions = max_positions
    return args


def make_checkpoint(path: str, max_positions: int = OLD, add_mask: bool = False, seed: int = 0) -> dict:
    """A released-style tiny BART model.pt (``args`` layout) with ``max_positions`` positions."""
    from fairseq.data import Dictionary
    from fairseq.models.bart import BARTModel

    dictionary = Dictionary()
    for symbol in fx.GPT2_LIKE_SYMBOLS:
        dictionary.add_symbol(symbol)
    if add_mask:
        dictionary.add_symbol("<mask>")
    args = tiny_bart_args(max_positions)
    torch.manual_seed(seed)
    model = BARTModel.build_model(args, argparse.Namespace(source_dictionary=dictionary,
                                                           target_dictionary=dictionary))
    state = {"args": args, "model": model.state_dict(), "extra_state": {}, "last_optimizer_state": None,
             "optimizer_history": [{"criterion_name": "CrossEntropyCriterion", "optimizer_name": "FairseqAdam",
                                    "lr_scheduler_state": {}, "num_updates": 500}]}
    torch.save(state, path)
    return state


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("positions")
    base = str(root / "model.pt")
    make_checkpoint(base)
    data_bin = fx.make_data_bin(str(root / "bin"))
    return {"root": root, "base": base, "data_bin": data_bin}


def test_offline_tool_extends_and_says_so_in_the_stored_args(files, tmp_path, capsys):
    out = str(tmp_path / "model.256.pt")
    assert fix_vocab_main(["--checkpoint", files["base"], "--max-source-positions", str(NEW),
                           "--out", out]) == 0
    printed = capsys.readouterr().out
    assert f"{ENC}: [{OLD + 2}, 16] -> [{NEW + 2}, 16]" in printed and DEC not in printed
    base, extended = load_checkpoint_safely(files["base"]), load_checkpoint_safely(out)
    old, new = base["model"][ENC], extended["model"][ENC]
    assert torch.equal(new[: OLD + 2], old)
    assert torch.equal(new[OLD + 2:], old[2:])  # 256 = two blocks of 128
    # the decoder table is left alone when --max-target-positions does not ask for more
    assert torch.equal(extended["model"][DEC], base["model"][DEC])
    assert extended["args"].max_source_positions == NEW and extended["args"].max_target_positions == OLD
    for key, tensor in base["model"].items():
        if key != ENC:
            assert torch.equal(extended["model"][key], tensor), key
    assert extended["summ_plugin_position_fix"]["changed"] == {ENC: [[OLD + 2, 16], [NEW + 2, 16]]}
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]

    # idempotent: its own output is copied byte for byte
    again = str(tmp_path / "again.pt")
    assert fix_vocab_main(["--checkpoint", out, "--max-source-positions", str(NEW), "--out", again]) == 0
    assert "already matches" in capsys.readouterr().out
    with open(out, "rb") as a, open(again, "rb") as b:
        assert a.read() == b.read()

    # the decoder too, when asked for
    both = str(tmp_path / "both.pt")
    assert fix_vocab_main(["--checkpoint", files["base"], "--max-source-positions", str(NEW),
                           "--max-target-positions", "200", "--out", both]) == 0
    fixed = load_checkpoint_safely(both)
    assert fixed["model"][DEC].shape[0] == 202 and fixed["args"].max_target_positions == 200


def test_offline_tool_refuses_to_shrink_without_the_flag(files, tmp_path, capsys):
    out = str(tmp_path / "cut.pt")
    with pytest.raises(SystemExit) as err:
        fix_vocab_main(["--checkpoint", files["base"], "--max-source-positions", "100", "--out", out])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.value.code == 2 and line.startswith("summ-fix-vocab: error: ")
    assert "refusing to cut positions 100-127" in line and "--allow-shrink" in line
    assert not os.path.exists(out)
    assert fix_vocab_main(["--checkpoint", files["base"], "--max-source-positions", "100",
                           "--allow-shrink", "--out", out]) == 0
    cut = load_checkpoint_safely(out)
    assert cut["model"][ENC].shape[0] == 102 and cut["args"].max_source_positions == 100


def test_offline_tool_needs_something_to_do(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as err:
        fix_vocab_main(["--checkpoint", files["base"], "--out", str(tmp_path / "x.pt")])
    assert err.value.code == 2 and "nothing to do" in capsys.readouterr().err


def test_cfg_style_checkpoint_args_follow_the_table(tmp_path):
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from omegaconf import OmegaConf

    state = make_checkpoint(str(tmp_path / "m.pt"))
    cfg = convert_namespace_to_omegaconf(state.pop("args"))
    state["cfg"] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
    state["args"] = None
    fixed, report = fix_checkpoint_positions(state, NEW)
    assert report.changed
    assert fixed["cfg"]["model"].max_source_positions == NEW
    assert fixed["cfg"]["task"]["max_source_positions"] == NEW
    # the input is not changed in place
    assert state["cfg"]["model"].max_source_positions == OLD
    assert state["model"][ENC].shape[0] == OLD + 2


# ----------------------------------------------------------------------------- automatic path


def build_task_model(data_bin: str, max_positions: int):
    """The model fairseq-train builds: --task retrieve_summarize with the tiny arch."""
    from fairseq import options, tasks

    parser = options.get_training_parser()
    args = options.parse_args_and_arch(parser, train_args(
        data_bin, "--max-source-positions", max_positions, "--max-target-positions", OLD))
    task = tasks.setup_task(args)
    model = task.build_model(args)
    criterion = task.build_criterion(args)
    return task, model, criterion


def restore(model, path: str):
    """What Trainer.load_checkpoint does with --restore-file: load_state_dict(strict=True)."""
    state = load_checkpoint_safely(path)
    model.load_state_dict(state["model"], strict=True)
    return model


def test_automatic_path_equals_offline_tool(files, tmp_path, caplog):
    _, model, _ = build_task_model(files["data_bin"], NEW)
    with caplog.at_level("WARNING", logger="summ_plugin.positions"):
        restore(model, files["base"])
    assert any("extended in memory" in r.getMessage() and f"encoder positions {OLD} -> {NEW}" in r.getMessage()
               for r in caplog.records)
    # the CLI after the capture: its main() sets up the process's logging, as a command does
    offline = str(tmp_path / "offline.pt")
    assert fix_vocab_main(["--checkpoint", files["base"], "--max-source-positions", str(NEW),
                           "--out", offline]) == 0
    offline_state = load_checkpoint_safely(offline)["model"]
    automatic_state = model.state_dict()
    assert automatic_state.keys() == offline_state.keys()
    for key, tensor in offline_state.items():
        assert torch.equal(automatic_state[key], tensor), key


def test_automatic_path_refuses_a_checkpoint_with_more_positions(files):
    _, model, _ = build_task_model(files["data_bin"], 100)
    with pytest.raises(PositionFixError, match="has 128 learned encoder positions but the model has 100"):
        restore(model, files["base"])


def test_losses_within_the_old_positions_are_identical_after_extension(files):
    """Sources of 8-20 tokens: extending 128 -> 256 positions must not change a single logit.

    Logits are compared bit for bit, not only the summed loss: a randomly initialised model's
    output is nearly uniform, so its loss alone would hide a small change of the old rows."""
    outputs = {}
    for positions in (OLD, NEW):
        task, model, criterion = build_task_model(files["data_bin"], positions)
        restore(model, files["base"])
        model.eval()
        task.load_dataset("valid")
        batches = task.get_batch_iterator(task.dataset("valid"), max_tokens=64).next_epoch_itr(shuffle=False)
        per_batch = []
        with torch.no_grad():
            for sample in batches:
                loss, _, _ = criterion(model, sample)
                logits = model(**sample["net_input"])[0]
                per_batch.append((loss.item(), logits))
        assert len(per_batch) >= 2
        outputs[positions] = per_batch
    for (old_loss, old_logits), (new_loss, new_logits) in zip(outputs[OLD], outputs[NEW]):
        assert old_loss == new_loss
        assert torch.equal(old_logits, new_logits)


def test_from_pretrained_loads_an_offline_extended_model(files, tmp_path):
    """A released-style model.pt (denoising args, <mask> row) extended offline loads with
    BARTModel.from_pretrained and encodes a source longer than the old positions."""
    from fairseq.models.bart import BARTModel

    model_dir = tmp_path / "bart.tiny"
    model_dir.mkdir()
    make_checkpoint(str(model_dir / "model.pt"), add_mask=True)
    shutil.copyfile(os.path.join(files["data_bin"], "dict.source.txt"), model_dir / "dict.txt")
    assert fix_vocab_main(["--checkpoint", str(model_dir / "model.pt"), "--max-source-positions", str(NEW),
                           "--out", str(model_dir / "model.256.pt")]) == 0
    hub = BARTModel.from_pretrained(str(model_dir), checkpoint_file="model.256.pt",
                                    data_name_or_path=str(model_dir), bpe=None)
    assert hub.model.encoder.max_positions() == NEW
    tokens = torch.randint(4, 60, (1, 200))
    tokens[0, -1] = 2  # eos
    features = hub.model.encoder(tokens, src_lengths=torch.tensor([200]))["encoder_out"][0]
    assert features.shape[0] == 200 and torch.isfinite(features).all()
