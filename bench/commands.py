"""Command lines of the two pipelines (stock fairseq and summ_plugin), built in one place so
that tests can check them and both sides get the same workers, model, seed and data."""
import os
import sys
from typing import List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_DIR = os.path.join(REPO, "summ_plugin")
BIN = os.path.dirname(sys.executable)

# the real bart.base size (the architecture's defaults) for the --gpu mode
FULL_BART_BASE = ["--arch", "bart_base", "--share-all-embeddings", "--dropout", "0.1", "--attention-dropout", "0.1"]
LABEL_SMOOTHING = "0.1"


def script(name: str) -> str:
    return os.path.join(BIN, name)


def stock_bpe_cmd(encoder_json: str, vocab_bpe: str, inputs: List[str], outputs: List[str], workers: int) -> List[str]:
    """fairseq's multiprocessing GPT-2 BPE encoder, from the examples shipped in the package
    (``fairseq/examples/roberta/multiprocessing_bpe_encoder.py``)."""
    return [sys.executable, "-m", "fairseq.examples.roberta.multiprocessing_bpe_encoder",
            "--encoder-json", encoder_json, "--vocab-bpe", vocab_bpe,
            "--inputs", *inputs, "--outputs", *outputs, "--workers", str(workers), "--keep-empty"]


def stock_preprocess_cmd(bpe_prefixes: dict, destdir: str, dict_path: str, workers: int) -> List[str]:
    """fairseq-preprocess as in fairseq's BART fine-tuning README (source/target, one dict)."""
    cmd = [script("fairseq-preprocess"), "--source-lang", "source", "--target-lang", "target"]
    for split, prefix in bpe_prefixes.items():
        cmd += [f"--{split}pref", prefix]
    return cmd + ["--destdir", destdir, "--workers", str(workers), "--srcdict", dict_path, "--tgtdict", dict_path]


def plugin_prepare_cmd(inputs: dict, destdir: str, encoder_json: str, vocab_bpe: str, dict_path: str,
                       workers: int, retriever: Optional[str] = None) -> List[str]:
    """summ-prepare as a user runs it: by default with no --retriever (the retriever chosen on
    valid, after training a selector on train: that work is part of the measured time)."""
    cmd = [sys.executable, "-m", "summ_plugin.cli.prepare"]
    for split, path in inputs.items():
        cmd += [f"--{split}", path]
    return cmd + ["--destdir", destdir, "--overwrite", "--encoder-json", encoder_json, "--vocab-bpe", vocab_bpe,
                  "--dict", dict_path, *(["--retriever", retriever] if retriever else []),
                  "--workers", str(workers), "--log-level", "WARNING"]


def train_cmd(side: str, data: str, save_dir: str, max_update: int, seed: int = 1, gpu: bool = False,
              max_tokens: int = 2048, extra: Optional[List[str]] = None) -> List[str]:
    """fairseq-train for one side of the comparison; everything but task and criterion is shared.

    ``side``: "plugin" (retrieve_summarize + summarization_cross_entropy, as a user runs it:
    support weighting off; the criterion always reports token accuracy) or "stock"
    (translation + label_smoothed_cross_entropy with ``--report-accuracy``, so both sides
    compute the same metrics). ``gpu``: full bart_base with
    --fp16 on the GPU instead of the tiny model on --cpu.
    """
    if side == "plugin":
        task = ["--user-dir", PLUGIN_DIR, "--task", "retrieve_summarize", "--criterion", "summarization_cross_entropy"]
    elif side == "stock":
        task = ["--task", "translation", "--source-lang", "source", "--target-lang", "target",
                "--criterion", "label_smoothed_cross_entropy", "--report-accuracy"]
    else:
        raise ValueError(f"side must be 'plugin' or 'stock', got {side!r}")
    # imported here: the summ_plugin package loads fairseq (seconds), which the rest of this module
    # and the benchmark driver's start do not need
    from summ_plugin.tiny_model import tiny_bart_cli_args

    model = FULL_BART_BASE if gpu else tiny_bart_cli_args()  # the tests' tiny model on CPU
    device = ["--fp16"] if gpu else ["--cpu"]
    return [script("fairseq-train"), data, *task, "--label-smoothing", LABEL_SMOOTHING, *model, *device,
            "--seed", str(seed), "--num-workers", "0", "--max-tokens", str(max_tokens),
            "--optimizer", "adam", "--lr", "1e-4" if gpu else "1e-3", "--required-batch-size-multiple", "1",
            "--max-update", str(max_update), "--disable-validation", "--no-save",
            "--no-progress-bar", "--log-interval", "1", "--log-format", "json",
            "--save-dir", save_dir, *(extra or [])]


def measured_train_cmd(cmd: List[str]) -> List[str]:
    """``train_cmd``'s fairseq-train run through bench/train_peak_memory.py (same arguments),
    which prints the run's peak GPU memory at exit."""
    if os.path.basename(cmd[0]) != "fairseq-train":
        raise ValueError(f"not a fairseq-train command: {cmd[0]}")
    return [sys.executable, os.path.join(REPO, "bench", "train_peak_memory.py"), *cmd[1:]]


def score_cmd(hyps: str, refs: str, workers: int, json_out: str, bootstrap: int) -> List[str]:
    return [sys.executable, "-m", "summ_plugin.cli.score", "--hyps", hyps, "--refs", refs,
            "--workers", str(workers), "--bootstrap", str(bootstrap), "--json", json_out, "--quiet"]


def rouge_loop_cmd(hyps: str, refs: str) -> List[str]:
    return [sys.executable, os.path.join(REPO, "bench", "rouge_loop.py"), hyps, refs]
