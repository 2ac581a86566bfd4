"""Reading a fairseq BART checkpoint for export, without building the model (weights-only
loading: a crafted file never runs code), and refusing what transformers' BART cannot compute
the same way."""
import os
from argparse import Namespace
from dataclasses import dataclass
from typing import Any, Dict

import torch

from .errors import ExportError

# fairseq activation names -> transformers ACT2FN names (same function, not an approximation of it)
ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "tanh": "tanh", "linear": "linear",
               "gelu_accurate": "gelu_new", "gelu_fast": "gelu_new"}


@dataclass
class FairseqBart:
    """What an export needs from a fairseq checkpoint, read without building the model."""

    path: str
    state: Dict[str, torch.Tensor]
    model_args: Dict[str, Any]
    task_args: Dict[str, Any]
    checkpoint_args: Dict[str, Any]
    extra_state: Dict[str, Any]


def _as_dict(value: Any) -> Dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Namespace):
        return dict(vars(value))
    if isinstance(value, dict):
        return dict(value)
    try:  # an omegaconf DictConfig (fairseq 0.10 saved cfg that way)
        from omegaconf import OmegaConf

        return dict(OmegaConf.to_container(value, resolve=True))
    except Exception:
        return dict(value)


def read_fairseq_checkpoint(path: str) -> FairseqBart:
    """Load with weights_only=True and the fairseq allow-list (never unpickles code)."""
    from ..checkpoints import (CheckpointContentsError, CorruptCheckpointError, UnsafeCheckpointError,
                               load_fairseq_checkpoint)

    if not os.path.isfile(path):
        raise ExportError(f"checkpoint not found: {path}")
    try:
        checkpoint = load_fairseq_checkpoint(path)
    except (CorruptCheckpointError, UnsafeCheckpointError, CheckpointContentsError) as err:
        raise ExportError(str(err)) from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise ExportError(f"{path}: not a fairseq checkpoint (no 'model' state dict)")
    cfg = _as_dict(checkpoint.get("cfg"))
    legacy_args = _as_dict(checkpoint.get("args"))
    model_args = _as_dict(cfg.get("model")) or legacy_args
    task_args = _as_dict(cfg.get("task")) or legacy_args
    checkpoint_args = _as_dict(cfg.get("checkpoint")) or legacy_args
    if not model_args:
        raise ExportError(f"{path}: the checkpoint holds no model configuration (neither cfg.model nor args)")
    return FairseqBart(path, checkpoint["model"], model_args, task_args, checkpoint_args,
                       _as_dict(checkpoint.get("extra_state")))


def architecture(bart: FairseqBart) -> str:
    """The checkpoint's --arch (bart_base, bart_large, ...)."""
    return str(bart.model_args.get("arch") or bart.model_args.get("_name") or "")


def check_is_bart(bart: FairseqBart) -> None:
    """Refuse what a transformers BART cannot compute the same way, naming the reason."""
    arch = architecture(bart)
    if not arch.startswith("bart"):
        raise ExportError(
            f"{bart.path}: architecture '{arch or 'unknown'}' is not BART (bart_base, bart_large); "
            "only BART checkpoints can be exported to BartForConditionalGeneration")
    args, state = bart.model_args, bart.state
    needed = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
              "encoder.embed_positions.weight", "decoder.embed_positions.weight")
    missing = [key for key in needed if key not in state]
    if missing:
        raise ExportError(f"{bart.path}: not a BART state dict (missing {', '.join(missing)}; "
                          "sinusoidal positions or a non-BART model)")
    for flag, wanted in (("encoder_normalize_before", False), ("decoder_normalize_before", False),
                         ("layernorm_embedding", True), ("encoder_learned_pos", True),
                         ("decoder_learned_pos", True)):
        if flag in args and bool(args[flag]) != wanted:
            raise ExportError(f"{bart.path}: {flag}={args[flag]}: transformers' BART has {flag}={wanted} "
                              "(an mBART-style model is not supported)")
    for flag in ("cross_self_attention", "adaptive_input", "no_cross_attention"):
        if args.get(flag):
            raise ExportError(f"{bart.path}: {flag} is set; transformers' BART has no such option")
    if args.get("adaptive_softmax_cutoff"):
        raise ExportError(f"{bart.path}: adaptive softmax is not supported by transformers' BART")
    if args.get("quant_noise_pq", 0):
        raise ExportError(f"{bart.path}: quant-noise models are not supported")
    encoder_dim = state["encoder.embed_tokens.weight"].shape[1]
    decoder_dim = state["decoder.embed_tokens.weight"].shape[1]
    if encoder_dim != decoder_dim:
        raise ExportError(f"{bart.path}: encoder ({encoder_dim}) and decoder ({decoder_dim}) dimensions differ")
    if not torch.equal(state["encoder.embed_tokens.weight"], state["decoder.embed_tokens.weight"]):
        raise ExportError(
            f"{bart.path}: encoder and decoder embeddings differ (trained without --share-all-embeddings); "
            "transformers' BART shares one embedding table")
    activation = str(args.get("activation_fn", "gelu"))
    if activation not in ACTIVATIONS:
        raise ExportError(f"{bart.path}: activation '{activation}' has no transformers equivalent")


def count_layers(state: Dict[str, torch.Tensor], side: str) -> int:
    """How many ``{side}.layers.N`` the state dict holds."""
    prefix = f"{side}.layers."
    indices = {int(key[len(prefix):].split(".")[0]) for key in state if key.startswith(prefix)}
    return max(indices) + 1 if indices else 0
