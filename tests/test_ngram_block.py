"""--no-repeat-ngram-size must ban repeats without fairseq's CUDA extension."""

import torch
from fairseq.ngram_repeat_block import NGramRepeatBlock

from summ_plugin.tasks.ngram_block import GeneratedPrefixNGramRepeatBlock
from tests._fairseq import PLUGIN_DIR, run, script

PAD = 1


def buffer_with_prefix(prefix, length=12):
    """SequenceGenerator's token buffer: the generated prefix, then padding up to max_len."""
    tokens = torch.full((1, length), PAD, dtype=torch.long)
    tokens[0, : len(prefix)] = torch.tensor(prefix)
    return tokens


def banned(blocker, prefix, vocab=10):
    lprobs = torch.zeros(1, vocab)
    out = blocker(buffer_with_prefix(prefix), lprobs, 1, 1, len(prefix) - 1)
    return sorted(torch.nonzero(torch.isinf(out[0])).flatten().tolist())


def test_fairseq_fallback_bans_nothing_ours_bans_the_repeat():
    prefix = [2, 5, 7, 5]  # after "5 7 5", generating 7 would repeat the bigram "5 7"
    assert banned(NGramRepeatBlock(2, use_extension=False), prefix) == []  # the bug this module fixes
    assert banned(GeneratedPrefixNGramRepeatBlock(2, use_extension=False), prefix) == [7]
    assert banned(GeneratedPrefixNGramRepeatBlock(3, use_extension=False), [2, 5, 5, 5]) == [5]
    assert banned(GeneratedPrefixNGramRepeatBlock(3, use_extension=False), [2, 5, 6, 7]) == []


def test_fairseq_generate_output_has_no_repeated_ngrams(tiny_checkpoint, tiny_data_bin):
    out = run([
        script("fairseq-generate"), tiny_data_bin, "--user-dir", PLUGIN_DIR, "--task", "retrieve_summarize",
        "--path", tiny_checkpoint, "--gen-subset", "valid", "--cpu", "--beam", "2",
        "--max-len-b", "30", "--min-len", "30", "--no-repeat-ngram-size", "2", "--batch-size", "4",
    ])
    hyps = [line.split("\t")[2].split() for line in out.splitlines() if line.startswith("H-")]
    assert len(hyps) == 6
    for tokens in hyps:
        bigrams = list(zip(tokens, tokens[1:]))
        assert len(bigrams) == len(set(bigrams)), tokens
