"""Stock fairseq-train (--task translation) trains a tiny bart_base on a summ-prepare data-bin."""
import os
import subprocess
import sys

import pytest

from summ_plugin.cli.prepare import main
from tests._prepare_fixtures import build_vocab, make_raw_dir

TINY_BART = [
    "--arch", "bart_base", "--encoder-layers", "1", "--decoder-layers", "1",
    "--encoder-embed-dim", "16", "--decoder-embed-dim", "16",
    "--encoder-ffn-embed-dim", "32", "--decoder-ffn-embed-dim", "32",
    "--encoder-attention-heads", "2", "--decoder-attention-heads", "2",
]


@pytest.mark.usefixtures("fairseq_processes")
@pytest.mark.parametrize("shards", [1, 2])
def test_stock_fairseq_train_reads_the_data_bin(tmp_path, capsys, shards):
    vocab = build_vocab(str(tmp_path / "vocab"))
    raw = make_raw_dir(str(tmp_path / "raw"), n_train=12, n_valid=4, n_test=0)
    dest = str(tmp_path / "bin")
    main(["--input", raw, "--destdir", dest, "--retriever", "bm25", "--max-source-positions", "128",
          "--shards", str(shards), "--encoder-json", vocab["encoder_json"], "--vocab-bpe", vocab["vocab_bpe"],
          "--dict", vocab["dict"]])
    data = capsys.readouterr().out.strip().splitlines()[-1]
    fairseq_train = os.path.join(os.path.dirname(sys.executable), "fairseq-train")
    cmd = [fairseq_train, data, "--task", "translation", "-s", "source", "-t", "target", *TINY_BART,
           "--max-update", "2", "--cpu", "--max-tokens", "2048", "--optimizer", "adam", "--lr", "1e-4",
           "--save-dir", str(tmp_path / "ckpt"),
           "--no-progress-bar", "--log-format", "simple", "--num-workers", "0", "--no-epoch-checkpoints",
           # fairseq drops every batch of a 12-example set with the default multiple of 8
           "--required-batch-size-multiple", "1"]
    done = subprocess.run(cmd, cwd=str(tmp_path), capture_output=True, text=True, timeout=170)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "loaded 12 examples" in log or (shards > 1 and "loaded 6 examples" in log), log[-3000:]
    assert "done training" in log
    assert os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")
