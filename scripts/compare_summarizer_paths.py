#!/usr/bin/env python
"""How often Summarizer.from_checkpoint (fairseq) and Summarizer.from_exported (transformers)
write the same summary, greedy and with beam search (the figures in docs/EXPORT.md).

    python scripts/compare_summarizer_paths.py --work /tmp/compare   # from the repository root

Builds what tests/test_summarizer.py builds (the tests' BPE, a bm25 data-bin under a 96-token
budget, a tiny model trained 3 updates, seeded noise on its weights so that its output depends
on its input, its export), on 40 test documents instead of 4, and prints one line per setting.
CPU, about a minute on 2 cores.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NOISE = 0.5  # as tests/test_summarizer.py
SHARED_EMBEDDINGS = ("decoder.embed_tokens.weight", "decoder.output_projection.weight")


def noisy_copy(checkpoint: str, out: str) -> str:
    import torch

    from summ_plugin.checkpoints import load_checkpoint_safely

    state = load_checkpoint_safely(checkpoint)
    generator = torch.Generator().manual_seed(0)
    weights = state["model"]
    for key in sorted(weights):
        if weights[key].is_floating_point() and key not in SHARED_EMBEDDINGS:
            weights[key] = weights[key] + torch.randn(weights[key].shape, generator=generator) * NOISE
    for key in SHARED_EMBEDDINGS:
        if key in weights:
            weights[key] = weights["encoder.embed_tokens.weight"]
    torch.save(state, out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", required=True, help="scratch directory (created; reused when it exists)")
    parser.add_argument("--documents", type=int, default=40, help="test documents")
    args = parser.parse_args()

    from summ_plugin.data.config import PrepareConfig
    from summ_plugin.data.prepare import find_split_inputs, prepare_data_bin
    from summ_plugin.export_hf import ExportOptions, export_to_hf
    from tests import _fairseq
    from tests._prepare_fixtures import build_vocab, make_raw_dir

    _fairseq.RUNNING_TEST_IS_SLOW = True  # tests._fairseq guards fairseq processes in fast tests
    work = os.path.abspath(args.work)
    os.makedirs(os.path.join(work, "vocab"), exist_ok=True)
    vocab = build_vocab(os.path.join(work, "vocab"))
    raw = make_raw_dir(os.path.join(work, "raw"), n_test=args.documents, with_query=True)
    data_bin = os.path.join(work, "data-bin")
    if not os.path.exists(os.path.join(data_bin, "prepare.json")):
        prepare_data_bin(PrepareConfig(
            destdir=data_bin, encoder_json=vocab["encoder_json"], vocab_bpe=vocab["vocab_bpe"],
            dict_path=vocab["dict"], inputs=find_split_inputs(raw), retriever="bm25", train_retriever="oracle",
            max_source_positions=96, max_target_positions=64))
    checkpoint = os.path.join(work, "ckpt", "checkpoint_last.pt")
    if not os.path.exists(checkpoint):
        _fairseq.fairseq_train(data_bin, os.path.join(work, "ckpt"), "--max-update", "3")
    noisy = noisy_copy(checkpoint, os.path.join(work, "noisy.pt"))
    export = os.path.join(work, "hf")
    if not os.path.exists(export):
        export_to_hf(ExportOptions(checkpoint=noisy, out=export))

    from summ_plugin import Summarizer

    fairseq, transformers = Summarizer.from_checkpoint(noisy), Summarizer.from_exported(export)
    with open(os.path.join(raw, "test.jsonl"), encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    for beam in (1, 2, 4):
        for lenpen in (1.0, 2.0):
            settings = dict(beam=beam, lenpen=lenpen, max_len_b=30, batch_size=8)
            a, b = fairseq.summarize(records, **settings), transformers.summarize(records, **settings)
            print(f"beam {beam} lenpen {lenpen}: {sum(x == y for x, y in zip(a, b))}/{len(a)} identical summaries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
