#!/usr/bin/env python
"""The baseline for summ-score: a plain single-process rouge-score loop.

    python bench/rouge_loop.py HYPS.txt REFS.txt

One pair per line, the same four ROUGE types with stemming that summ-score reports
(rougeLsum gets the lines split at ". " the simple way); prints the mean F1s.
"""
import sys


def main(argv=None):
    from rouge_score import rouge_scorer

    hyps_path, refs_path = (argv if argv is not None else sys.argv[1:])
    with open(hyps_path, encoding="utf-8") as h, open(refs_path, encoding="utf-8") as r:
        hyps, refs = h.read().splitlines(), r.read().splitlines()
    if len(hyps) != len(refs):
        raise SystemExit(f"rouge_loop: {len(hyps)} hypotheses but {len(refs)} references")
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0, "rougeLsum": 0.0}
    for hyp, ref in zip(hyps, refs):
        scores = scorer.score(ref.replace(". ", ".\n"), hyp.replace(". ", ".\n"))
        for key in totals:
            totals[key] += scores[key].fmeasure
    print(" ".join(f"{k}={v / max(len(hyps), 1):.4f}" for k, v in totals.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
