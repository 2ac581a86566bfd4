"""Issue 12 end to end: a data-bin prepared with the default retrieval, a model trained on it,
and summ-summarize reusing the recorded retriever and selector after the data-bin has moved."""
import json
import os
import shutil

import pytest

from summ_plugin.cli.summarize import main as summarize_main
from summ_plugin.data.config import PrepareConfig
from summ_plugin.data.data_bin import DataBin, RetrieverSetting
from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin
from tests._fairseq import fairseq_train


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.mark.slow
def test_summarize_reuses_the_default_retriever_and_selector_of_the_data_bin(tiny_vocab, tiny_raw_dir, tmp_path,
                                                                            capfd):
    first_home = str(tmp_path / "first" / "data-bin")
    prepare_data_bin(PrepareConfig(
        destdir=first_home, encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"],
        dict_path=tiny_vocab["dict"], inputs=find_split_inputs(tiny_raw_dir), max_source_positions=96,
        max_target_positions=64))
    manifest = DataBin.read(first_home).manifest
    chosen = manifest.retrievers["valid"]
    assert manifest.retrievers["train"] == RetrieverSetting("oracle", {"pad": "random"})
    # the synthetic records scatter what the summary says: a learned candidate beats truncation
    assert chosen.name in ("learned", "hybrid") and chosen.options["selector"] == "selector.json"
    # half the records carry a query: the query-aware candidates are scored too
    assert {row["retriever"] for row in manifest.default_choice["candidates"]} == {"lead", "bm25", "learned", "hybrid"}

    save = str(tmp_path / "ckpt")
    fairseq_train(first_home, save, "--max-update", "2")
    # the data-bin moves (with its selector): the checkpoint's stored path is gone
    data_bin = str(tmp_path / "second" / "data-bin")
    os.makedirs(os.path.dirname(data_bin))
    shutil.move(first_home, data_bin)

    out = tmp_path / "hyps.jsonl"
    assert summarize_main(["--path", os.path.join(save, "checkpoint_last.pt"), "--data-bin", data_bin,
                           "--input", os.path.join(tiny_raw_dir, "valid.jsonl"), "--output", str(out),
                           "--beam", "1", "--max-len-b", "5", "--cpu"]) == 0
    rows, meta = read_jsonl(out), read_jsonl(os.path.join(data_bin, "valid.meta.jsonl"))
    assert [r["retriever"] for r in rows] == [chosen.name] * len(meta)
    assert [r["passage_ids"] for r in rows] == [m["passage_ids"] for m in meta]

    assert "the one the model's valid data was prepared with" in capfd.readouterr().err
    # another retriever is allowed, with a warning that the model read other inputs
    assert summarize_main(["--path", os.path.join(save, "checkpoint_last.pt"), "--data-bin", data_bin,
                           "--input", os.path.join(tiny_raw_dir, "valid.jsonl"), "--output", str(tmp_path / "lead.jsonl"),
                           "--retriever", "lead", "--beam", "1", "--max-len-b", "5", "--cpu"]) == 0
    assert "the model was trained and validated on other inputs" in capfd.readouterr().err
