"""summ-summarize: summarize raw documents with a fine-tuned checkpoint.

    summ-summarize --path checkpoints/checkpoint_best.pt --input docs.jsonl --output summaries.jsonl \\
        --beam 4 --lenpen 2.0 --max-len-b 140 --min-len 55 --no-repeat-ngram-size 3

The retrieval runs exactly as for the training data (same splitter, retriever and budget,
read from the data-bin's prepare.json unless given). Writes JSONL: id, summary, retriever,
selected passage ids, source tokens.
"""
import argparse
import json
import sys
from typing import List, Optional

from summ_plugin.cli import setup_logging

PROG = "summ-summarize"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", required=True, help="checkpoint (checkpoint_best.pt)")
    parser.add_argument("--input", required=True, help="raw records (JSONL, CSV, Parquet; see summ-prepare --format)")
    parser.add_argument("--output", required=True, help="output JSONL")
    parser.add_argument("--format", default="auto", choices=("auto", "jsonl", "csv", "parquet", "cnndm-stories"),
                        help="input format (default: by extension)")
    parser.add_argument("--data-bin", help="data-bin the model was trained on (dictionary, prepare.json); "
                        "default: the checkpoint's task.data")
    parser.add_argument("--encoder-json", help="GPT-2 encoder.json (default: as in training)")
    parser.add_argument("--vocab-bpe", help="GPT-2 vocab.bpe (default: as in training)")
    parser.add_argument("--retriever", help="retriever (default: the valid/test retriever of the training data)")
    parser.add_argument("--retriever-options", help="JSON object of retriever options")
    parser.add_argument("--split-mode", choices=("sentence", "paragraph", "window"))
    parser.add_argument("--max-source-positions", type=int,
                        help="source budget of the retrieval (default: the data-bin's, from prepare.json); "
                        "at most the model's source positions")
    parser.add_argument("--on-bad-record", default="error", choices=("error", "skip"))
    for name in ("id", "document", "documents", "query", "title"):
        parser.add_argument(f"--{name}-field", help=f"input field holding the {name}")
    gen = parser.add_argument_group("generation (fairseq's options)")
    gen.add_argument("--beam", type=int, default=4)
    gen.add_argument("--lenpen", type=float, default=1.0)
    gen.add_argument("--max-len-a", type=float, default=0.0)
    gen.add_argument("--max-len-b", type=int, default=200)
    gen.add_argument("--min-len", type=int, default=1)
    gen.add_argument("--no-repeat-ngram-size", type=int, default=0)
    gen.add_argument("--batch-size", type=int, default=8)
    gen.add_argument("--cpu", action="store_true", help="run on CPU even when a GPU is available")
    gen.add_argument("--fp16", action="store_true", help="half precision on GPU")
    parser.add_argument("--log-level", default="INFO")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.log_level.upper())
    from summ_plugin.data.formats import field_names_from_options
    from summ_plugin.summarize import GenerationOptions, SummarizeConfig, SummarizeError, summarize_file

    retriever_options = None
    if args.retriever_options:
        try:
            retriever_options = json.loads(args.retriever_options)
        except json.JSONDecodeError as err:
            parser.error(f"--retriever-options: not valid JSON ({err.msg})")
    config = SummarizeConfig(
        checkpoint=args.path, input=args.input, output=args.output, data_bin=args.data_bin,
        encoder_json=args.encoder_json, vocab_bpe=args.vocab_bpe, retriever=args.retriever,
        retriever_options=retriever_options, split_mode=args.split_mode, input_format=args.format,
        fields=field_names_from_options(**{n: getattr(args, f"{n}_field") for n in
                                           ("id", "document", "documents", "query", "title")}),
        max_source_positions=args.max_source_positions, batch_size=args.batch_size, cpu=args.cpu,
        fp16=args.fp16, on_bad_record=args.on_bad_record,
        generation=GenerationOptions(
            beam=args.beam, lenpen=args.lenpen, max_len_a=args.max_len_a, max_len_b=args.max_len_b,
            min_len=args.min_len, no_repeat_ngram_size=args.no_repeat_ngram_size,
        ),
    )
    from summ_plugin.safe_io import find_write_error, write_error_message

    try:
        counts = summarize_file(config)
    except (SummarizeError, FileNotFoundError, ValueError) as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        cause = find_write_error(err)
        if cause is None:
            raise
        print(f"{PROG}: error: {write_error_message(cause, args.output)}; no output written", file=sys.stderr)
        return 2
    print(f"{PROG}: {counts['summarized']} summaries written to {args.output}"
          + (f" ({counts['skipped']} records skipped)" if counts["skipped"] else ""), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
