"""The tiny bart_base-architecture model: the one the tests, the CPU benchmarks and conf/tiny.yaml
train (1 layer, 16 dims, 2 heads: an update takes milliseconds on a CPU core).

It checks plumbing (tasks, criteria, checkpoints, positions, export), not summary quality: the
demo in run.sh trains a larger one. conf/tiny.yaml cannot import this module; a test checks
that its model section holds these values.
"""
from typing import Dict, List, Union

ARCH = "bart_base"
# fairseq's model options under their config names (the keys of a hydra ``model:`` section);
# no dropout, so that runs that must agree (resumed vs uninterrupted, one rank vs two) do
TINY_BART: Dict[str, Union[int, float, bool]] = {
    "encoder_layers": 1, "decoder_layers": 1,
    "encoder_embed_dim": 16, "decoder_embed_dim": 16,
    "encoder_ffn_embed_dim": 32, "decoder_ffn_embed_dim": 32,
    "encoder_attention_heads": 2, "decoder_attention_heads": 2,
    "share_all_embeddings": True,
    "dropout": 0.0, "attention_dropout": 0.0,
}


def tiny_bart_cli_args() -> List[str]:
    """TINY_BART as fairseq-train options: ``--arch bart_base --encoder-layers 1 ...``."""
    args = ["--arch", ARCH]
    for key, value in TINY_BART.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is not False:
            args += [flag, str(value)]
    return args
