"""The bart.base / bart.large vocabulary fix (summ_plugin.vocab_fix, summ-fix-vocab, the hook)."""
import hashlib
import os
import re
import subprocess
import sys

import pytest
import torch

import summ_plugin  # noqa: F401
from summ_plugin.checkpoints import load_checkpoint_safely
from summ_plugin.cli.fix_vocab import main as fix_vocab_main
from summ_plugin.vocab_fix import (
    RECORD_KEY,
    VocabFixError,
    fix_checkpoint,
    install_vocab_fix_hook,
)

from . import _checkpoint_fixtures as fx
from ._fairseq import PLUGIN_DIR, STOCK_TASK, fairseq_train, train_losses

BASE_SYMBOLS = fx.GPT2_LIKE_SYMBOLS + fx.MADEUPWORDS  # bart.base's own dict.txt, shrunk
EMB = "encoder.embed_tokens.weight"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("vocab")
    paths = {
        "gpt2_dict": fx.write_dict(str(root / "dict.gpt2.txt"), fx.GPT2_LIKE_SYMBOLS),
        "base_dict": fx.write_dict(str(root / "dict.base.txt"), BASE_SYMBOLS),
        "big_dict": fx.write_dict(str(root / "dict.big.txt"),
                                  fx.GPT2_LIKE_SYMBOLS + ["<doc>", "<query>", "<sep>"]),
        "huge_dict": fx.write_dict(str(root / "dict.huge.txt"),
                                   fx.GPT2_LIKE_SYMBOLS + [f"x{i}" for i in range(400)]),
        "base": str(root / "base.pt"), "base_cfg16": str(root / "base_cfg16.pt"),
        "large": str(root / "large.pt"),
    }
    fx.make_bart_checkpoint(paths["base"], BASE_SYMBOLS, style="args")
    fx.make_bart_checkpoint(paths["base_cfg16"], BASE_SYMBOLS, style="cfg", fp16=True)
    fx.make_bart_checkpoint(paths["large"], fx.GPT2_LIKE_SYMBOLS, style="args")
    return paths


def _symbols(path, add_mask=False):
    dictionary = fx.load_dictionary(path)
    if add_mask:
        dictionary.add_symbol("<mask>")
    return dictionary.symbols


def _assert_rest_identical(before, after):
    assert set(after) - {RECORD_KEY} == set(before)
    for key, value in before.items():
        if key != "model":
            assert after[key] == value or (value is None and after[key] is None), key
    for key, tensor in before["model"].items():
        if "embed_tokens" in key or "output_projection" in key:
            continue
        assert after["model"][key].dtype == tensor.dtype
        assert torch.equal(after["model"][key], tensor), key
    assert list(after["model"]) == list(before["model"])  # key order kept


def test_fixture_shapes_match_the_released_checkpoints(files):
    base = load_checkpoint_safely(files["base"])
    large = load_checkpoint_safely(files["large"])
    # 4 specials + 60 + 936 fillers + <mask> = 1001; the GPT-2-like dict gives 64: 937 surplus
    assert base["model"][EMB].shape[0] - len(_symbols(files["gpt2_dict"])) == 937
    assert large["model"][EMB].shape[0] == len(_symbols(files["gpt2_dict"])) + 1


@pytest.mark.parametrize("key", ["base", "base_cfg16"])
def test_bart_base_like_truncates_to_the_gpt2_dict(files, key):
    ckpt = load_checkpoint_safely(files[key])
    fixed, report = fix_checkpoint(ckpt, _symbols(files["gpt2_dict"]))
    assert report.changed and report.assumptions
    for name in ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                 "decoder.output_projection.weight"):
        new = fixed["model"][name]
        assert new.shape == (64, 16) and new.dtype == ckpt["model"][name].dtype
        assert torch.equal(new, ckpt["model"][name][:64])
    # tied embeddings stay one tensor
    assert fixed["model"]["encoder.embed_tokens.weight"] is fixed["model"]["decoder.embed_tokens.weight"]
    _assert_rest_identical(ckpt, fixed)
    record = fixed[RECORD_KEY]
    assert (record["old_rows"], record["new_rows"], record["dropped_rows"]) == (1001, 64, 937)


def test_mask_row_is_the_checkpoints_own_mask_not_a_filler(files):
    ckpt = load_checkpoint_safely(files["base"])
    fixed, _ = fix_checkpoint(ckpt, _symbols(files["gpt2_dict"], add_mask=True))
    weight, old = fixed["model"][EMB], ckpt["model"][EMB]
    assert weight.shape[0] == 65
    assert torch.equal(weight[64], old[1000])  # old[-1] is <mask>
    assert not torch.equal(weight[64], old[64])  # old[64] is madeupword0000
    assert fixed[RECORD_KEY]["mask_source_row"] == 1000


def test_bart_large_like(files):
    ckpt = load_checkpoint_safely(files["large"])
    fixed, report = fix_checkpoint(ckpt, _symbols(files["gpt2_dict"]))
    assert fixed["model"][EMB].shape[0] == 64 and torch.equal(fixed["model"][EMB], ckpt["model"][EMB][:64])
    same, report = fix_checkpoint(ckpt, _symbols(files["gpt2_dict"], add_mask=True))
    assert same is ckpt and not report.changed and "already matches" in report.message


def test_larger_dictionary_appends_seeded_rows_from_the_rows_statistics(files):
    ckpt = load_checkpoint_safely(files["large"])
    target = _symbols(files["big_dict"], add_mask=True)
    fixed, report = fix_checkpoint(ckpt, target, seed=5)
    weight, old = fixed["model"][EMB], ckpt["model"][EMB]
    assert weight.shape[0] == 68 and fixed[RECORD_KEY]["appended_rows"] == 3
    assert torch.equal(weight[:64], old[:64]) and torch.equal(weight[67], old[64])
    new_rows = weight[64:67]
    assert not any(torch.equal(r, o) for r in new_rows for o in old)
    assert (new_rows.mean() - old.mean()).abs() < 3 * old.std()
    again, _ = fix_checkpoint(ckpt, target, seed=5)
    other, _ = fix_checkpoint(ckpt, target, seed=6)
    assert torch.equal(again["model"][EMB], weight)
    assert not torch.equal(other["model"][EMB][64:67], new_rows)


def test_checkpoint_dict_maps_rows_by_symbol(files, tmp_path):
    ckpt = load_checkpoint_safely(files["base"])
    shuffled = list(reversed(fx.GPT2_LIKE_SYMBOLS[:30])) + ["madeupword0005", "brand_new"]
    target = _symbols(fx.write_dict(str(tmp_path / "d.txt"), shuffled), add_mask=True)
    base_symbols = _symbols(files["base_dict"])
    fixed, report = fix_checkpoint(ckpt, target, checkpoint_symbols=base_symbols)
    weight, old = fixed["model"][EMB], ckpt["model"][EMB]
    for index, symbol in enumerate(target):
        if symbol == "brand_new":
            assert not any(torch.equal(weight[index], o) for o in old)
        elif symbol == "<mask>":
            assert torch.equal(weight[index], old[1000])
        else:
            assert torch.equal(weight[index], old[base_symbols.index(symbol)]), symbol
    assert not report.assumptions and fixed[RECORD_KEY]["mapped_by"] == "symbol"


def test_dictionaries_that_cannot_belong_are_refused(files):
    ckpt = load_checkpoint_safely(files["large"])
    with pytest.raises(VocabFixError, match="cannot belong"):
        fix_checkpoint(ckpt, _symbols(files["huge_dict"]))
    with pytest.raises(VocabFixError, match="not this checkpoint's dictionary"):
        fix_checkpoint(ckpt, _symbols(files["gpt2_dict"]), checkpoint_symbols=_symbols(files["base_dict"]))
    broken = dict(ckpt, model=dict(ckpt["model"]))
    broken["model"]["decoder.embed_tokens.weight"] = torch.zeros(65, 8)
    with pytest.raises(VocabFixError, match="disagree"):
        fix_checkpoint(broken, _symbols(files["gpt2_dict"]))


def _sha(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def test_cli_fixes_writes_atomically_and_is_idempotent(files, tmp_path, capsys):
    out = str(tmp_path / "fixed.pt")
    # a killed summ-fix-vocab's temp file (a whole checkpoint; issue 25 item 14): removed by this run
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f".fixed.pt.tmp-{dead.pid}").write_bytes(b"\x00" * 4096)
    assert fix_vocab_main(["--checkpoint", files["base_cfg16"], "--dict", files["gpt2_dict"],
                           "--out", out, "--add-mask"]) == 0
    printed = capsys.readouterr().out
    assert "encoder.embed_tokens.weight: [1001, 16] -> [65, 16]" in printed
    assert "assumed:" in printed
    fixed = load_checkpoint_safely(out)
    assert fixed["model"][EMB].dtype == torch.float16 and fixed[RECORD_KEY]["new_rows"] == 65
    assert os.listdir(tmp_path) == ["fixed.pt"]
    again = str(tmp_path / "again.pt")
    assert fix_vocab_main(["--checkpoint", out, "--dict", files["gpt2_dict"], "--out", again,
                           "--add-mask"]) == 0
    assert "already matches" in capsys.readouterr().out
    assert _sha(again) == _sha(out)
    # Fixed once for one dictionary, the file's rows follow that dictionary afterwards.
    with pytest.raises(SystemExit) as exit_info:
        fix_vocab_main(["--checkpoint", out, "--dict", files["gpt2_dict"], "--out", again,
                        "--checkpoint-dict", files["base_dict"]])
    assert exit_info.value.code == 2 and "already fixed" in capsys.readouterr().err


def test_cli_user_errors(files, tmp_path, capsys):
    def error_line(argv):
        with pytest.raises(SystemExit) as exit_info:
            fix_vocab_main(argv)
        assert exit_info.value.code == 2
        return capsys.readouterr().err.strip().splitlines()[-1]

    assert "--out is the input file" in error_line(["--checkpoint", files["base"], "--dict", files["gpt2_dict"],
                                                    "--out", files["base"]])
    assert "checkpoint not found" in error_line(["--checkpoint", str(tmp_path / "no.pt"), "--dict",
                                                 files["gpt2_dict"], "--out", str(tmp_path / "o.pt")])
    bad = tmp_path / "bad.txt"
    bad.write_text("w0 12\nw1 notacount\n")
    assert re.search("bad dictionary .*bad.txt", error_line(["--checkpoint", files["base"], "--dict", str(bad),
                                                             "--out", str(tmp_path / "o.pt")]))
    assert "cannot belong" in error_line(["--checkpoint", files["large"], "--dict", files["huge_dict"],
                                          "--out", str(tmp_path / "o.pt")])
    assert not (tmp_path / "o.pt").exists()


def _tiny_model(dict_path, add_mask=False):
    from fairseq.models.bart import BARTModel
    import argparse

    dictionary = fx.load_dictionary(dict_path)
    if add_mask:
        dictionary.add_symbol("<mask>")
    task = argparse.Namespace(source_dictionary=dictionary, target_dictionary=dictionary)
    return BARTModel.build_model(fx.tiny_bart_args("translation"), task), dictionary


def test_hook_resizes_like_the_offline_fix_and_strict_refuses(files):
    ckpt = load_checkpoint_safely(files["base"])
    offline, _ = fix_checkpoint(ckpt, _symbols(files["big_dict"]))
    model, dictionary = _tiny_model(files["big_dict"])
    install_vocab_fix_hook(model, dictionary)
    model.load_state_dict(dict(ckpt["model"]), strict=True)
    loaded = model.state_dict()
    for key, tensor in offline["model"].items():
        assert torch.equal(loaded[key], tensor), key
    # same size (resuming the task's own checkpoint): untouched
    model.load_state_dict(dict(offline["model"]), strict=True)

    strict_model, dictionary = _tiny_model(files["gpt2_dict"])
    install_vocab_fix_hook(strict_model, dictionary, strict=True)
    with pytest.raises(VocabFixError, match="1001 vocabulary rows .* 64 entries"):
        strict_model.load_state_dict(dict(ckpt["model"]))
    # the single <mask> row fairseq itself drops is still accepted
    large = load_checkpoint_safely(files["large"])
    strict_model.load_state_dict(dict(large["model"]))


# ---------------------------------------------------------------------------------------
# Real fairseq-train runs: stock failure, offline fix == automatic fix, --vocab-fix error,
# and loading the fine-tuned model with BARTModel.from_pretrained.

RESTORE = ["--reset-optimizer", "--reset-dataloader", "--reset-meters", "--max-update", "3"]


@pytest.fixture(scope="module")
def data_bin(tmp_path_factory):
    return fx.make_data_bin(str(tmp_path_factory.mktemp("bin")))


@pytest.mark.usefixtures("fairseq_processes")
def test_stock_translation_cannot_restore_bart_base_like(files, data_bin, tmp_path):
    run = fairseq_train(data_bin, str(tmp_path / "s"), "--restore-file", files["base"], *RESTORE,
                        task=STOCK_TASK, check=False)
    assert run.returncode != 0
    # the plugin (loaded with --user-dir) turns torch's size-mismatch report into one line
    assert "shapes do not fit" in run.stdout and "[1001, 16]" in run.stdout


@pytest.mark.usefixtures("fairseq_processes")
def test_offline_and_automatic_fix_train_identically(files, data_bin, tmp_path):
    fixed = str(tmp_path / "fixed.pt")
    assert fix_vocab_main(["--checkpoint", files["base"], "--dict",
                           os.path.join(data_bin, "dict.source.txt"), "--out", fixed]) == 0
    offline = fairseq_train(data_bin, str(tmp_path / "offline"), "--restore-file", fixed, *RESTORE)
    auto_dir = str(tmp_path / "auto")
    auto = fairseq_train(data_bin, auto_dir, "--restore-file", files["base"], *RESTORE)
    assert "resized in memory" in auto and "resized in memory" not in offline
    losses = train_losses(offline)
    assert len(losses) == 3 and losses == train_losses(auto)

    strict = fairseq_train(data_bin, str(tmp_path / "strict"), "--restore-file", files["base"],
                           "--vocab-fix", "error", *RESTORE, check=False)
    assert strict.returncode != 0 and "summ-fix-vocab" in strict.stdout

    from fairseq.models.bart import BARTModel

    hub = BARTModel.from_pretrained(auto_dir, checkpoint_file="checkpoint_last.pt",
                                    data_name_or_path=data_bin, user_dir=PLUGIN_DIR, bpe=None)
    saved = load_checkpoint_safely(os.path.join(auto_dir, "checkpoint_last.pt"))
    assert hub.model.encoder.embed_tokens.weight.shape[0] == 64
    for key, tensor in saved["model"].items():
        assert torch.equal(hub.model.state_dict()[key], tensor), key
