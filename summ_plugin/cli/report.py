"""summ-report: plots and a Markdown summary of a fairseq-train run from its json log.

    summ-report --log train.log --out-dir report/ [--prepare-json data-bin/prepare.json]

writes report/loss.png, report/rouge.png (when the run used --eval-rouge) and report/report.md.
"""
import argparse
import logging
import sys

from summ_plugin.cli import setup_logging

PROG = "summ-report"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Loss and ROUGE plots and a Markdown summary (best checkpoint, its ROUGE, "
        "retrieval options) from a fairseq-train log written with --log-format json.",
    )
    parser.add_argument("--log", required=True, help="fairseq-train output or --log-file, written with --log-format json")
    parser.add_argument("--out-dir", required=True, help="directory for loss.png, rouge.png and report.md")
    parser.add_argument("--prepare-json", help="summ-prepare's manifest (DATA_BIN/prepare.json) for the retrieval options")
    parser.add_argument("--metric", help="pick the best checkpoint by this valid metric (default: rougeL if logged, else loss)")
    parser.add_argument("--valid-subset", help="validation subset tag in the log (default: valid)")
    parser.add_argument("--quiet", action="store_true", help="log warnings only")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    setup_logging(logging.WARNING if args.quiet else logging.INFO)
    from summ_plugin.report import LogFormatError, write_report

    try:
        outputs = write_report(args.log, args.out_dir, metric=args.metric, subset=args.valid_subset,
                               prepare_json=args.prepare_json)
    except LogFormatError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        raise SystemExit(2)
    for name in ("report", "loss", "rouge"):
        if name in outputs:
            print(outputs[name])
    return 0


if __name__ == "__main__":
    main()
