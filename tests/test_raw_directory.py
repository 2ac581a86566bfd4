"""A task data path is "raw" by the rule summ-prepare's find_split_inputs uses."""
import csv
import json
import os
import shutil

import pytest

from summ_plugin.data.config import PrepareError
from summ_plugin.data.prepare import find_split_inputs
from summ_plugin.tasks.raw_data import is_raw_directory
from summ_plugin.tasks.retrieve_summarize import RetrieveSummarizeConfig, RetrieveSummarizeTask
from tests._prepare_fixtures import make_records


def write_csv(path, records):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "document", "summary"])
        writer.writeheader()
        for record in records:
            writer.writerow({key: record[key] for key in ("id", "document", "summary")})


@pytest.mark.parametrize("files, is_raw", [
    (["train.csv", "valid.csv"], True),
    (["train.jsonl", "valid.jsonl"], True),
    (["train.parquet"], True),
    (["validation.tsv"], True),  # Hugging Face's name for valid
    (["dev.jsonl.gz"], True),
    (["test.jsonl"], False),  # nothing to train or validate on
    (["notes.txt"], False),
    ([], False),
])
def test_raw_directory_rule_is_find_split_inputs_rule(tmp_path, files, is_raw):
    for name in files:
        (tmp_path / name).write_bytes(b"")
    assert is_raw_directory(str(tmp_path)) is is_raw
    if is_raw:
        # what the task calls raw, summ-prepare finds a train or valid input in
        assert {"train", "valid"} & set(find_split_inputs(str(tmp_path)))
    elif files != ["test.jsonl"]:
        with pytest.raises(PrepareError):
            find_split_inputs(str(tmp_path))


def test_a_data_bin_is_not_raw(tiny_data_bin, tmp_path):
    assert not is_raw_directory(tiny_data_bin)
    # even with a train.jsonl dropped next to the binarized files
    copy = tmp_path / "bin"
    shutil.copytree(tiny_data_bin, copy)
    (copy / "train.jsonl").write_text("", encoding="utf-8")
    assert not is_raw_directory(str(copy))


def test_task_prepares_a_csv_raw_directory(tmp_path, tiny_vocab):
    raw = tmp_path / "raw"
    raw.mkdir()
    write_csv(raw / "train.csv", make_records(8, seed=1))
    write_csv(raw / "valid.csv", make_records(3, seed=2))
    for key, name in (("encoder_json", "encoder.json"), ("vocab_bpe", "vocab.bpe"), ("dict", "dict.txt")):
        shutil.copyfile(tiny_vocab[key], raw / name)
    cfg = RetrieveSummarizeConfig(data=str(raw), retriever="lead", train_retriever="oracle", max_source_positions=96,
                                  raw_cache_dir=str(tmp_path / "cache"))
    task = RetrieveSummarizeTask.setup_task(cfg)
    data_bin = task.cfg.data
    assert data_bin != str(raw) and data_bin.startswith(str(tmp_path / "cache"))
    assert os.path.isfile(os.path.join(data_bin, "dict.source.txt"))
    with open(os.path.join(data_bin, "train.meta.jsonl"), encoding="utf-8") as handle:
        train_ids = [json.loads(line)["id"] for line in handle]
    # make_records(8, seed=1) names its records doc1-0 ... doc1-7
    assert train_ids == [f"doc1-{i}" for i in range(8)]


def test_raw_directory_settings_given_with_a_data_bin_are_named_in_a_warning(tiny_data_bin, caplog):
    """--retriever and the other raw-directory settings do nothing when DATA is a data-bin (its
    prepare.json holds the retrieval it was made with): a WARNING names them, not silence."""
    import logging

    from summ_plugin.tasks.raw_data import resolve_data_path

    quiet = RetrieveSummarizeConfig(data=tiny_data_bin)
    given = RetrieveSummarizeConfig(data=tiny_data_bin, retriever="bm25", split_mode="paragraph",
                                    retriever_options='{"k1": 1.2}')
    with caplog.at_level(logging.WARNING, logger="summ_plugin.tasks.raw_data"):
        assert resolve_data_path(quiet) == tiny_data_bin
        assert not caplog.records
        assert resolve_data_path(given) == tiny_data_bin
        assert resolve_data_path(given, warn_unused=False) == tiny_data_bin  # a checkpoint's own settings
    assert len(caplog.records) == 1
    message = caplog.records[0].getMessage()
    assert "--retriever, --retriever-options, --split-mode apply only to a raw directory" in message
