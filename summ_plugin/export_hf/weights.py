"""The model side of an export: transformers' BartConfig for the checkpoint, and fairseq's
tensors under transformers' names (the shared embedding, <unk> alias rows, position tables)."""
import math
from typing import Dict, Tuple

import torch

from .checkpoint import ACTIVATIONS, FairseqBart, count_layers
from .vocabulary import VocabularyMap


def build_bart_config(bart: FairseqBart, vocab: VocabularyMap, max_position_embeddings: int):
    from transformers import BartConfig

    args, state = bart.model_args, bart.state
    d_model = state["encoder.embed_tokens.weight"].shape[1]
    tied = "decoder.output_projection.weight" not in state or torch.equal(
        state["decoder.output_projection.weight"], state["decoder.embed_tokens.weight"])
    ids = vocab.token_to_id
    return BartConfig(
        vocab_size=vocab.size,
        max_position_embeddings=max_position_embeddings,
        d_model=d_model,
        encoder_layers=count_layers(state, "encoder"),
        decoder_layers=count_layers(state, "decoder"),
        encoder_attention_heads=int(args.get("encoder_attention_heads", 16)),
        decoder_attention_heads=int(args.get("decoder_attention_heads", 16)),
        encoder_ffn_dim=state["encoder.layers.0.fc1.weight"].shape[0],
        decoder_ffn_dim=state["decoder.layers.0.fc1.weight"].shape[0],
        activation_function=ACTIVATIONS[str(args.get("activation_fn", "gelu"))],
        dropout=float(args.get("dropout", 0.1)),
        attention_dropout=float(args.get("attention_dropout", 0.0)),
        activation_dropout=float(args.get("activation_dropout", args.get("relu_dropout", 0.0)) or 0.0),
        # fairseq scales by sqrt(d) unless --no-scale-embedding (the BART architectures set it)
        scale_embedding=not bool(args.get("no_scale_embedding", True)),
        pad_token_id=ids[vocab.special_tokens["pad_token"]],
        bos_token_id=ids[vocab.special_tokens["bos_token"]],
        eos_token_id=ids[vocab.special_tokens["eos_token"]],
        decoder_start_token_id=ids[vocab.special_tokens["eos_token"]],
        forced_eos_token_id=ids[vocab.special_tokens["eos_token"]],
        is_encoder_decoder=True,
        tie_word_embeddings=tied,
    )


def _pad_rows(table: torch.Tensor, rows: int) -> torch.Tensor:
    if table.shape[0] == rows:
        return table
    extra = table.new_zeros((rows - table.shape[0], table.shape[1]))
    return torch.cat([table, extra], dim=0)


def convert_state_dict(bart: FairseqBart, vocab: VocabularyMap) -> Tuple[Dict[str, torch.Tensor], int]:
    """fairseq keys -> BartForConditionalGeneration keys; returns (state, max_position_embeddings)."""
    state = bart.state
    embed = state["encoder.embed_tokens.weight"].float()
    unk_row = embed[vocab.token_to_id[vocab.special_tokens["unk_token"]]]
    aliases = unk_row.unsqueeze(0).expand(len(vocab.alias_ids), -1)
    shared = torch.cat([embed, aliases], dim=0).contiguous()
    position_rows = max(state["encoder.embed_positions.weight"].shape[0], state["decoder.embed_positions.weight"].shape[0])
    converted: Dict[str, torch.Tensor] = {"model.shared.weight": shared}
    for key, tensor in state.items():
        side = key.split(".", 1)[0]
        if side not in ("encoder", "decoder") or key.endswith(".version") or ".embed_tokens." in key \
                or ".output_projection." in key:
            continue
        if key.endswith("embed_positions.weight"):
            # both keep 2 offset rows; a shorter table is padded (its rows are never reached
            # within the limits generation_config and the model card give)
            tensor = _pad_rows(tensor.float(), position_rows)
        converted[f"model.{key}"] = tensor.float().contiguous()
    converted["model.encoder.embed_tokens.weight"] = shared
    converted["model.decoder.embed_tokens.weight"] = shared
    projection = state.get("decoder.output_projection.weight", state["decoder.embed_tokens.weight"]).float()
    converted["lm_head.weight"] = torch.cat([projection, aliases], dim=0).contiguous()
    bias = torch.zeros((1, vocab.size))
    if vocab.alias_ids:  # an alias of <unk> is read as <unk> but never generated
        bias[0, vocab.alias_ids] = -math.inf
    converted["final_logits_bias"] = bias
    return converted, position_rows - 2
