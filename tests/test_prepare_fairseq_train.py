"""Stock fairseq-train (--task translation) trains a tiny bart_base on a summ-prepare data-bin."""
import os

import pytest

from summ_plugin.cli.prepare import main
from tests._fairseq import STOCK_TASK, fairseq_train
from tests._prepare_fixtures import build_vocab, make_raw_dir


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
    # stock fairseq: no --user-dir
    log = fairseq_train(data, tmp_path / "ckpt", "--max-update", "2", task=STOCK_TASK, user_dir=None, cwd=str(tmp_path))
    assert "loaded 12 examples" in log or (shards > 1 and "loaded 6 examples" in log), log[-3000:]
    assert "done training" in log
    assert os.path.exists(tmp_path / "ckpt" / "checkpoint_last.pt")
