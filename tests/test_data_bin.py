"""A data-bin and its record (summ_plugin.data.data_bin): found from any data path, read typed,
versioned; summ-summarize and summ-export-hf read a sharded data-bin's record from its root."""
import json
import logging
import os
import shutil
from argparse import Namespace

import pytest

from summ_plugin.data.config import PrepareConfig
from summ_plugin.data.data_bin import (
    FORMAT_VERSION, DataBin, DataBinError, PreparedBudget, RecordedFile, RetrieverSetting, read_manifest,
)
from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin

BUDGET = 80


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, tiny_vocab, tiny_raw_dir):
    """A two-shard data-bin with the default retriever (chosen on valid: a learned one on these
    records, with a selector file) under an 80-token budget: what the task's defaults never give."""
    dest = os.path.join(str(tmp_path_factory.mktemp("sharded")), "bin")
    path = prepare_data_bin(PrepareConfig(
        destdir=dest, encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"],
        dict_path=tiny_vocab["dict"], inputs=find_split_inputs(tiny_raw_dir), shards=2,
        max_source_positions=BUDGET, max_target_positions=64))
    return dest, path


def test_every_data_path_of_a_sharded_data_bin_finds_its_root_and_record(sharded, tiny_vocab):
    root, path = sharded
    assert path == f"{root}/shard0:{root}/shard1"
    for given in (root, path, os.path.join(root, "shard0"), os.path.join(root, "shard1") + "/"):
        data_bin = DataBin.locate(given)
        assert data_bin.root == root and data_bin.data_path == path
        assert data_bin.shard_dirs == [os.path.join(root, "shard0"), os.path.join(root, "shard1")]
        assert data_bin.dictionary_path("source") == os.path.join(root, "shard0", "dict.source.txt")
        assert data_bin.budget == PreparedBudget(BUDGET, 64, 2, 1, "sentence")
        valid = data_bin.retriever("valid")
        assert valid.name in ("learned", "hybrid")
        assert valid.options["selector"] == os.path.join(root, "selector.json") == data_bin.selector_path("valid")
        assert data_bin.retriever("test") == valid
        assert data_bin.retriever("train") == RetrieverSetting("oracle", {"pad": "random"})
        assert data_bin.selector_path("train") is None
        manifest = data_bin.manifest
        assert manifest.encoder_json.path == tiny_vocab["encoder_json"] and len(manifest.encoder_json.sha256) == 64
        assert manifest.dictionary.path == tiny_vocab["dict"] and manifest.shards == 2
        assert manifest.splits["train"].examples == 24 and manifest.splits["valid"].input.endswith("valid.jsonl")


def test_a_directory_without_a_record_is_a_data_bin_of_its_own(tmp_path):
    (tmp_path / "shard0").mkdir()
    data_bin = DataBin.locate(str(tmp_path / "shard0"))
    assert data_bin.root == str(tmp_path / "shard0") and data_bin.manifest is None and data_bin.budget is None
    assert data_bin.retriever("valid") == RetrieverSetting("lead", {})
    assert data_bin.retriever("valid", fallback="bm25") == RetrieverSetting("bm25", {})
    assert data_bin.split_mode == "sentence"


def test_each_fact_is_stored_once(sharded):
    root, _ = sharded
    with open(os.path.join(root, "prepare.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    assert record["format_version"] == FORMAT_VERSION == 2
    keys = []

    def walk(obj, where=""):
        if isinstance(obj, dict):
            for key, value in obj.items():
                if not where.startswith("default_choice.candidates"):  # the table of the choice
                    keys.append(key)
                walk(value, f"{where}{key}.")
        elif isinstance(obj, list):
            for value in obj:
                walk(value, where + "candidates" if where.endswith("default_choice.") else where)

    walk(record)
    for fact in ("max_source_positions", "max_target_positions", "split_mode", "shards", "encoder_json",
                 "vocab_bpe", "dictionary"):
        assert keys.count(fact) == 1, fact
    # one retriever per split, nowhere else; nothing derived from where the data-bin once was
    assert sorted(record["retrievers"]) == ["test", "train", "valid"]
    assert "retriever" not in keys and "retriever_options" not in keys
    assert not {"data_path", "destdir", "inputs", "dict_path"} & set(keys)
    assert record["retrievers"]["valid"]["options"]["selector"] == "selector.json"  # moves with the data-bin


V1_RECORD = {
    "format_version": 1,
    "budget": {"max_source_positions": 512, "max_target_positions": 1024, "reserved_tokens": 2, "separator_tokens": 1},
    "data_path": "/old/bin/shard0:/old/bin/shard1",
    "dictionary_size": 2008,
    "files_sha256": {"dict": "d" * 64, "encoder_json": "e" * 64, "vocab_bpe": "b" * 64},
    "options": {"allow_missing_summary": [], "destdir": "/old/bin", "dict_path": "v/dict.txt",
                "encoder_json": "v/encoder.json", "fields": None, "input_format": "auto",
                "inputs": {"train": "/d/train.jsonl", "valid": "/d/valid.jsonl"}, "max_source_positions": 512,
                "max_target_positions": 1024, "max_unk_rate": 1.0, "on_bad_record": "error", "overwrite": False,
                "retriever": "learned", "retriever_options": {"selector": "selector.json"},
                "selector_train_records": 200, "selector_valid_records": 200, "shards": 2, "split_mode": "paragraph",
                "train_retriever": None, "train_retriever_options": None, "vocab_bpe": "v/vocab.bpe", "workers": 1},
    "retrieval": {"chosen": {"candidates": [], "options": {"selector": "selector.json"}, "reason": "learned wins",
                             "retriever": "learned"},
                  "train": {"options": {"pad": "random"}, "retriever": "oracle"},
                  "valid": {"options": {"selector": "selector.json"}, "retriever": "learned"}},
    "shards": 2,
    "splits": {"train": {"examples": 160, "input": "/d/train.jsonl", "input_sha256": "1" * 64, "retriever": "oracle",
                         "retriever_options": {"pad": "random"}, "skipped": 0},
               "valid": {"examples": 24, "input": "/d/valid.jsonl", "input_sha256": "2" * 64, "retriever": "learned",
                         "retriever_options": {"selector": "selector.json"}, "skipped": 0}},
}


def test_a_version_1_record_reads_as_the_same_facts(tmp_path):
    (tmp_path / "prepare.json").write_text(json.dumps(V1_RECORD), encoding="utf-8")
    data_bin = DataBin.locate(str(tmp_path / "shard1"))
    manifest = data_bin.manifest
    assert data_bin.root == str(tmp_path) and manifest.format_version == 1 and manifest.shards == 2
    assert manifest.budget == PreparedBudget(512, 1024, 2, 1, "paragraph")
    assert data_bin.retriever("valid") == RetrieverSetting("learned", {"selector": str(tmp_path / "selector.json")})
    assert data_bin.retriever("train") == RetrieverSetting("oracle", {"pad": "random"})
    assert manifest.encoder_json == RecordedFile("v/encoder.json", "e" * 64)
    assert manifest.dictionary == RecordedFile("v/dict.txt", "d" * 64) and manifest.dictionary_size == 2008
    assert manifest.splits["valid"].figures == {"examples": 24, "skipped": 0}
    assert manifest.default_choice == {"candidates": [], "reason": "learned wins"}
    assert "retriever" not in manifest.options and manifest.options["workers"] == 1
    # and it writes out as version 2 with the same facts
    again = type(manifest).from_json(json.loads(json.dumps(manifest.to_json())))
    assert again.format_version == 2 and again.budget == manifest.budget and again.retrievers == manifest.retrievers
    # an older version 1 file, from before the retrievers were recorded per split: its options
    older = {k: v for k, v in V1_RECORD.items() if k != "retrieval"}
    (tmp_path / "prepare.json").write_text(json.dumps(older), encoding="utf-8")
    data_bin = DataBin.locate(str(tmp_path))
    assert data_bin.retriever("valid").name == "learned" and data_bin.retriever("train").name == "lead"


@pytest.mark.parametrize("change, message", [
    ({"format_version": 3}, "format_version 3 is newer than this summ_plugin reads (up to 2)"),
    ({"format_version": 0}, "unknown format_version 0"),
    ({"format_version": "2"}, "unknown format_version '2'"),
    ({"format_version": None}, "no format_version: not a summ-prepare record"),
    ({"budget": {"max_source_positions": "512"}}, "key 'budget.max_source_positions': expected an integer"),
    ({"retrievers": {"valid": {"options": {}}}}, "key 'retrievers.valid.name' is missing"),
    ({"splits": {"train": 3}}, "key 'splits.train': expected dict"),
])
def test_a_newer_unknown_or_broken_record_is_a_one_line_error_naming_it(sharded, tmp_path, change, message):
    root, _ = sharded
    with open(os.path.join(root, "prepare.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(record.get(key), dict):
            record[key] = dict(record[key], **value)
        else:
            record[key] = value
    record = {k: v for k, v in record.items() if v is not None}
    path = tmp_path / "prepare.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(DataBinError) as caught:
        DataBin.locate(str(tmp_path))
    assert str(caught.value) == f"{path}: {message}" or str(caught.value).startswith(f"{path}: {message}")
    assert "\n" not in str(caught.value)


def test_corrupt_json_is_named_with_its_line(tmp_path):
    (tmp_path / "prepare.json").write_text('{\n  "format_version": 2,\n  "budget": \n', encoding="utf-8")
    with pytest.raises(DataBinError, match=r"prepare.json:4: invalid JSON"):
        read_manifest(str(tmp_path / "prepare.json"))


def test_the_task_checks_positions_against_a_corrupt_record_instead_of_skipping_it(tmp_path):
    """A prepare.json the task cannot read stops it (the budget check would be skipped)."""
    from summ_plugin.tasks.positions_check import check_positions_fit_data

    (tmp_path / "prepare.json").write_text("[]", encoding="utf-8")
    with pytest.raises(DataBinError, match="not a summ-prepare record"):
        check_positions_fit_data(str(tmp_path), 1024, "task")


# ----------------------------------------------------------------------------- the sharded data-bin bug


def _task_cfg(data):
    return Namespace(data=data, max_source_positions=1024, encoder_json=None, vocab_bpe=None, retriever=None)


def test_summarize_takes_retriever_selector_and_budget_from_a_sharded_data_bins_root(sharded, tiny_vocab, caplog):
    """A model trained on 'bin/shard0:bin/shard1' (its task.data): the record is in bin/, not
    in bin/shard0 (which holds only the dictionary and the data)."""
    from summ_plugin.summarize import SummarizeConfig, resolve_inference_settings

    root, path = sharded
    config = SummarizeConfig(checkpoint="unused.pt", input="unused.jsonl", output="unused-out.jsonl")
    with caplog.at_level(logging.INFO, logger="summ_plugin.summarizer"):
        settings = resolve_inference_settings(config, _task_cfg(path), model_positions=1024)
    recorded = DataBin.locate(root).retriever("valid")
    assert settings["retriever"] == recorded.name in ("learned", "hybrid")
    assert settings["retriever_options"] == recorded.options
    assert settings["retriever_options"]["selector"] == os.path.join(root, "selector.json")
    assert settings["max_source_positions"] == BUDGET  # not the model's 1024
    assert settings["dict_path"] == os.path.join(root, "shard0", "dict.source.txt")
    assert settings["encoder_json"] == tiny_vocab["encoder_json"]
    assert os.path.join(root, "prepare.json") in caplog.text
    # --data-bin given as the root of the sharded data-bin: the same
    root_settings = resolve_inference_settings(
        SummarizeConfig(checkpoint="unused.pt", input="unused.jsonl", output="unused-out.jsonl", data_bin=root),
        _task_cfg("/elsewhere/bin"), model_positions=1024)
    assert root_settings == settings


def test_summarize_refuses_a_newer_record_in_one_line(sharded, tmp_path):
    from summ_plugin.summarize import SummarizeConfig, SummarizeError, resolve_inference_settings

    root, _ = sharded
    copy = str(tmp_path / "bin")
    shutil.copytree(root, copy)
    with open(os.path.join(copy, "prepare.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    record["format_version"] = 99
    with open(os.path.join(copy, "prepare.json"), "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    config = SummarizeConfig(checkpoint="unused.pt", input="unused.jsonl", output="unused-out.jsonl")
    with pytest.raises(SummarizeError, match="format_version 99 is newer"):
        resolve_inference_settings(config, _task_cfg(os.path.join(copy, "shard0")), model_positions=1024)


def test_export_writes_the_sharded_data_bins_retrieval_setup(sharded, tmp_path):
    from summ_plugin.export_hf.checkpoint import FairseqBart
    from summ_plugin.export_hf.model_card import copy_retrieval_setup
    from summ_plugin.export_hf.vocabulary import find_data_bin

    root, path = sharded
    bart = FairseqBart("model.pt", {}, {}, {"data": path}, {}, {})
    data_bin = find_data_bin(bart, None)
    assert data_bin.root == root
    retrieval = copy_retrieval_setup(data_bin, str(tmp_path / "retrieval"))
    recorded = data_bin.retriever("valid")
    assert retrieval["retriever"] == recorded.name in ("learned", "hybrid")
    assert retrieval["retriever_options"]["selector"] == os.path.join("retrieval", "selector.json")
    assert retrieval["budget"]["max_source_positions"] == BUDGET and retrieval["split_mode"] == "sentence"
    assert retrieval["train_retriever"] == "oracle"
    # the copied record reads, beside its selector, as the data-bin's own
    exported = DataBin.read(str(tmp_path / "retrieval"))
    assert exported.retriever("valid").options["selector"] == str(tmp_path / "retrieval" / "selector.json")
    with open(exported.selector_path("valid"), "rb") as a, open(data_bin.selector_path("valid"), "rb") as b:
        assert a.read() == b.read()


def test_summarize_and_export_of_a_model_trained_on_shards(tiny_checkpoint, sharded, tiny_raw_dir, tmp_path):
    """The reproduction of issue 22, end to end: a checkpoint whose task.data is the shard list
    summarizes with the recorded retriever and budget (the data-bin's own test split shows the
    passages that retriever picks), and its export's retrieval.json says the same."""
    import torch

    from summ_plugin.checkpoints import load_checkpoint_safely
    from summ_plugin.cli.summarize import main as summarize_main

    root, path = sharded
    state = load_checkpoint_safely(tiny_checkpoint)
    state["cfg"]["task"]["data"] = path  # as if trained with fairseq-train bin/shard0:bin/shard1
    checkpoint = str(tmp_path / "checkpoint_sharded.pt")
    torch.save(state, checkpoint)
    out = tmp_path / "hyps.jsonl"
    assert summarize_main(["--path", checkpoint, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                           "--output", str(out), "--beam", "1", "--max-len-b", "5", "--cpu"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    meta = [json.loads(line) for line in open(os.path.join(root, "shard0", "test.meta.jsonl"), encoding="utf-8")]
    assert [r["retriever"] for r in rows] == [m["retriever"] for m in meta]
    assert rows[0]["retriever"] == DataBin.read(root).retriever("test").name != "lead"
    assert [r["passage_ids"] for r in rows] == [m["passage_ids"] for m in meta]
    assert [r["n_source_tokens"] for r in rows] == [m["n_source_tokens"] for m in meta]
    assert max(r["n_source_tokens"] for r in rows) <= BUDGET

    pytest.importorskip("transformers")
    from summ_plugin.cli.export_hf import main as export_main

    assert export_main(["--checkpoint", checkpoint, "--out", str(tmp_path / "hf")]) == 0
    retrieval = json.loads((tmp_path / "hf" / "retrieval.json").read_text(encoding="utf-8"))
    assert retrieval["retriever"] == rows[0]["retriever"]
    assert retrieval["budget"]["max_source_positions"] == BUDGET
