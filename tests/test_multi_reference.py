"""Several references per record (issue 21, item 2): a summary may be a list of strings.

summ-score, summ-eval-retrieval and the default's choice score against the best reference (as
rouge-score's ``score_multi``); summ-prepare trains one example per reference and keeps the
first as the valid/test target, with every reference in the meta file."""
import gzip
import json
import os
import subprocess
import sys

import pytest
from rouge_score import rouge_scorer

from summ_plugin import rouge
from summ_plugin.cli.score import main as score_main
from summ_plugin.data.records import BadRecordError, record_from_dict
from summ_plugin.data.text import clean_record
from summ_plugin.retrieval import retrieval_coverage
from tests._prepare_fixtures import make_records, write_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

HYPS = ["The storm hit the coast and power was lost in the town.",
        "Officials approved the budget for schools after a debate.",
        "A cat sat on the mat."]
REFS = [["Power was lost in the town when the storm hit.", "The coast flooded.", "Nothing happened at all."],
        ["The council debated and approved a school budget.", "Officials approved the budget for schools."],
        ["Dogs bark.", "A cat sat.", "The mat was red and a cat sat on it."]]


def test_score_multi_equals_rouge_score():
    scorer = rouge_scorer.RougeScorer(list(rouge.ROUGE_TYPES), use_stemmer=True)
    for hyp, refs in zip(HYPS, REFS):
        ours = rouge.score_multi(hyp, refs)
        theirs = scorer.score_multi([rouge.prepare_for_lsum(r) for r in refs], rouge.prepare_for_lsum(hyp))
        for rouge_type in rouge.ROUGE_TYPES:
            assert ours[rouge_type] == pytest.approx(tuple(theirs[rouge_type]), abs=1e-12), rouge_type
    # one string is one reference
    assert rouge.score_multi(HYPS[0], REFS[0][0]) == rouge.score_pair(HYPS[0], REFS[0][0])


def test_summ_score_takes_the_best_reference(tmp_path, capsys):
    refs = tmp_path / "refs.jsonl"
    hyps = tmp_path / "hyps.jsonl"
    refs.write_text("".join(json.dumps({"id": i, "summary": r}) + "\n" for i, r in enumerate(REFS)))
    hyps.write_text("".join(json.dumps({"id": i, "hypothesis": h}) + "\n" for i, h in enumerate(HYPS)))
    out = tmp_path / "s.json"
    assert score_main(["--hyps", str(hyps), "--refs", str(refs), "--json", str(out), "--bootstrap", "0"]) == 0
    report = json.loads(out.read_text())
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    for rouge_type in ("rouge1", "rouge2"):
        expected = sum(scorer.score_multi(r, h)[rouge_type].fmeasure for h, r in zip(HYPS, REFS)) / len(HYPS)
        assert report["scores"][rouge_type]["fmeasure"]["mean"] == pytest.approx(100 * expected)
        # and it is not the first reference's figure (what a list used to mean)
        first = sum(scorer.score(r[0], h)[rouge_type].fmeasure for h, r in zip(HYPS, REFS)) / len(HYPS)
        assert report["scores"][rouge_type]["fmeasure"]["mean"] > 100 * first + 1


def test_hypotheses_as_list_stay_sentences_of_one_text(tmp_path):
    hyps = tmp_path / "hyps.jsonl"
    refs = tmp_path / "refs.jsonl"
    hyps.write_text(json.dumps({"id": 1, "hypothesis": ["Storms hit the coast.", "Power was lost."]}) + "\n")
    refs.write_text(json.dumps({"id": 1, "summary": "Power was lost. Storms hit the coast."}) + "\n")
    out = tmp_path / "s.json"
    assert score_main(["--hyps", str(hyps), "--refs", str(refs), "--json", str(out), "--bootstrap", "0"]) == 0
    assert json.loads(out.read_text())["scores"]["rouge1"]["fmeasure"]["mean"] == pytest.approx(100.0)


def test_record_with_a_list_of_references():
    record = record_from_dict({"id": "a", "document": "Text.", "summary": ["one", "two", "three"]}, "f:1")
    assert record.summary == "one" and record.references == ["one", "two", "three"]
    assert record.to_json()["summary"] == ["one", "two", "three"]
    cleaned, _ = clean_record(record_from_dict({"id": "a", "document": "x", "summary": ["a\x00b", "c\x07d"]}, "f:1"))
    assert cleaned.references == ["ab", "cd"]
    single = record_from_dict({"id": "a", "document": "Text.", "summary": "one"}, "f:1")
    assert single.references == ["one"] and single.to_json()["summary"] == "one"


@pytest.mark.parametrize("summary,message", [
    ([], "non-empty list of strings"), (["a", 3], "non-empty list of strings"), (["a", " "], "empty reference"),
    ([" ", "a"], "empty summary")])
def test_bad_reference_lists_name_the_line(summary, message):
    with pytest.raises(BadRecordError, match=message) as info:
        record_from_dict({"id": "a", "document": "Text.", "summary": summary}, "in.jsonl:7")
    assert str(info.value).startswith("in.jsonl:7: ")


def test_retrieval_coverage_is_the_best_over_references():
    selected = "the storm hit the coast and the town lost power"
    one = retrieval_coverage(selected, "the storm hit the coast")
    other = retrieval_coverage(selected, "nothing of this is there")
    both = retrieval_coverage(selected, ["nothing of this is there", "the storm hit the coast"])
    assert other["rouge2_recall"] == 0.0 and one["rouge2_recall"] == 1.0
    assert both == one


def _multi_reference_records(n, seed):
    records = make_records(n, seed=seed)
    for record in records:
        sentences = record["document"].split(". ")
        record["summary"] = [sentences[1] + ".", sentences[4] + ".", sentences[-2] + "."]
        record["query"] = "what happened?"
    return records


def test_prepare_trains_one_example_per_reference_and_keeps_all_in_meta(tmp_path, tiny_vocab):
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import prepare_data_bin

    train = write_jsonl(str(tmp_path / "train.jsonl"), _multi_reference_records(6, 1))
    valid_records = _multi_reference_records(3, 2)
    valid = write_jsonl(str(tmp_path / "valid.jsonl"), valid_records)
    dest = str(tmp_path / "bin")
    prepare_data_bin(PrepareConfig(destdir=dest, encoder_json=tiny_vocab["encoder_json"],
                                   vocab_bpe=tiny_vocab["vocab_bpe"], dict_path=tiny_vocab["dict"],
                                   inputs={"train": train, "valid": valid}, retriever="bm25",
                                   train_retriever="oracle", max_source_positions=96, max_target_positions=64))
    train_meta = [json.loads(line) for line in open(os.path.join(dest, "train.meta.jsonl"))]
    assert [m["id"] for m in train_meta[:4]] == ["doc1-0#ref0", "doc1-0#ref1", "doc1-0#ref2", "doc1-1#ref0"]
    assert len(train_meta) == 18
    # the oracle reads each reference in turn: selections differ between references of a record
    assert len({tuple(m["passage_ids"]) for m in train_meta[:3]}) > 1
    valid_meta = [json.loads(line) for line in open(os.path.join(dest, "valid.meta.jsonl"))]
    assert [m["id"] for m in valid_meta] == [r["id"] for r in valid_records]
    assert [m["references"] for m in valid_meta] == [r["summary"] for r in valid_records]
    # the valid target is the first reference: its token count matches that reference's
    from summ_plugin.data.encoder import ExampleEncoder
    encoder = ExampleEncoder(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"], tiny_vocab["dict"],
                             max_source_positions=96, max_target_positions=64)
    for meta, record in zip(valid_meta, valid_records):
        assert meta["n_target_tokens"] == len(encoder.build_target(record["summary"][0])[0])


def test_eval_retrieval_scores_against_every_reference(tmp_path):
    from summ_plugin.cli.eval_retrieval import main as eval_main

    records = _multi_reference_records(4, 5)
    for record in records:  # the first reference shares nothing with the document
        record["summary"][0] = "Zebras yodel quietly."
    path = write_jsonl(str(tmp_path / "in.jsonl"), records)
    only_first = write_jsonl(str(tmp_path / "first.jsonl"), [dict(r, summary=r["summary"][0]) for r in records])
    reports = []
    for name, source in (("multi", path), ("first", only_first)):
        out = tmp_path / f"{name}.json"
        assert eval_main(["--input", source, "--retrievers", "lead,oracle", "--max-positions", "40",
                          "--json", str(out)]) == 0
        reports.append(json.loads(out.read_text())["results"])
    multi, first = reports
    assert first["lead"]["rouge2_recall"] == first["oracle"]["rouge2_recall"] == 0.0
    assert multi["lead"]["rouge2_recall"] > 0.0
    # the oracle selects for each reference in turn; the best selection counts
    assert multi["oracle"]["rouge2_recall"] == 1.0


def test_make_squality_writes_one_record_per_question_with_all_responses(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    story = {"metadata": {"passage_id": "123", "uid": "u", "license": "PD"},
             "document": "Title\n \n\n By Someone\n \n \n First paragraph here.\n \n Second one.",
             "questions": [{"question_text": "What is the plot of the story?", "question_number": 1,
                            "responses": [{"worker_id": "w", "uid": "x", "response_text": f"Answer {n}."}
                                          for n in range(4)]},
                           {"question_text": "Who is  Someone?", "question_number": 2,
                            "responses": [{"worker_id": "w", "uid": "y", "response_text": "A writer."}]}]}
    for name in ("train", "dev"):
        with gzip.open(source / f"{name}.jsonl.gz", "wt") as handle:
            handle.write(json.dumps(story) + "\n")
    out = tmp_path / "out"
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_squality.py"), "--out", str(out),
                    "--source", str(source)], check=True, cwd=ROOT)
    rows = [json.loads(line) for line in open(out / "valid.jsonl")]
    assert [r["id"] for r in rows] == ["123-q1", "123-q2"]
    assert rows[0]["summary"] == [f"Answer {n}." for n in range(4)]
    assert rows[1]["query"] == "Who is Someone?"
    assert rows[0]["document"] == "Title\n\nBy Someone\n\nFirst paragraph here.\n\nSecond one."
    assert not (out / "test.jsonl").exists()
    record = record_from_dict(rows[0], "valid.jsonl:1")
    assert len(record.references) == 4
    missing = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_squality.py"), "--out",
                              str(out), "--source", str(source), "--with-test"], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode == 2 and "test.jsonl.gz: not found" in missing.stderr
