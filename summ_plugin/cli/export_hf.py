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

from summ_plugin.cli.common import (FileOptions, add_dataclass_arguments, add_log_level_option, dataclass_values,
                                    run_main)
from summ_plugin.export_hf import ExportOptions

PROG = "summ-export-hf"
FILES = FileOptions(reads=("checkpoint", "data_bin", "encoder_json", "vocab_bpe"), writes_dirs=("out",))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    add_dataclass_arguments(parser, ExportOptions)
    add_log_level_option(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(build_parser(), argv, run, files=FILES, consequence="nothing written")


def run(args: argparse.Namespace) -> int:
    from summ_plugin.export_hf import export_to_hf

    report = export_to_hf(ExportOptions(**dataclass_values(args, ExportOptions)))
    aliases = f", {report.n_aliases} <unk> aliases" if report.n_aliases else ""
    print(f"{PROG}: wrote {report.out} (vocab {report.vocab_size}{aliases}, "
          f"{report.max_position_embeddings} positions)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
