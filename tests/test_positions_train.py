"""A model extended past its pretrained positions, end to end through real fairseq processes.

A tiny model pre-trained with 128 source positions plays bart.base/large (1024); it is
fine-tuned with ``--max-source-positions 256`` (plays 2048) on a raw directory whose documents
fill the 256-token budget, so that training, fairseq-generate and summ-summarize all see
sources longer than the checkpoint's positions.
"""
import json
import logging
import os
import re
import shutil

import pytest
import torch

from summ_plugin.cli.summarize import main as summarize_main
from summ_plugin.data.data_bin import DataBin
from tests._fairseq import PLUGIN_DIR, fairseq_train, run, script
from tests._prepare_fixtures import make_records, write_jsonl

OLD, NEW = 128, 256
RESTORE = ["--reset-optimizer", "--reset-dataloader", "--reset-meters"]


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture
def keep_root_logging():
    """summ-summarize's main() points the root logger at the sys.stderr of the moment, which
    pytest closes after the test: later tests would log into a closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="module")
def long_raw_dir(tmp_path_factory, tiny_vocab):
    """Documents of 30 sentences (~300 words): more than 256 tokens each."""
    root = str(tmp_path_factory.mktemp("long_raw"))
    for split, n, seed in (("train", 16, 1), ("valid", 6, 2), ("test", 3, 3)):
        write_jsonl(os.path.join(root, f"{split}.jsonl"), make_records(n, seed=seed, sentences=30))
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"), ("dict", "dict.txt")):
        shutil.copyfile(tiny_vocab[key], os.path.join(root, name))
    return root


@pytest.fixture(scope="module")
def pretrained_128(tmp_path_factory, tiny_data_bin, fairseq_processes):
    """The 'pre-trained' checkpoint: 128 learned source positions (tiny_data_bin's budget is 96)."""
    save = str(tmp_path_factory.mktemp("pre128"))
    fairseq_train(tiny_data_bin, save, "--max-update", "2", "--max-source-positions", str(OLD))
    return os.path.join(save, "checkpoint_last.pt")


def test_extended_model_trains_generates_and_summarizes_long_sources(
        pretrained_128, long_raw_dir, tiny_vocab, tmp_path, capsys, keep_root_logging):
    save = str(tmp_path / "ckpt")
    # the raw directory is prepared with the model's budget: --max-source-positions 256
    out = fairseq_train(long_raw_dir, save, "--restore-file", pretrained_128, *RESTORE, "--max-update", "3",
                        "--max-source-positions", str(NEW), "--raw-cache-dir", str(tmp_path / "cache"))
    assert f"restored checkpoint has {OLD} learned encoder positions, the model {NEW}: extended in memory" in out
    assert "decoder positions" not in out  # the decoder table was not asked to grow
    data_bin = re.search(r"training on the prepared data-bin (\S+)", out).group(1)
    assert DataBin.read(data_bin).budget.max_source_positions == NEW
    train_lengths = [m["n_source_tokens"] for m in read_jsonl(os.path.join(data_bin, "train.meta.jsonl"))]
    assert max(train_lengths) > OLD and max(train_lengths) <= NEW
    # no example was too long for the model (fairseq would warn "... invalid sizes and will be skipped")
    assert "invalid size" not in out
    checkpoint = os.path.join(save, "checkpoint_last.pt")

    # fairseq-generate over the valid sources (longer than the old 128 positions)
    gen = run([
        script("fairseq-generate"), data_bin, "--user-dir", PLUGIN_DIR, "--task", "retrieve_summarize",
        "--path", checkpoint, "--gen-subset", "valid", "--cpu", "--max-source-positions", str(NEW),
        "--beam", "2", "--max-len-b", "10", "--batch-size", "3",
    ])
    sources = [line.split("\t", 1)[1].split() for line in gen.splitlines() if line.startswith("S-")]
    hyps = [line for line in gen.splitlines() if line.startswith("H-")]
    assert len(sources) == len(hyps) == 6
    assert max(len(s) for s in sources) > OLD

    # summ-summarize: the budget comes from the data-bin (256), within the model's positions
    hyps_path = tmp_path / "hyps.jsonl"
    assert summarize_main(["--path", checkpoint, "--input", os.path.join(long_raw_dir, "test.jsonl"),
                           "--output", str(hyps_path), "--beam", "1", "--max-len-b", "8", "--cpu"]) == 0
    rows = read_jsonl(hyps_path)
    assert len(rows) == 3 and all(OLD < r["n_source_tokens"] <= NEW for r in rows)

    # ... and refuses a budget the model cannot read, naming both numbers
    with pytest.raises(SystemExit) as exit_info:
        summarize_main(["--path", checkpoint, "--input", os.path.join(long_raw_dir, "test.jsonl"),
                        "--output", str(tmp_path / "x.jsonl"), "--max-source-positions", "300", "--cpu"])
    assert exit_info.value.code == 2
    assert "--max-source-positions 300 is more than the model's 256" in capsys.readouterr().err
    # the 128-position model with the 256-budget data-bin: refused
    with pytest.raises(SystemExit) as exit_info:
        summarize_main(["--path", pretrained_128, "--data-bin", data_bin, "--cpu",
                        "--input", os.path.join(long_raw_dir, "test.jsonl"), "--output", str(tmp_path / "y.jsonl")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    # the task's own check (prepare.json against the model's positions) names both numbers
    assert f"--max-source-positions {OLD}" in err and f"{NEW} positions" in err
    assert not (tmp_path / "x.jsonl").exists() and not (tmp_path / "y.jsonl").exists()


def test_fine_tuning_on_short_sources_is_identical_after_extension(pretrained_128, tiny_data_bin, tmp_path):
    """Sources within the old 128 positions (tiny_data_bin: budget 96): fine-tuning the
    128-position checkpoint with a 128- or a 256-position model ends on the same parameters,
    bit for bit (the extra position rows get no gradient, so Adam leaves them as copied)."""
    from summ_plugin.checkpoints import load_checkpoint_safely

    states = {}
    for positions in (OLD, NEW):
        save = tmp_path / str(positions)
        out = fairseq_train(tiny_data_bin, str(save), "--restore-file", pretrained_128,
                            *RESTORE, "--max-update", "4", "--max-source-positions", str(positions))
        assert ("extended in memory" in out) == (positions == NEW)
        assert "num_updates: 4 >= max_update: 4" in out
        states[positions] = load_checkpoint_safely(str(save / "checkpoint_last.pt"))["model"]
    pretrained = load_checkpoint_safely(pretrained_128)["model"]
    key = "encoder.embed_positions.weight"
    assert not torch.equal(states[OLD][key], pretrained[key])  # training did move the old rows
    assert torch.equal(states[NEW][key][: OLD + 2], states[OLD][key])
    assert torch.equal(states[NEW][key][OLD + 2:], pretrained[key][2:])
    for name, tensor in states[OLD].items():
        if name != key:
            assert torch.equal(states[NEW][name], tensor), name
