"""Safe loading of fairseq checkpoints on torch >= 2.6 (summ_plugin.checkpoints).

Fast tests load checkpoints laid out like the real ones in-process; the ``slow`` ones run
the real ``fairseq-train`` console script, with and without ``--user-dir summ_plugin``.
"""
import argparse
import os
import shutil

import numpy as np
import pytest
import torch

import summ_plugin  # noqa: F401  (installs the safe loading, as --user-dir does)
from summ_plugin.checkpoints import (
    UnsafeCheckpointError,
    allow_fairseq_checkpoint_globals,
    fairseq_checkpoint_safe_globals,
    load_checkpoint_safely,
)

from . import _checkpoint_fixtures as fx
from ._fairseq import STOCK_TASK, fairseq_train, json_log_lines, train_losses


class _WritesMarker:
    """Unpickling this runs ``touch <marker>``: what a crafted checkpoint would do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _crafted_checkpoint(path, marker, legacy=False):
    state = {"model": {"w": torch.zeros(2)}, "args": argparse.Namespace(arch="bart_base"),
             "extra_state": {"payload": _WritesMarker(marker)}}
    torch.save(state, path, _use_new_zipfile_serialization=not legacy)
    return path


@pytest.mark.parametrize("style,fp16,legacy", [
    ("args", False, False), ("args", True, True), ("cfg", False, False), ("cfg", True, False)])
def test_loads_checkpoints_shaped_like_released_ones(tmp_path, style, fp16, legacy):
    path = str(tmp_path / "model.pt")
    saved = fx.make_bart_checkpoint(path, fx.GPT2_LIKE_SYMBOLS, style=style, fp16=fp16,
                                    legacy_format=legacy)
    loaded = load_checkpoint_safely(path)
    assert set(loaded) == set(saved)
    for key, tensor in saved["model"].items():
        assert loaded["model"][key].dtype == tensor.dtype
        assert torch.equal(loaded["model"][key], tensor)
    assert loaded["extra_state"]["val_loss"] == np.float32(3.25)
    np.testing.assert_array_equal(loaded["extra_state"]["loss_history"], np.arange(4.0))
    if style == "args":
        assert isinstance(loaded["args"], argparse.Namespace) and loaded["args"].arch == "bart_base"
    else:
        assert isinstance(loaded["cfg"]["model"], argparse.Namespace)


def test_default_torch_load_refuses_what_the_allow_list_admits(tmp_path):
    """Without the allow-list, torch >= 2.6 refuses these files (the bug is real here)."""
    path = str(tmp_path / "model.pt")
    fx.make_bart_checkpoint(path, fx.GPT2_LIKE_SYMBOLS)
    needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    assert needed == set(), f"allow-list misses {needed}"
    names = {f"{g.__module__}.{g.__qualname__}" if not isinstance(g, tuple) else g[1]
             for g in fairseq_checkpoint_safe_globals()}
    assert {"argparse.Namespace", "numpy._core.multiarray._reconstruct",
            "numpy.core.multiarray._reconstruct", "numpy.ndarray", "numpy.dtype"} <= names


def test_omegaconf_cfg_as_fairseq_0_10_saved_it(tmp_path):
    from omegaconf import DictConfig, OmegaConf

    cfg = OmegaConf.create({"common": {"seed": 1, "fp16": False}, "task": {"data": "bin"},
                            "optimization": {"lr": [0.1, 0.2]}}, flags={"allow_objects": True})
    cfg.model = argparse.Namespace(arch="bart_base")
    path = str(tmp_path / "old.pt")
    torch.save({"cfg": cfg, "model": {"w": torch.ones(3)},
                "extra_state": {"best": np.float64(1.5)}}, path)
    loaded = load_checkpoint_safely(path)
    assert isinstance(loaded["cfg"], DictConfig)
    assert loaded["cfg"].optimization.lr == [0.1, 0.2]
    assert loaded["cfg"].model.arch == "bart_base"
    assert loaded["extra_state"]["best"] == 1.5


def test_allow_list_names_only_data_classes():
    names = {f"{g.__module__}.{getattr(g, '__qualname__', g)}" if not isinstance(g, tuple) else g[1]
             for g in allow_fairseq_checkpoint_globals()}
    forbidden = {"builtins.eval", "builtins.exec", "builtins.getattr", "builtins.__import__",
                 "builtins.open", "posix.system", "os.system", "subprocess.Popen", "builtins.apply"}
    assert not names & forbidden
    allowed_prefixes = ("argparse.", "collections.", "omegaconf.", "numpy.", "typing.",
                        "builtins.", "fairseq.distributed.utils._TensorPlaceholder")
    assert all(n.startswith(allowed_prefixes) for n in names), names


@pytest.mark.parametrize("legacy", [False, True])
def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path, legacy):
    marker = tmp_path / "PWNED"
    path = _crafted_checkpoint(str(tmp_path / "evil.pt"), marker, legacy=legacy)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint_safely(path)
    message = str(info.value)
    assert path in message
    assert "system" in message  # the offending global: posix.system / os.system
    assert not marker.exists()


def test_fairseq_load_checkpoint_to_cpu_is_safe_even_when_forced_unsafe(tmp_path, monkeypatch):
    from fairseq import checkpoint_utils

    # This variable makes torch default to weights_only=False; fairseq must not follow it.
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "PWNED"
    path = _crafted_checkpoint(str(tmp_path / "evil.pt"), marker)
    with pytest.raises(UnsafeCheckpointError, match="evil.pt"):
        checkpoint_utils.load_checkpoint_to_cpu(path)
    assert not marker.exists()
    good = str(tmp_path / "model.pt")
    fx.make_bart_checkpoint(good, fx.GPT2_LIKE_SYMBOLS)
    state = checkpoint_utils.load_checkpoint_to_cpu(good)
    assert state["cfg"].model.arch == "bart_base"  # fairseq's upgrade turned args into cfg


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        load_checkpoint_safely(str(tmp_path / "nope.pt"))


# ---------------------------------------------------------------------------------------
# Real fairseq-train processes.

@pytest.fixture(scope="module")
def trained(tmp_path_factory, fairseq_processes):
    """A data-bin and a save dir holding checkpoint_last.pt after 2 updates (with the plugin)."""
    root = tmp_path_factory.mktemp("train")
    data_bin = fx.make_data_bin(str(root / "bin"))
    save_dir = str(root / "ckpt")
    fairseq_train(data_bin, save_dir, "--max-update", "2", task=STOCK_TASK)
    return data_bin, save_dir


def test_fairseq_train_resumes_from_its_own_checkpoint_only_with_the_plugin(trained, tmp_path):
    data_bin, save_dir = trained
    assert torch.serialization.get_unsafe_globals_in_checkpoint(
        os.path.join(save_dir, "checkpoint_last.pt")) == []  # all of it is on the allow-list
    stock_dir = str(tmp_path / "stock")
    shutil.copytree(save_dir, stock_dir)
    stock = fairseq_train(data_bin, stock_dir, "--max-update", "4", task=STOCK_TASK, user_dir=None, check=False)
    assert stock.returncode != 0
    assert "Unsupported global" in stock.stdout and "argparse.Namespace" in stock.stdout

    resumed = fairseq_train(data_bin, save_dir, "--max-update", "4", task=STOCK_TASK)
    # 32 pairs of at most 21 tokens are one batch under --max-tokens 2048: an update per epoch
    assert "checkpoint_last.pt (epoch 3 @ 2 updates)" in resumed
    assert [stats["train_num_updates"] for stats in json_log_lines(resumed, "train")] == ["3", "4"]
    # the plugin's safe loading did it (its one INFO line; the allow-list itself is at DEBUG)
    assert "| summ_plugin.checkpoints | fairseq.checkpoint_utils now loads checkpoints with weights_only=True" \
        in resumed


@pytest.mark.parametrize("fp16,legacy", [(False, False), (True, True)])
def test_restore_file_of_an_args_namespace_checkpoint(trained, tmp_path, fp16, legacy):
    data_bin, _ = trained
    model_pt = str(tmp_path / "model.pt")
    fx.make_bart_checkpoint(model_pt, fx.GPT2_LIKE_SYMBOLS, style="args", fp16=fp16,
                            legacy_format=legacy)
    out = fairseq_train(data_bin, str(tmp_path / "ft"), "--restore-file", model_pt, "--reset-optimizer",
                        "--reset-dataloader", "--reset-meters", "--max-update", "1", task=STOCK_TASK)
    assert f"Loaded checkpoint {model_pt} (epoch 7 @ 0 updates)" in out
    assert len(train_losses(out)) == 1


def test_fairseq_train_refuses_a_crafted_restore_file(trained, tmp_path):
    data_bin, _ = trained
    marker = tmp_path / "PWNED"
    evil = _crafted_checkpoint(str(tmp_path / "evil.pt"), marker)
    run = fairseq_train(data_bin, str(tmp_path / "ft"), "--restore-file", evil, "--reset-optimizer",
                        "--max-update", "1", task=STOCK_TASK, check=False)
    assert run.returncode != 0
    assert "UnsafeCheckpointError" in run.stdout and "evil.pt" in run.stdout
    assert "system" in run.stdout
    assert not marker.exists()
