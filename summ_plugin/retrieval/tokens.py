"""A token count for when no BPE files are given. No fairseq import.

GPT-2 BPE averages about 1.3 tokens per English word; words with no spaces in them
(URLs, code, non-Latin scripts) cost more, about one token per 4 characters at least.
This is an approximation for quick evaluation only: data preparation must count with
the real BPE, which is what the length guarantee of ``select_source`` is about.
"""
import math

TOKENS_PER_WORD = 1.3
CHARACTERS_PER_TOKEN = 4.0


def approx_token_count(text: str) -> int:
    words = text.split()
    by_words = math.ceil(TOKENS_PER_WORD * len(words))
    by_characters = math.ceil(sum(map(len, words)) / CHARACTERS_PER_TOKEN)
    return max(by_words, by_characters)
