"""The plugin under fairseq's own data-parallel training (2 CPU ranks, gloo) and epoch sharding.

fairseq all-reduces the logging outputs of every validation batch across ranks (the criterion
says they can be summed), so the task's ROUGE sums and counts from both ranks must give
exactly the single-process epoch figure, however the validation set is split between them.
"""
import os
import socket
import subprocess

import pytest

from tests._fairseq import check_fairseq_process_allowed, fairseq_train, json_log_lines, process_env, train_command
from tests._prepare_fixtures import make_raw_dir

# every test here starts fairseq processes: marked slow by conftest
pytestmark = pytest.mark.usefixtures("fairseq_processes")

# 9 validation examples in batches of 2: 5 batches, so rank 0 gets 3 and rank 1 gets 2 plus
# fairseq's dummy batch (whose outputs must be ignored): unequal shares on purpose.
N_VALID = 9
VALID_BATCH = "2"
ROUGE_KEYS = ("valid_rouge1", "valid_rouge2", "valid_rougeL", "valid_rougeLsum")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def uneven_data_bin(tmp_path_factory, tiny_vocab):
    """16 train / 9 valid examples; also a 2-shard copy of the same data."""
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin

    root = tmp_path_factory.mktemp("dist")
    raw = make_raw_dir(str(root / "raw"), n_train=16, n_valid=N_VALID, n_test=0)
    paths = {}
    for name, shards in (("bin", 1), ("sharded", 2)):
        config = PrepareConfig(
            destdir=str(root / name), encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"],
            dict_path=tiny_vocab["dict"], inputs=find_split_inputs(raw), retriever="lead",
            max_source_positions=96, max_target_positions=64, shards=shards,
        )
        paths[name] = prepare_data_bin(config)
    return paths


def eval_only_args(tiny_vocab, restore_file):
    """One update at lr 0 from a restored model, then validation: parameters stay exactly the
    restored ones (Adam's step and weight decay are both scaled by lr), so both runs score the
    same model with greedy decoding."""
    return [
        "--restore-file", restore_file, "--reset-optimizer", "--reset-dataloader", "--reset-meters",
        "--reset-lr-scheduler", "--lr", "0", "--max-update", "1", "--batch-size", VALID_BATCH, "--no-save",
        "--eval-rouge", "--eval-rouge-args", '{"beam": 1, "max_len_b": 16}',
        "--encoder-json", tiny_vocab["encoder_json"], "--vocab-bpe", tiny_vocab["vocab_bpe"],
    ]


def run_two_ranks(data, save_dir, extra, timeout=300):
    """fairseq-train as two processes, one per rank, rendezvous over TCP on localhost."""
    port = free_port()
    cmd = train_command(
        data, save_dir, *extra,
        "--ddp-backend", "legacy_ddp", "--distributed-backend", "gloo", "--distributed-world-size", "2",
        "--distributed-init-method", f"tcp://127.0.0.1:{port}", "--distributed-no-spawn")
    check_fairseq_process_allowed(cmd)
    procs = [
        subprocess.Popen(cmd + ["--distributed-rank", str(rank)], env=process_env(), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for rank in range(2)
    ]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=timeout)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for rank, (proc, out) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f"rank {rank} failed ({proc.returncode}):\n{out[-6000:]}"
    return outputs


def test_two_rank_validation_rouge_equals_single_process(uneven_data_bin, tiny_vocab, tmp_path):
    data = uneven_data_bin["bin"]
    # a briefly trained model, so that greedy decoding gives non-zero, per-example ROUGE
    fairseq_train(data, str(tmp_path / "base"), "--max-update", "60", "--batch-size", "4", "--lr", "1e-2",
                  "--disable-validation", "--no-epoch-checkpoints")
    restore = str(tmp_path / "base" / "checkpoint_last.pt")
    args = eval_only_args(tiny_vocab, restore)

    single_out = fairseq_train(data, str(tmp_path / "one"), *args)
    single = json_log_lines(single_out, "valid")
    assert len(single) == 1, single_out[-3000:]

    rank0_out, _ = run_two_ranks(data, str(tmp_path / "two"), args)
    assert "distributed init (rank 0)" in rank0_out
    # rank 0 restored the checkpoint and broadcast it (the plugin's safe loader must accept
    # fairseq's broadcast placeholders on the other rank)
    assert "Loaded checkpoint" in rank0_out
    double = json_log_lines(rank0_out, "valid")
    assert len(double) == 1, rank0_out[-3000:]
    one, two = single[0], double[0]

    assert float(one["valid_rouge1"]) > 0.0, one  # a trivial all-zero figure would prove nothing
    for key in ROUGE_KEYS:
        # sums of per-example F1 added in a different order: equal up to float rounding
        assert float(two[key]) == pytest.approx(float(one[key]), abs=1e-3), (key, one, two)
    # the loss is aggregated over the same 9 examples, too
    assert float(two["valid_loss"]) == pytest.approx(float(one["valid_loss"]), abs=1e-3)
    assert float(two["valid_nll_loss"]) == pytest.approx(float(one["valid_nll_loss"]), abs=1e-3)


def test_two_shard_data_bin_trains_two_epochs(uneven_data_bin, tmp_path):
    data = uneven_data_bin["sharded"]
    shard0, shard1 = data.split(":")
    assert os.path.basename(shard0) == "shard0" and os.path.basename(shard1) == "shard1"
    out = fairseq_train(data, str(tmp_path / "ckpt"), "--max-epoch", "2", "--batch-size", "4",
                        "--no-epoch-checkpoints")
    # fairseq's epoch sharding: epoch 1 reads shard0's train split, epoch 2 shard1's
    assert f"loaded 8 examples from: {shard0}/train.source-target.source" in out, out[-3000:]
    assert f"loaded 8 examples from: {shard1}/train.source-target.source" in out, out[-3000:]
    train = json_log_lines(out, "train")
    assert [int(s["epoch"]) for s in train] == [1, 2]
    # 8 examples per shard in batches of 4: 2 updates per epoch
    assert train[-1]["train_num_updates"] == "4"
    assert len(json_log_lines(out, "valid")) == 2
    assert os.path.isfile(os.path.join(str(tmp_path / "ckpt"), "checkpoint_last.pt"))
