"""The small-GPU and long-source presets in conf/: what they change from the published
recipe, and that fairseq-hydra-train builds each one's full config and trains with it."""
import os

import pytest
import yaml

from summ_plugin.tiny_model import ARCH, TINY_BART
from tests._fairseq import PLUGIN_DIR, REPO, run, script

CONF = os.path.join(REPO, "conf")
# preset -> (the published recipe it starts from, the keys it may change or add)
PRESETS = {
    "bart_large_16gb": ("bart_large", {
        "common.memory_efficient_fp16", "dataset.max_tokens", "optimization.update_freq",
        "model.checkpoint_activations", "model.max_source_positions", "model.max_target_positions"}),
    "bart_base_8gb": ("bart_base", {
        "common.memory_efficient_fp16", "model.checkpoint_activations",
        "model.max_source_positions", "model.max_target_positions"}),
    "bart_large_2048": ("bart_large", {
        "task.max_source_positions", "model.max_source_positions", "model.max_target_positions"}),
}
# What the test changes to run a preset on CPU, and nothing more: the tiny model's sizes (those of
# the checkpoint it restores, summ_plugin.tiny_model), fp16 off (fairseq's fp16 needs CUDA), and a
# two-update schedule. '++' sets a key whether or not the preset has it.
TINY_SIZES = ("encoder_layers", "decoder_layers", "encoder_embed_dim", "decoder_embed_dim",
              "encoder_ffn_embed_dim", "decoder_ffn_embed_dim", "encoder_attention_heads", "decoder_attention_heads")
CPU_TINY_OVERRIDES = [
    "++common.cpu=true", "++common.fp16=false", "++common.memory_efficient_fp16=false",
    "++common.log_interval=1", "++common.seed=1", "++dataset.num_workers=0",
    "++optimization.max_update=2", "++lr_scheduler.total_num_update=2", "++lr_scheduler.warmup_updates=1",
    "++checkpoint.no_epoch_checkpoints=true",
    *(f"++model.{key}={TINY_BART[key]}" for key in TINY_SIZES),
]


def load(name):
    with open(os.path.join(CONF, name + ".yaml"), encoding="utf-8") as handle:
        text = handle.read()
    return text, yaml.safe_load(text)


def flat(config, prefix=""):
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def test_tiny_config_is_the_tiny_model():
    # hydra cannot import summ_plugin.tiny_model: the YAML repeats it, and must not drift from it
    model = dict(load("tiny")[1]["model"])
    assert model.pop("_name") == ARCH
    assert {key: model.pop(key) for key in ("max_source_positions", "max_target_positions")} == {
        "max_source_positions": 1024, "max_target_positions": 256}
    assert model == TINY_BART


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_changes_only_what_it_says_from_the_published_recipe(preset):
    base_name, allowed = PRESETS[preset]
    text, config = load(preset)
    _, base = load(base_name)
    ours, theirs = flat(config), flat(base)
    changed = {k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)}
    assert changed <= allowed, sorted(changed - allowed)
    assert "Sized" in text.split("\n\n")[0] and " GB" in text.split("\n\n")[0]  # says what it was sized for
    # the model's positions, the task's budget and one full source per batch agree
    assert config["task"]["max_source_positions"] == config["model"]["max_source_positions"]
    assert config["dataset"]["max_tokens"] >= config["model"]["max_source_positions"]
    if config["common"].get("memory_efficient_fp16"):
        assert config["common"]["fp16"]  # fairseq-hydra-train does not imply it as --memory-efficient-fp16 does
    tokens_per_update = config["dataset"]["max_tokens"] * config["optimization"]["update_freq"][0]
    assert tokens_per_update == base["dataset"]["max_tokens"] * base["optimization"]["update_freq"][0]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_builds_and_trains_on_cpu(preset, tiny_data_bin, tiny_checkpoint, tmp_path):
    save = tmp_path / "ckpt"
    out = run([
        script("fairseq-hydra-train"), "--config-dir", CONF, "--config-name", preset,
        f"task.data={tiny_data_bin}", f"common.user_dir={PLUGIN_DIR}", f"checkpoint.save_dir={save}",
        f"checkpoint.restore_file={tiny_checkpoint}", *CPU_TINY_OVERRIDES,
    ], cwd=str(tmp_path))
    assert "RetrieveSummarizeTask" in out
    # restoring a BART checkpoint through hydra (fixed by summ_plugin.hydra_compat)
    assert f"Loaded checkpoint {tiny_checkpoint}" in out
    assert "num_updates: 2 >= max_update: 2" in out
    assert (save / "checkpoint_last.pt").is_file()
    _, config = load(preset)
    # the model section fairseq logs is the preset's (activation checkpointing on where it says so)
    if config["model"].get("checkpoint_activations"):
        assert "'checkpoint_activations': True" in out
    if config["model"]["max_source_positions"] > 1024:  # the tiny checkpoint has 1024 positions
        assert "1024 learned encoder positions, the model 2048: extended in memory" in out
