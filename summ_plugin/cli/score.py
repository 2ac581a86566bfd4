"""summ-score: corpus ROUGE (P/R/F1 with bootstrap 95% CIs) of hypotheses against references.

    summ-score --hyps hyps.jsonl --refs test.jsonl [--json scores.json] [--per-sample rows.jsonl]
    summ-score --fairseq-generate gen.out --refs test.jsonl | --refs-from-generate [--bpe gpt2 --data-bin D ...]

The readers, the pairing and the scoring are summ_plugin.scoring's (see its docstring for the
input formats). Errors in the input (counts or ids that differ, empty files, undecodable lines)
end the run with one line ``summ-score: error: FILE:LINE: reason`` and exit status 2.
"""
import argparse
from typing import List, Optional

from summ_plugin.cli.common import add_dataclass_arguments, add_log_level_option, dataclass_values, run_main
from summ_plugin.scoring import ScoreConfig

PROG = "summ-score"
INPUTS = ("hyps", "refs", "fairseq_generate", "refs_from_generate", "match_by_position", "bpe", "encoder_json",
          "vocab_bpe", "data_bin", "allow_bpe_mismatch")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ROUGE-1/2/L/Lsum precision, recall and F1 (rouge-score, stemming on) with "
        "bootstrap 95%% confidence intervals.",
    )
    add_dataclass_arguments(parser.add_argument_group("inputs"), ScoreConfig, include=INPUTS)
    add_dataclass_arguments(parser, ScoreConfig, exclude=INPUTS)
    add_log_level_option(parser)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    return run_main(build_parser(), argv, score)


def score(args: argparse.Namespace) -> int:
    from summ_plugin.scoring import format_table, score_files

    report = score_files(ScoreConfig(**dataclass_values(args, ScoreConfig)))
    print(format_table(report["scores"], report["n"], report["bootstrap"]["resamples"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
