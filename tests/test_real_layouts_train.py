"""Issue 8 end to end: each input layout users have prepares with one summ-prepare command
into a data-bin that trains through fairseq-train --user-dir summ_plugin."""
import hashlib
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from summ_plugin.cli.prepare import main as prepare_main
from summ_plugin.data.data_bin import DataBin
from tests._fairseq import fairseq_train
from tests._prepare_fixtures import make_records

N_TRAIN, N_VALID = 10, 8


def _records(n, seed):
    # summaries with one sentence per line, as the highlights of a story
    return make_records(n, seed=seed)


def _write_cnndm(root, train, valid, test):
    stories = os.path.join(root, "cnn", "stories")
    os.makedirs(stories)
    lists = {"all_train.txt": [], "all_val.txt": [], "all_test.txt": []}
    for name, records in (("all_train.txt", train), ("all_val.txt", valid), ("all_test.txt", test)):
        for rec in records:
            url = f"http://www.cnn.com/2015/{rec['id']}/index.html"
            lists[name].append(url)
            highlights = "".join(f"\n\n@highlight\n\n{line}" for line in rec["summary"].split("\n"))
            story = os.path.join(stories, hashlib.sha1(url.encode("utf-8")).hexdigest() + ".story")
            with open(story, "w", encoding="utf-8") as handle:
                handle.write(rec["document"] + highlights + "\n")
    os.makedirs(os.path.join(root, "url_lists"))
    for name, urls in lists.items():
        with open(os.path.join(root, "url_lists", name), "w", encoding="utf-8") as handle:
            handle.write("\n".join(urls) + "\n")
    return ["--input", root, "--format", "cnndm-stories"]


def _write_hf(root, train, valid, layout, ext):
    columns = {"cnn_dailymail": ("article", "highlights"), "xsum": ("document", "summary"),
               "billsum": ("text", "summary")}[layout]
    os.makedirs(root)
    for split, records in (("train", train), ("validation", valid)):
        rows = []
        for rec in records:
            row = {columns[0]: rec["document"], columns[1]: rec["summary"]}
            if layout == "billsum":
                row["title"] = "A bill about " + rec["id"]
            else:
                row["id"] = rec["id"]
            rows.append(row)
        path = os.path.join(root, split + ext)
        if ext == ".parquet":
            pq.write_table(pa.Table.from_pylist(rows), path)
        elif ext == ".csv":
            import csv

            with open(path, "w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        else:
            with open(path, "w", encoding="utf-8") as handle:
                handle.writelines(json.dumps(row) + "\n" for row in rows)
    return ["--input", root]


@pytest.mark.usefixtures("fairseq_processes")
@pytest.mark.parametrize("layout", [
    ("cnndm-stories", None), ("cnn_dailymail", ".jsonl"), ("xsum", ".csv"), ("billsum", ".parquet"),
])
def test_layout_prepares_and_trains(layout, tiny_vocab, tmp_path):
    name, ext = layout
    train, valid = _records(N_TRAIN, seed=21), _records(N_VALID, seed=22)
    raw = str(tmp_path / "raw")
    if name == "cnndm-stories":
        input_args = _write_cnndm(raw, train, valid, _records(2, seed=23))
    else:
        input_args = _write_hf(raw, train, valid, name, ext)
    dest = str(tmp_path / "data-bin")
    code = prepare_main([
        *input_args, "--destdir", dest, "--encoder-json", tiny_vocab["encoder_json"],
        "--vocab-bpe", tiny_vocab["vocab_bpe"], "--dict", tiny_vocab["dict"], "--retriever", "bm25",
        "--train-retriever", "oracle", "--max-source-positions", "96", "--max-target-positions", "64",
    ])
    assert code in (0, None)
    splits = DataBin.read(dest).manifest.splits
    assert splits["train"].examples == N_TRAIN and splits["valid"].examples == N_VALID
    out = fairseq_train(dest, str(tmp_path / "ckpt"), "--max-update", "2")
    assert "num_updates: 2 >= max_update: 2" in out
    assert os.path.isfile(tmp_path / "ckpt" / "checkpoint_last.pt")
