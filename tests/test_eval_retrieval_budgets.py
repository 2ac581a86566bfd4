"""summ-eval-retrieval with several budgets: what a longer window buys, side by side."""
import json

import pytest

from summ_plugin.cli import eval_retrieval
from tests._prepare_fixtures import make_records, write_jsonl


def records_with_late_summaries(n):
    """Summaries taken from the documents' 12th and 14th sentences: past a 64-token lead."""
    records = make_records(n, seed=5, sentences=30)
    for record in records:
        sentences = [s.strip() + "." for s in record["document"].split(".") if s.strip()]
        record["summary"] = sentences[11] + "\n" + sentences[13]
    return records


def test_budgets_side_by_side(tmp_path, capsys):
    data = write_jsonl(str(tmp_path / "test.jsonl"), records_with_late_summaries(4))
    out = tmp_path / "coverage.json"
    assert eval_retrieval.main(["--input", data, "--retrievers", "lead,bm25,oracle",
                                "--max-positions", "64,160", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "budgets 64, 160 tokens" in table
    assert "| retriever | ROUGE-1 recall @64 | ROUGE-1 recall @160 |" in table
    assert table.count("\n| lead |") == 1
    report = json.loads(out.read_text())
    small, large = report["budgets"]
    assert (small["max_positions"], large["max_positions"]) == (64, 160)
    assert all(r["mean_tokens"] <= 64 for r in small["results"].values())
    assert all(r["mean_tokens"] <= 160 for r in large["results"].values())
    # a longer lead covers more of the reference (the summary facts are spread through the text)
    assert large["results"]["lead"]["rouge1_recall"] > small["results"]["lead"]["rouge1_recall"]
    # The summary is the document's 12th and 14th sentences (<= 2 x 14 words, ~37 tokens at 1.3
    # per word): the oracle picks exactly them within either budget, so it covers every unigram
    # and bigram of the reference.
    for budget in (small, large):
        assert budget["results"]["oracle"]["rouge1_recall"] == 1.0
        assert budget["results"]["oracle"]["rouge2_recall"] == 1.0
    # The 64-token lead (~47 words) ends before the 12th sentence (11 sentences of >= 6 words come
    # first): it shares only common words with the summary (0.45 measured) and no bigram of it
    # in these records (0.0 measured; the oracle's 1.0 is the ceiling).
    assert small["results"]["lead"]["rouge1_recall"] < 0.6
    assert small["results"]["lead"]["rouge2_recall"] < 0.2


def test_one_budget_keeps_the_single_table(tmp_path, capsys):
    data = write_jsonl(str(tmp_path / "test.jsonl"), make_records(2, seed=5))
    out = tmp_path / "c.json"
    assert eval_retrieval.main(["--input", data, "--retrievers", "lead", "--max-source-positions", "64",
                                "--json", str(out)]) == 0
    assert "--max-positions 64" in capsys.readouterr().out
    assert json.loads(out.read_text())["max_positions"] == 64


def test_bad_budgets_are_one_line_errors(tmp_path, capsys):
    data = write_jsonl(str(tmp_path / "test.jsonl"), make_records(2, seed=5))
    for spec, message in (("1024,x", "expected integers"), ("4", "too small")):
        with pytest.raises(SystemExit) as exit_info:
            eval_retrieval.main(["--input", data, "--max-positions", spec])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err
