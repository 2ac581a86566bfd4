"""A working ``--no-repeat-ngram-size`` when fairseq's CUDA extension is not built.

fairseq's Python fallback (``NGramRepeatBlock._no_repeat_ngram``, used on CPU and on any GPU
install without the compiled ``ngram_repeat_block_cuda``) takes "the last n-1 tokens" from
the end of the whole preallocated token buffer, which is padding while a hypothesis is being
generated: it bans nothing, and summaries loop ("the the the ..."). Every published BART
summarization setting uses no_repeat_ngram_size 3, so ROUGE would silently drop. The fix
hands the fallback only the tokens generated so far.
"""
import logging

from fairseq.ngram_repeat_block import NGramRepeatBlock

logger = logging.getLogger(__name__)


class GeneratedPrefixNGramRepeatBlock(NGramRepeatBlock):
    """fairseq's n-gram blocker, given ``tokens[:, :step + 1]`` instead of the whole buffer."""

    def forward(self, tokens, lprobs, bsz: int, beam_size: int, step: int):
        if self.use_extension:  # the CUDA kernel indexes by step itself and is correct
            return super().forward(tokens, lprobs, bsz, beam_size, step)
        return self._no_repeat_ngram(tokens[:, : step + 1], lprobs, bsz, beam_size, step)


def fix_ngram_blocking(generator) -> None:
    """Swap a generator's fallback n-gram blocker for the working one (in place)."""
    blocker = getattr(generator, "repeat_ngram_blocker", None)
    if blocker is None or isinstance(blocker, GeneratedPrefixNGramRepeatBlock) or blocker.use_extension:
        return
    generator.repeat_ngram_blocker = GeneratedPrefixNGramRepeatBlock(blocker.no_repeat_ngram_size, use_extension=False)
    logger.info(
        "no_repeat_ngram_size=%d: using the plugin's n-gram blocker (fairseq's CPU fallback bans nothing)",
        blocker.no_repeat_ngram_size,
    )
