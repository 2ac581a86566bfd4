"""summ-export-hf: a fine-tuned checkpoint as a Hugging Face transformers directory.

    summ-export-hf --checkpoint checkpoints/checkpoint_best.pt --out hf/my-model \\
        [--data-bin data-bin/my_corpus] [--encoder-json encoder.json --vocab-bpe vocab.bpe]

Writes config.json, generation_config.json, model.safetensors, the tokenizer (tokenizer.json,
vocab.json, merges.txt) with fairseq's token ids, retrieval.json and a README model card.
Needs the optional extra: pip install -e '.[hf]'.
"""
import argparse
import sys
from typing import List, Optional

from summ_plugin.cli import setup_logging

PROG = "summ-export-hf"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="fairseq checkpoint (checkpoint_best.pt)")
    parser.add_argument("--out", required=True, help="output directory (must not exist)")
    parser.add_argument("--data-bin", help="data-bin the model was trained on (dict.source.txt, prepare.json); "
                        "default: the checkpoint's task.data")
    parser.add_argument("--encoder-json", help="GPT-2 encoder.json (default: as in training)")
    parser.add_argument("--vocab-bpe", help="GPT-2 vocab.bpe (default: as in training)")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level.upper())
    from summ_plugin.export_hf import ExportError, ExportOptions, export_to_hf

    try:
        report = export_to_hf(ExportOptions(checkpoint=args.checkpoint, out=args.out, data_bin=args.data_bin,
                                            encoder_json=args.encoder_json, vocab_bpe=args.vocab_bpe))
    except ExportError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    aliases = f", {report.n_aliases} <unk> aliases" if report.n_aliases else ""
    print(f"{PROG}: wrote {report.out} (vocab {report.vocab_size}{aliases}, "
          f"{report.max_position_embeddings} positions)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
