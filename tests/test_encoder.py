"""The record-to-model-input core (data/encoder.py), the bad-record policy, the split writer
and the worker protocol of summ-prepare."""
import json
import logging
import os
import pickle

import pytest

from summ_plugin.data.bad_records import BadRecordPolicy, with_duplicate_check
from summ_plugin.data.records import BadRecordError, Record
from summ_plugin.retrieval import Retriever

DOCUMENT = ("The council met on Monday. Roads will be repaired in spring. Teachers asked for books. "
            "The mayor kept taxes flat. A zebra escaped from the river market.")
SUMMARY = "A zebra escaped from the river market."


@pytest.fixture(scope="module")
def encoder(tiny_vocab):
    from summ_plugin.data.encoder import ExampleEncoder

    return ExampleEncoder(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"], tiny_vocab["dict"],
                          max_source_positions=24, max_target_positions=6)


@pytest.fixture(scope="module")
def reference_ids(tiny_vocab):
    """Dictionary ids of " " + text straight from fairseq's BPE reader, not through the encoder."""
    from fairseq.data import Dictionary
    from fairseq.data.encoders.gpt2_bpe_utils import get_encoder

    bpe = get_encoder(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"])
    dictionary = Dictionary.load(tiny_vocab["dict"])
    return lambda text: [dictionary.index(str(i)) for i in bpe.encode(" " + text)]


class SpyRetriever(Retriever):
    """Lead order; remembers the reference it was given."""

    name = "spy"

    def __init__(self):
        self.references = []

    def rank(self, passages, query, reference, title):
        self.references.append(reference)
        return list(range(len(passages)))


def record(**fields):
    values = dict(id="r1", documents=[DOCUMENT], summary=SUMMARY, location="in.jsonl:3")
    values.update(fields)
    return Record(**values)


# ----------------------------------------------------------------------------- encoder steps


def test_budget_is_the_prepared_layout(encoder):
    budget = encoder.budget()
    assert (budget.max_positions, budget.reserved_tokens, budget.separator_tokens, budget.split_mode) == \
        (24, 2, 1, "sentence")
    assert budget.token_bounds is not None


def test_source_stays_within_the_budget_query_first_then_passages_then_eos(encoder, reference_ids):
    query = "What about the roads?"
    source, selection = encoder.build_source(record(query=query), encoder.retriever("lead"), use_reference=False)
    # 24 positions, 2 reserved (fairseq's </s> and a margin): at most 23 ids, the closing </s> included
    assert len(source) <= 23
    query_ids = reference_ids(query)
    assert source[:len(query_ids) + 1] == query_ids + [encoder.eos]
    passage_ids = [i for passage in selection.passages for i in reference_ids(passage)]
    assert source[len(query_ids) + 1:] == passage_ids + [encoder.eos]
    assert selection.passages and DOCUMENT.startswith(" ".join(selection.passages))  # lead: the opening


def test_target_is_cut_to_max_target_positions_and_ends_with_eos(encoder, reference_ids):
    long_summary = "The council voted to approve a new budget for schools roads and parks."
    target, truncated = encoder.build_target(long_summary)
    assert truncated and len(target) == 6
    assert target == reference_ids(long_summary)[:5] + [encoder.eos]

    target, truncated = encoder.build_target("Parks.")
    assert not truncated and target == reference_ids("Parks.") + [encoder.eos]
    # summary lines are joined with one space: no newline reaches the target
    assert encoder.build_target("Parks.\nRoads.")[0] == reference_ids("Parks. Roads.")[:5] + [encoder.eos]
    assert encoder.build_target(None) == ([encoder.eos], False)


def test_use_reference_decides_whether_retrieval_sees_the_summary(encoder):
    spy = SpyRetriever()
    encoder.select(record(), spy, use_reference=True)
    encoder.select(record(), spy, use_reference=False)
    assert spy.references == [SUMMARY, None]

    oracle = encoder.retriever("oracle")
    with pytest.raises(ValueError, match="needs the reference summary"):
        encoder.select(record(), oracle, use_reference=False)
    # with the summary the oracle reads the last sentence, which lead (24 positions) never reaches
    assert "A zebra escaped from the river market." in encoder.select(record(), oracle, use_reference=True).passages
    assert "A zebra escaped from the river market." not in \
        encoder.select(record(), encoder.retriever("lead"), use_reference=True).passages


def test_coverage_is_recall_of_the_summary_by_the_selected_text(encoder):
    selection = encoder.select(record(), encoder.retriever("oracle"), use_reference=True)
    coverage = encoder.coverage(selection, SUMMARY)
    assert coverage["rouge1_recall"] == 1.0 and coverage["rouge2_recall"] == 1.0


def test_encode_cleans_the_record_and_refuses_one_with_nothing_left(encoder):
    example, cleaned = encoder.encode(record(documents=["Roads\x00 will be repaired."]), encoder.retriever("lead"),
                                      use_reference=False)
    assert cleaned
    assert encoder.decode(example["source"]) == "Roads will be repaired."
    assert example["meta"]["id"] == "r1" and example["meta"]["n_source_tokens"] == len(example["source"])

    with pytest.raises(BadRecordError) as raised:
        encoder.encode(record(documents=["\x00\x01\x02"]), encoder.retriever("lead"), use_reference=False)
    assert (raised.value.location, raised.value.record_id) == ("in.jsonl:3", "r1")
    assert "empty document after removing control characters" in raised.value.reason


def test_decode_keeps_unknown_symbols(encoder):
    assert encoder.decode(list(encoder.encode_text("Parks and roads.")) + [encoder.eos]) == "Parks and roads."
    assert encoder.decode([encoder.dictionary.unk()]) == "<unk>"


def test_without_bpe_files_tokens_are_counted_approximately():
    from summ_plugin.data.encoder import ExampleEncoder

    approximate = ExampleEncoder(None, None, max_source_positions=64)
    assert approximate.count_tokens("one two three") == 4  # ceil(1.3 * 3)
    assert approximate.budget().token_bounds is None
    with pytest.raises(RuntimeError, match="no BPE files"):
        approximate.encode_text("one")
    assert approximate.with_source_positions(128).budget().max_positions == 128
    assert approximate.budget().max_positions == 64


# ----------------------------------------------------------------------------- bad records


def test_policy_error_raises_one_line_naming_file_line_and_id():
    policy = BadRecordPolicy("error", RuntimeError)
    with pytest.raises(RuntimeError) as raised:
        policy.handle(BadRecordError("in.jsonl:7", "missing field 'summary'", "a1"))
    assert str(raised.value) == "in.jsonl:7: missing field 'summary' (id 'a1')"
    with pytest.raises(RuntimeError) as raised:  # an error found before the id was read
        policy.handle(BadRecordError("in.jsonl:8", "malformed JSON: Expecting value"))
    assert str(raised.value) == "in.jsonl:8: malformed JSON: Expecting value"


def test_policy_skip_counts_keeps_the_first_and_logs_one_line(caplog):
    skipped = []
    policy = BadRecordPolicy("skip", RuntimeError, on_skip=skipped.append)
    first = BadRecordError("in.jsonl:2", "empty summary", "b")
    second = BadRecordError("in.jsonl:4", "malformed JSON: Expecting value")
    good = record()
    assert list(policy.records([first, good, second])) == [good]
    assert policy.skipped == 2 and policy.first is first and skipped == [first, second]
    with caplog.at_level(logging.INFO):
        policy.log_summary(logging.getLogger("test"), "in.jsonl")
    assert [r.getMessage() for r in caplog.records] == [
        "in.jsonl: skipped 2 bad record(s) (first: in.jsonl:2: empty summary (id 'b'))"]


def test_policy_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="error or skip"):
        BadRecordPolicy("ignore", RuntimeError)


def test_a_repeated_id_becomes_a_bad_record_naming_the_first():
    items = list(with_duplicate_check([record(location="f:1"), record(location="f:2"), record(id="r2")]))
    assert isinstance(items[1], BadRecordError)
    assert str(items[1]) == "f:2: duplicate id 'r1' (first at f:1)"
    assert [type(i) for i in (items[0], items[2])] == [Record, Record]


# ----------------------------------------------------------------------------- the split writer


def _example(source, target, truncated=False):
    meta = {"id": "x", "passage_ids": [0], "n_source_tokens": len(source), "target_truncated": truncated}
    return {"source": source, "target": target, "meta": meta}


def _read(prefix):
    from fairseq.data.indexed_dataset import MMapIndexedDataset

    return [item.tolist() for item in MMapIndexedDataset(prefix)]


def test_split_writer_writes_round_robin_over_shards_and_holds_its_stats(tmp_path):
    from summ_plugin.data.split_writer import SplitWriter

    shards = [tmp_path / "shard0", tmp_path / "shard1"]
    for shard in shards:
        shard.mkdir()
    with SplitWriter("train", [str(s) for s in shards], vocab_size=50, unk=3, skip_dir=str(tmp_path)) as writer:
        writer.add(_example([5, 6, 2], [7, 2]), cleaned=False)
        writer.add(_example([8, 3, 2], [9, 9, 2], truncated=True), cleaned=True)
        writer.skip(BadRecordError("in.jsonl:3", "empty summary", "c"))
        writer.add(_example([10, 2], [11, 2]), cleaned=False)
    assert _read(str(shards[0] / "train.source-target.source")) == [[5, 6, 2], [10, 2]]
    assert _read(str(shards[1] / "train.source-target.target")) == [[9, 9, 2]]
    assert [json.loads(line)["n_source_tokens"] for line in open(shards[0] / "train.meta.jsonl")] == [3, 2]
    assert [json.loads(line) for line in open(tmp_path / "train.skipped.jsonl")] == [
        {"location": "in.jsonl:3", "id": "c", "reason": "empty summary"}]
    stats = writer.stats.to_json()
    assert (stats["examples"], stats["skipped"], stats["records_cleaned"], stats["targets_truncated"]) == (3, 1, 1, 1)
    assert (writer.stats.tokens, writer.stats.unk_tokens) == (15, 1)


def test_split_writer_leaves_nothing_that_looks_complete_after_an_error(tmp_path):
    from summ_plugin.data.split_writer import SplitWriter

    with pytest.raises(OSError, match="disk full"):
        with SplitWriter("valid", [str(tmp_path)], vocab_size=50, unk=3, skip_dir=str(tmp_path)) as writer:
            writer.add(_example([5, 2], [7, 2]), cleaned=False)
            writer.skip(BadRecordError("in.jsonl:3", "empty summary", "c"))
            raise OSError("disk full")
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------------------- the worker protocol


def test_a_worker_returns_examples_and_bad_records_in_input_order(tiny_vocab):
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import _encode_chunk, _init_worker

    _init_worker(PrepareConfig(destdir="", encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"],
                               dict_path=tiny_vocab["dict"], max_source_positions=48))
    read_error = BadRecordError("in.jsonl:2", "malformed JSON: Expecting value")
    chunk = [record(), read_error, record(id="r3", documents=["\x00"], location="in.jsonl:4")]
    results = pickle.loads(pickle.dumps(_encode_chunk((("oracle", {}), True, chunk))))  # as from a worker process
    (example,), cleaned = results[0]  # one example per reference; this record has one
    assert example["meta"]["retriever"] == "oracle" and not cleaned
    assert isinstance(results[1], BadRecordError) and str(results[1]) == str(read_error)
    assert isinstance(results[2], BadRecordError)
    assert (results[2].location, results[2].record_id) == ("in.jsonl:4", "r3")
