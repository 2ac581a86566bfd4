"""summ_plugin.Summarizer: summarize from Python with the retrieval the model was trained with.

Fast tests: inputs, settings, the retrieval.json reader and the tokenizer-backed encoder (an
exported tokenizer built from the test BPE selects and encodes as the BPE files do). Slow
tests (a tiny model trained by fairseq-train, then exported): ``from_checkpoint`` writes what
summ-summarize writes; ``from_exported`` gives the same greedy ids on documents longer than the
budget (retrieval, not truncation, chose the source); a query travels through both paths.
"""
import json
import logging
import os
import subprocess
import sys

import pytest

from summ_plugin.data.data_bin import DataBin
from summ_plugin.data.records import BadRecordError, Record
from summ_plugin.generation_settings import (FAIRSEQ_GENERATION_DEFAULTS, UNVALIDATED_DEFAULTS, GenerationOptions,
                                             validated_generation_settings)
from summ_plugin.summarizer import SummarizeError, as_record, check_generation_options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


# ----------------------------------------------------------------------------- inputs and settings


def test_inputs_become_records_in_their_order():
    record = Record(id="r", documents=["Given as a record."], query="q?")
    assert as_record("One document. Two sentences.", 3) == Record(id="3", documents=["One document. Two sentences."])
    assert as_record({"documents": ["a b.", "c d."], "query": "what?", "title": "T"}, 1) == Record(
        id="1", documents=["a b.", "c d."], query="what?", title="T")
    sections = as_record({"id": "s", "sections": [{"title": "Intro", "text": "Body one."}, {"text": "Two."}]}, 0)
    assert sections.id == "s" and sections.documents == ["# Intro\n\nBody one.\n\nTwo."]
    assert as_record(record, 7) == record and as_record(record, 7).location == "input 7"
    located = Record(id="f", documents=["From a file."], location="docs.jsonl:3")
    assert as_record(located, 7) is located
    for bad, reason in (({"query": "q"}, "missing field 'document'"), ("  ", "empty document"),
                        (42, "expected a string, a dict or a Record, got int"),
                        ({"document": "a", "documents": ["b"]}, "give one of them")):
        with pytest.raises(BadRecordError) as info:
            as_record(bad, 5)
        assert str(info.value).startswith("input 5: ") and reason in str(info.value), bad


def test_generation_defaults_are_the_validated_settings():
    settings, source = validated_generation_settings('{"beam": 1, "max_len_b": 30, "min_len": 5}')
    # keys --eval-rouge-args did not give: what fairseq's build_generator used for them
    assert settings == dict(FAIRSEQ_GENERATION_DEFAULTS, beam=1, max_len_b=30, min_len=5)
    assert source.startswith("--eval-rouge-args")
    assert validated_generation_settings({"lenpen": 2.0})[0]["beam"] == 5
    for unvalidated in (None, "{}", "not json"):
        assert validated_generation_settings(unvalidated)[0] == UNVALIDATED_DEFAULTS
    assert UNVALIDATED_DEFAULTS["beam"] == 4
    given = GenerationOptions(beam=2, min_len=None)
    assert given.resolved(settings) == GenerationOptions(beam=2, lenpen=1.0, max_len_a=0.0, max_len_b=30, min_len=5,
                                                         no_repeat_ngram_size=0)


@pytest.mark.parametrize("options, message", [
    (GenerationOptions(beam=0), "--beam must be at least 1"),
    (GenerationOptions(max_len_b=0), "--max-len-b 0 leaves no room"),
    (GenerationOptions(min_len=9, max_len_b=3), "--min-len 9 is more than --max-len-b 3"),
    (GenerationOptions(no_repeat_ngram_size=-1), "--no-repeat-ngram-size must not be negative"),
])
def test_bad_generation_settings_are_refused(options, message):
    with pytest.raises(SummarizeError, match=message):
        check_generation_options(options)
    check_generation_options(GenerationOptions())  # nothing given: the model's settings, checked later


def test_retrieval_json_reader(tmp_path):
    from summ_plugin.export_hf import ExportError
    from summ_plugin.export_hf.model_card import read_retrieval_setup

    assert read_retrieval_setup(str(tmp_path)) is None
    path = tmp_path / "retrieval.json"
    path.write_text(json.dumps({"retriever": "learned", "retriever_options": {"selector": "retrieval/selector.json"},
                                "split_mode": "paragraph", "budget": {"max_source_positions": 512}}))
    setup = read_retrieval_setup(str(tmp_path))
    assert setup.retriever.name == "learned" and setup.split_mode == "paragraph"
    assert setup.retriever.options["selector"] == str(tmp_path / "retrieval" / "selector.json")
    assert setup.max_source_positions == 512
    for bad, key in (({"retriever": 3, "split_mode": "sentence"}, "'retriever'"),
                     ({"retriever": "bm25", "split_mode": "sentence", "budget": {"max_source_positions": "x"}},
                      "'budget.max_source_positions'")):
        path.write_text(json.dumps(bad))
        with pytest.raises(ExportError, match=key) as info:
            read_retrieval_setup(str(tmp_path))
        assert str(path) in str(info.value)
    path.write_text("{")
    with pytest.raises(ExportError, match="retrieval.json(:\\d+)?: not a readable JSON file"):
        read_retrieval_setup(str(tmp_path))


def _exported_tokenizer(tiny_vocab, max_source):
    """The tokenizer summ-export-hf writes for the test BPE and dict.txt (no model needed)."""
    pytest.importorskip("transformers")
    from summ_plugin.data.bpe import load_dictionary
    from summ_plugin.export_hf import require_hf_extra
    from summ_plugin.export_hf.tokenizer import build_tokenizer
    from summ_plugin.export_hf.vocabulary import build_vocabulary_map, read_bpe_files

    require_hf_extra()
    encoder, merges = read_bpe_files(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"])
    symbols = list(load_dictionary(tiny_vocab["dict"]).symbols)
    return build_tokenizer(build_vocabulary_map(symbols, len(symbols) + 1, encoder), merges, max_source)


def test_the_exported_tokenizer_selects_and_encodes_as_the_bpe_files_do(tiny_vocab, tiny_raw_dir):
    """What makes the two paths read the same source: counts, budget, selection and ids."""
    from summ_plugin.data.encoder import ExampleEncoder

    for budget, split_mode in ((96, "sentence"), (60, "paragraph")):
        files = ExampleEncoder(tiny_vocab["encoder_json"], tiny_vocab["vocab_bpe"], tiny_vocab["dict"],
                               max_source_positions=budget, split_mode=split_mode)
        exported = ExampleEncoder.from_tokenizer(_exported_tokenizer(tiny_vocab, budget),
                                                 max_source_positions=budget, split_mode=split_mode)
        records = [as_record(r, i) for i, r in enumerate(read_jsonl(os.path.join(tiny_raw_dir, "test.jsonl")))]
        records.append(as_record({"document": "Ünïcödé façade — “quotes” 中文 " * 30, "query": "what about the 中文?"}, 9))
        cut = 0
        for record in records:
            a = files.encode_example(record, files.retriever("bm25"), use_reference=False)
            b = exported.encode_example(record, exported.retriever("bm25"), use_reference=False)
            assert a["source"] == b["source"] and a["meta"] == b["meta"], record.id
            cut += a["meta"]["n_passages"] > len(set(a["meta"]["passage_ids"]))
        if split_mode == "sentence":
            assert cut >= 3  # the documents are longer than the budget: retrieval chose what fits
        ids = files.encode_text("The mayor said the plan keeps spending flat.") + (files.eos,)
        assert exported.decode(ids) == files.decode(ids) == "The mayor said the plan keeps spending flat."


# ----------------------------------------------------------------------------- the tiny model, both paths


@pytest.fixture(scope="module")
def checkpoint(tiny_checkpoint, tmp_path_factory):
    """tiny_checkpoint with seeded noise on its weights. Three updates leave a model that writes
    the same words for every input, and equal outputs of such a model would prove little;
    with these weights what it writes depends on what it reads."""
    import torch

    from summ_plugin.checkpoints import load_checkpoint_safely

    state = load_checkpoint_safely(tiny_checkpoint)
    generator = torch.Generator().manual_seed(0)
    weights = state["model"]
    for key in sorted(weights):
        if weights[key].is_floating_point() and key not in SHARED_EMBEDDINGS:
            weights[key] = weights[key] + torch.randn(weights[key].shape, generator=generator) * NOISE
    shared = weights["encoder.embed_tokens.weight"]  # one table (--share-all-embeddings), as exported
    for key in SHARED_EMBEDDINGS:
        if key in weights:
            weights[key] = shared
    path = str(tmp_path_factory.mktemp("summarizer") / "checkpoint_noisy.pt")
    torch.save(state, path)
    return path


NOISE = 0.5
SHARED_EMBEDDINGS = ("decoder.embed_tokens.weight", "decoder.output_projection.weight")


@pytest.fixture(scope="module")
def exported(checkpoint, tmp_path_factory):
    pytest.importorskip("transformers")
    from summ_plugin.export_hf import ExportOptions, export_to_hf

    out = str(tmp_path_factory.mktemp("summarizer") / "hf")
    export_to_hf(ExportOptions(checkpoint=checkpoint, out=out))
    return out


@pytest.fixture(scope="module")
def test_records(tiny_raw_dir):
    return read_jsonl(os.path.join(tiny_raw_dir, "test.jsonl"))


def test_from_checkpoint_gives_exactly_summ_summarizes_output(checkpoint, tiny_raw_dir, test_records, tmp_path):
    from summ_plugin import Summarizer
    from summ_plugin.cli.summarize import main as summarize_main

    for options, kwargs in (([], {}), (["--beam", "2", "--max-len-b", "12", "--no-repeat-ngram-size", "2"],
                                       {"beam": 2, "max_len_b": 12, "no_repeat_ngram_size": 2})):
        out = tmp_path / "hyps.jsonl"
        assert summarize_main(["--path", checkpoint, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                               "--output", str(out), "--cpu", "--batch-size", "3", *options]) == 0
        rows = read_jsonl(out)
        summarizer = Summarizer.from_checkpoint(checkpoint)
        assert summarizer.summarize(test_records, batch_size=3, return_details=True, **kwargs) == rows
        assert any(r["summary"] for r in rows)
    # outputs in input order, whatever the order (one batch: the same batch either way)
    forward = summarizer.summarize(test_records, batch_size=4, beam=2, max_len_b=12)
    assert summarizer.summarize(test_records[::-1], batch_size=4, beam=2, max_len_b=12) == forward[::-1]
    assert len(set(forward)) > 1
    # a string is a document; a Record is used as it is
    plain = next(r for r in test_records if not r.get("query"))
    as_dict = summarizer.summarize({"document": plain["document"]}, beam=2, max_len_b=12)
    assert summarizer.summarize(plain["document"], beam=2, max_len_b=12) == as_dict
    assert summarizer.summarize([Record(id="x", documents=[plain["document"]])], beam=2, max_len_b=12) == as_dict
    # the tiny checkpoint has no --eval-rouge-args: both used the unvalidated defaults
    assert summarizer.generation == GenerationOptions(**UNVALIDATED_DEFAULTS)


def test_from_checkpoint_defaults_are_the_checkpoints_validated_settings(checkpoint, tiny_raw_dir, test_records,
                                                                        tmp_path):
    """A checkpoint validated with --eval-rouge-args: Summarizer and summ-summarize generate with
    those settings unless told otherwise, and its export carries the same ones."""
    import torch

    from summ_plugin import Summarizer
    from summ_plugin.checkpoints import load_checkpoint_safely
    from summ_plugin.cli.summarize import main as summarize_main

    state = load_checkpoint_safely(checkpoint)
    state["cfg"]["task"]["eval_rouge_args"] = json.dumps({"beam": 1, "max_len_b": 6, "no_repeat_ngram_size": 2})
    validated = str(tmp_path / "validated.pt")
    torch.save(state, validated)
    summarizer = Summarizer.from_checkpoint(validated)
    assert summarizer.generation == GenerationOptions(**dict(FAIRSEQ_GENERATION_DEFAULTS, beam=1, max_len_b=6,
                                                             no_repeat_ngram_size=2))
    out = tmp_path / "hyps.jsonl"
    assert summarize_main(["--path", validated, "--input", os.path.join(tiny_raw_dir, "test.jsonl"),
                           "--output", str(out), "--cpu"]) == 0
    rows = read_jsonl(out)
    assert summarizer.summarize(test_records, return_details=True) == rows
    sources = [summarizer.encode(r)["source"] for r in test_records]
    ids = summarizer.generate_ids(sources, summarizer.generation)
    assert max(len(i) for i in ids) <= 6 + 1  # max_len_b tokens and </s>
    # a setting given overrides the validated one
    longer = summarizer.generate_ids(sources, summarizer.resolve(max_len_b=20))
    assert max(len(i) for i in longer) > 7

    pytest.importorskip("transformers")
    from summ_plugin.export_hf import ExportOptions, export_to_hf

    export_to_hf(ExportOptions(checkpoint=validated, out=str(tmp_path / "hf")))
    assert Summarizer.from_exported(str(tmp_path / "hf")).generation == summarizer.generation


def _greedy_ids_agree(fairseq_ids, hf_ids, eos=2):
    """fairseq's hypothesis (ends in </s>) against transformers' output (starts with the
    decoder's </s>, padded after its closing one)."""
    assert hf_ids[0] == eos
    produced = hf_ids[1:]
    return produced[:produced.index(eos) + 1] == fairseq_ids if eos in produced else produced == fairseq_ids


def test_from_exported_gives_the_same_greedy_summaries_token_for_token(checkpoint, exported, test_records,
                                                                       tiny_data_bin):
    from summ_plugin import Summarizer

    fairseq = Summarizer.from_checkpoint(checkpoint)
    export = Summarizer.from_exported(exported)
    budget = DataBin.read(tiny_data_bin).budget.max_source_positions
    assert (export.setup.retriever, export.setup.max_source_positions, export.setup.split_mode) == (
        fairseq.setup.retriever, fairseq.setup.max_source_positions, fairseq.setup.split_mode) == (
        "bm25", budget, "sentence")
    assert export.generation == fairseq.generation
    examples = [(fairseq.encode(r), export.encode(r)) for r in test_records]
    for a, b in examples:
        assert a == b  # the same passages, the same ids
        meta = a["meta"]
        # longer than the budget: retrieval chose what the model reads
        assert meta["n_passages"] > len(set(meta["passage_ids"])) and meta["n_source_tokens"] <= budget
    # bm25 did not just keep the opening (what truncation would have read)
    assert any(sorted(set(a["meta"]["passage_ids"])) != list(range(len(set(a["meta"]["passage_ids"]))))
               for a, _ in examples)
    sources = [a["source"] for a, _ in examples]
    # the model's output depends on its input (else equal outputs would prove little)
    assert len({tuple(ids) for ids in fairseq.generate_ids(sources, fairseq.resolve(beam=1, max_len_b=20))}) > 1
    for settings in ({"beam": 1, "max_len_b": 20}, {"beam": 1, "max_len_a": 0.1, "max_len_b": 4, "min_len": 3},
                     {"beam": 1, "max_len_b": 30, "no_repeat_ngram_size": 2}):
        options = fairseq.resolve(**settings)
        for batch in (sources[:2], sources[2:]):
            fairseq_ids = fairseq.generate_ids(batch, options)
            hf_ids = export.generate_ids(batch, options)
            for f, h in zip(fairseq_ids, hf_ids):
                assert _greedy_ids_agree(f, h), (settings, f, h)
            assert any(len(f) > 2 for f in fairseq_ids)
        texts = fairseq.summarize(test_records, batch_size=2, **settings)
        assert export.summarize(test_records, batch_size=2, **settings) == texts
    details = export.summarize(test_records, batch_size=2, beam=1, max_len_b=20, return_details=True)
    assert details == fairseq.summarize(test_records, batch_size=2, beam=1, max_len_b=20, return_details=True)
    assert [d["id"] for d in details] == [r["id"] for r in test_records]


def test_a_query_passes_through_both_paths(checkpoint, exported, test_records):
    from summ_plugin import Summarizer

    fairseq = Summarizer.from_checkpoint(checkpoint)
    export = Summarizer.from_exported(exported)
    with_query = next(r for r in test_records if r.get("query"))
    question = {"document": with_query["document"], "query": "what about the bridge near the river?"}
    for summarizer in (fairseq, export):
        source = summarizer.encode(question)["source"]
        query_ids = list(summarizer.encoder.encode_text(question["query"])) + [summarizer.encoder.eos]
        assert source[:len(query_ids)] == query_ids  # [query </s>] passages </s>
        assert summarizer.encode({"document": question["document"]})["source"][:len(query_ids)] != query_ids
    assert fairseq.encode(question) == export.encode(question)
    # bm25 ranks by the query: another question picks other passages
    other = dict(question, query="what did teachers say about books and computers?")
    assert fairseq.encode(other)["meta"]["passage_ids"] != fairseq.encode(question)["meta"]["passage_ids"]
    assert export.summarize([question, other], beam=1, max_len_b=20) == fairseq.summarize(
        [question, other], beam=1, max_len_b=20)


def test_retriever_override_warns_on_both_paths(checkpoint, exported, test_records, caplog):
    from summ_plugin import Summarizer

    for load in (lambda: Summarizer.from_checkpoint(checkpoint, retriever="lead"),
                 lambda: Summarizer.from_exported(exported, retriever="lead")):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            summarizer = load()
        assert "--retriever lead {} overrides the retriever the model's training data was prepared with (bm25" \
            in caplog.text
        for row in summarizer.summarize(test_records, beam=1, max_len_b=4, return_details=True):
            distinct = sorted(set(row["passage_ids"]))
            assert row["retriever"] == "lead" and distinct == list(range(len(distinct)))


def test_user_errors_are_one_line(checkpoint, exported, tmp_path):
    from summ_plugin import Summarizer

    export = Summarizer.from_exported(exported)
    with pytest.raises(SummarizeError, match=r"^input 1: missing field 'document'"):
        export.summarize(["A document.", {"title": "no text"}])
    with pytest.raises(SummarizeError, match="--min-len 50 is more than --max-len-b 10"):
        export.summarize("A document.", min_len=50, max_len_b=10)
    with pytest.raises(SummarizeError, match="not a summ-export-hf directory"):
        Summarizer.from_exported(str(tmp_path))
    with pytest.raises(SummarizeError, match="checkpoint not found"):
        Summarizer.from_checkpoint(str(tmp_path / "missing.pt"))
    with pytest.raises(SummarizeError, match="more than the model's"):
        Summarizer.from_exported(exported, max_source_positions=10 ** 6)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(SummarizeError, match="torch sees no GPU"):
            Summarizer.from_exported(exported, device="cuda")


def test_from_exported_needs_no_fairseq(exported, test_records, tmp_path):
    """``from summ_plugin import Summarizer`` and the exported path in an interpreter where
    fairseq cannot be imported: the same greedy summaries."""
    from summ_plugin import Summarizer

    expected = Summarizer.from_exported(exported).summarize(test_records, beam=1, max_len_b=20)
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text("import sys\nsys.modules['fairseq'] = None  # import fails\n")
    script = ("import json, sys\n"
              "from summ_plugin import Summarizer\n"
              "records = json.loads(sys.argv[2])\n"
              "summaries = Summarizer.from_exported(sys.argv[1]).summarize(records, beam=1, max_len_b=20)\n"
              "assert 'fairseq' not in {m.split('.')[0] for m, v in sys.modules.items() if v is not None}\n"
              "print(json.dumps(summaries))\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]), PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, "-c", script, exported, json.dumps(test_records)], env=env,
                          cwd=str(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == expected


def test_the_readmes_three_lines_run(checkpoint, exported, test_records):
    """The Python that opens the README's "Using it" section, with the fixtures' paths."""
    import contextlib
    import io
    import re

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    section = readme[readme.index("## Using it"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert section.split("\n", 1)[1].lstrip("\n").startswith("```python")  # it opens the section
    assert len(code.strip().splitlines()) == 3
    code = code.replace('"checkpoints/checkpoint_best.pt"', repr(checkpoint)).replace('"hf/my-model"', repr(exported))
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"long_document": test_records[0]["document"]})
    lines = printed.getvalue().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.fullmatch(r"\['.+'\]|\[\".+\"\]", line), line  # one summary each
