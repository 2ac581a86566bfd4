"""``--eval-rouge`` for the task: generate, undo the BPE, score, log additive sums.

fairseq sums logging outputs over batches and (all-reduce) over workers, so each batch logs
per-metric sums of F1 and a sample count; the epoch figure is sum / count over all samples,
exact however the validation set is split (never an average of batch averages).
"""
import os

import torch
from fairseq import metrics, utils

from ..data.bpe import decode_ids, load_gpt2_bpe
from ..rouge import ROUGE_TYPES, rouge_sums


def build_gpt2_bpe(cfg):
    """The GPT-2 BPE from the task's files (default: the data directory's), loaded as every
    summ-* tool loads it (summ_plugin.data.bpe)."""
    data_dir = utils.split_paths(cfg.data)[0]
    encoder_json = cfg.encoder_json or os.path.join(data_dir, "encoder.json")
    vocab_bpe = cfg.vocab_bpe or os.path.join(data_dir, "vocab.bpe")
    for option, path in (("--encoder-json", encoder_json), ("--vocab-bpe", vocab_bpe)):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"--eval-rouge needs the GPT-2 BPE files to detokenize: {path} not found (give {option})"
            )
    return load_gpt2_bpe(encoder_json, vocab_bpe)


def generate_and_decode(task, generator, sample, model):
    gen_out = task.inference_step(generator, [model], sample, prefix_tokens=None)
    hyps, refs = [], []
    for i in range(len(gen_out)):
        hyps.append(decode_ids(task.target_dictionary, task.bpe, gen_out[i][0]["tokens"]))
        target = utils.strip_pad(sample["target"][i], task.target_dictionary.pad())
        refs.append(decode_ids(task.target_dictionary, task.bpe, target))
    return hyps, refs


def rouge_logging_output(hyps, refs):
    sums = rouge_sums(hyps, refs)
    out = {"_rouge_count": sums["count"]}
    for rouge_type in ROUGE_TYPES:
        out[f"_{rouge_type}_fsum"] = sums[f"{rouge_type}_f"]
    return out


def reduce_rouge_metrics(logging_outputs):
    def sum_logs(key):
        result = sum(log.get(key, 0) for log in logging_outputs)
        return result.cpu().item() if torch.is_tensor(result) else result

    count = sum_logs("_rouge_count")
    if count <= 0:
        return
    metrics.log_scalar("_rouge_count", count)
    for rouge_type in ROUGE_TYPES:
        metrics.log_scalar(f"_{rouge_type}_fsum", sum_logs(f"_{rouge_type}_fsum"))
        metrics.log_derived(
            rouge_type,
            lambda meters, key=f"_{rouge_type}_fsum": round(100.0 * meters[key].sum / meters["_rouge_count"].sum, 4),
        )
