"""scripts/make_sample_data.py and the shipped data/sample/ corpus."""
import importlib.util
import os

from summ_plugin.data.formats import iter_jsonl_records
from summ_plugin.data.records import Record
from summ_plugin.retrieval import approx_token_count, build_retriever, retrieval_coverage, select_source

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLE = os.path.join(ROOT, "data", "sample")


def load_generator():
    spec = importlib.util.spec_from_file_location("make_sample_data", os.path.join(ROOT, "scripts", "make_sample_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_bytes(directory):
    return {name: open(os.path.join(directory, f"{name}.jsonl"), "rb").read() for name in ("train", "valid", "test")}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    generator = load_generator()
    counts = ["--train", "6", "--valid", "2", "--test", "2"]
    for name in ("a", "b"):
        assert generator.main(["--seed", "3", "--out", str(tmp_path / name)] + counts) == 0
    generator.main(["--seed", "4", "--out", str(tmp_path / "c")] + counts)
    assert read_bytes(tmp_path / "a") == read_bytes(tmp_path / "b")
    assert read_bytes(tmp_path / "a")["train"] != read_bytes(tmp_path / "c")["train"]


def test_shipped_files_are_what_the_script_writes(tmp_path):
    load_generator().main(["--seed", "0", "--out", str(tmp_path)])
    assert read_bytes(tmp_path) == read_bytes(SAMPLE)


def test_shipped_records_have_the_promised_shape():
    total_bytes = 0
    for split, expected in (("train", 160), ("valid", 24), ("test", 24)):
        path = os.path.join(SAMPLE, f"{split}.jsonl")
        total_bytes += os.path.getsize(path)
        records = list(iter_jsonl_records(path))
        assert all(isinstance(r, Record) for r in records), [r for r in records if not isinstance(r, Record)][:1]
        assert len(records) == expected
        assert len({r.id for r in records}) == expected
        assert any(r.query for r in records) and any(len(r.documents) > 1 for r in records)
        assert any(r.title for r in records)
        for record in records:
            words = sum(len(d.split()) for d in record.documents)
            assert 1400 <= words <= 2700, (record.id, words)
            lines = record.summary.split("\n")
            assert 3 <= len(lines) <= 6 and all(line.endswith(".") for line in lines)
    assert total_bytes < 4_000_000


def test_bm25_and_centrality_beat_lead_on_the_shipped_test_split():
    records = [r for r in iter_jsonl_records(os.path.join(SAMPLE, "test.jsonl"))][:12]
    means = {}
    for name in ("lead", "bm25", "centrality"):
        retriever = build_retriever(name)
        total = 0.0
        for record in records:
            selection = select_source(record.documents, query=record.query, reference=record.summary,
                                      title=record.title, retriever=retriever, max_positions=1024,
                                      count_tokens=approx_token_count)
            total += retrieval_coverage(" ".join(selection.passages), record.summary)["rouge2_recall"]
        means[name] = total / len(records)
    assert means["bm25"] > means["lead"] + 0.15, means
    assert means["centrality"] > means["lead"] + 0.05, means
