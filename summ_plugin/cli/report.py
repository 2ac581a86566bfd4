"""summ-report: plots and a Markdown summary of a fairseq-train run from its json log.

    summ-report --log train.log --out-dir report/ [--prepare-json data-bin/prepare.json] [--hyps test.hyps.jsonl]

writes report/loss.png, report/rouge.png (when the run used --eval-rouge) and report/report.md.
"""
import argparse

import os

from summ_plugin.cli.common import FileOptions, add_log_level_option, run_main

PROG = "summ-report"
REPORT_FILES = ("report.md", "loss.png", "rouge.png")
FILES = FileOptions(reads=("log", "prepare_json", "hyps"),
                    more=lambda args: ([], [("--out-dir", os.path.join(args.out_dir, name)) for name in REPORT_FILES]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Loss and ROUGE plots and a Markdown summary (best checkpoint, its ROUGE, "
        "retrieval options) from a fairseq-train log written with --log-format json.",
    )
    parser.add_argument("--log", required=True, help="fairseq-train output or --log-file, written with --log-format json")
    parser.add_argument("--out-dir", required=True, help="directory for loss.png, rouge.png and report.md")
    parser.add_argument("--prepare-json", help="summ-prepare's manifest (DATA_BIN/prepare.json) for the retrieval options")
    parser.add_argument("--hyps", help="summaries the trained model wrote (summ-summarize's output, or text, one per "
                        "line): the report says how many differ and warns when they are (nearly) all the same")
    parser.add_argument("--metric", help="pick the best checkpoint by this valid metric (default: rougeL if logged, else loss)")
    parser.add_argument("--valid-subset", help="validation subset tag in the log (default: valid)")
    parser.add_argument("--quiet", action="store_true", help="log warnings only (--log-level WARNING)")
    add_log_level_option(parser)
    return parser


def main(argv=None):
    return run_main(build_parser(), argv, run, files=FILES)


def run(args: argparse.Namespace) -> int:
    from summ_plugin.report import write_report

    outputs = write_report(args.log, args.out_dir, metric=args.metric, subset=args.valid_subset,
                           prepare_json=args.prepare_json, hyps=args.hyps)
    for name in ("report", "loss", "rouge"):
        if name in outputs:
            print(outputs[name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
