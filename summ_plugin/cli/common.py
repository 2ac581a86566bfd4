"""The one convention of the summ-* tools: options built from the config dataclasses, the
record-reading options, the logging set-up, and how errors end a run.

* :func:`add_dataclass_arguments`: ``--name`` options from a dataclass's fields (type, default,
  choices and help from the field), as fairseq builds its options from its dataclass configs;
  a setting is declared once, in its dataclass, and the CLI cannot drift from it.
* :func:`add_record_options` / :func:`record_fields`: ``--format``, ``--on-bad-record`` and the
  ``--*-field`` options of every tool that reads raw records (the formats summ-prepare reads).
* :func:`add_log_level_option` / :func:`setup_logging`: one log format, INFO by default.
* :class:`FileOptions`: which options of a tool name files it reads and writes; :func:`run_main`
  refuses, before the tool starts, an output that is an input (same path, hard link, symlink),
  lies inside an input directory or (an output directory) holds one
  (``safe_io.check_outputs_are_not_inputs``).
* :func:`run_main`: parse, set up logging, check the files, run the tool's body under :func:`run_tool`.
* :func:`run_tool`: a user error (:class:`summ_plugin.errors.UserError`, a disk-full or
  forbidden write) ends the run with one line ``PROG: error: MESSAGE`` and exit status 2, as
  argparse ends a bad command line; Ctrl-C ends it with 130; anything else is a bug and keeps
  its traceback.
"""
import argparse
import dataclasses
import inspect
import logging
import os
import sys
import typing
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Type

from summ_plugin.numbers import find_non_finite, finite_float

USER_ERROR_STATUS = 2  # argparse's status for a bad command line
INTERRUPTED_STATUS = 130  # the shell's status for a run ended by SIGINT
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


# ----------------------------------------------------------------------------- logging


def setup_logging(level=logging.INFO) -> None:
    """One log format and level for the summ-* tools; ``level`` a name ("INFO", "debug") or a
    number. ``force``: replaces whatever configured the root logger before (a library's import)."""
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            level = logging.INFO
    logging.basicConfig(
        level=level, format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", stream=sys.stderr, force=True
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)


def add_log_level_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=LOG_LEVELS,
                        help="log messages of this level and above (default: %(default)s)")


# ----------------------------------------------------------------------------- options from dataclasses


def json_object(text: str) -> Dict:
    """argparse type of a JSON-object option (``--retriever-options '{"k1": 1.5}'``); NaN,
    Infinity and numbers beyond a float are refused (they are no JSON and no setting)."""
    from summ_plugin.data.formats.jsonl import JSONTextError, parse_json

    try:
        value = parse_json(text)
    except JSONTextError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err.reason})") from None
    bad = find_non_finite(value)
    if bad:
        raise argparse.ArgumentTypeError(f"{bad}: not a finite number of a usable size")
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def comma_list(text: str) -> Tuple[str, ...]:
    """argparse type of a comma-separated option (``--allow-missing-summary test``)."""
    return tuple(part for part in text.split(",") if part)


def _value_type(annotation):
    """``Optional[X]`` -> ``X``; ``Dict[...]`` -> dict; ``Tuple[...]`` -> tuple."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) is typing.Union and len(args) == 1:
        annotation = args[0]
    return typing.get_origin(annotation) or annotation


_TYPES = {int: int, float: finite_float, str: str, dict: json_object, tuple: comma_list}


def field_default(f: dataclasses.Field):
    """A field's default value; ``dataclasses.MISSING`` for a field without one."""
    if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return f.default


def prepare_default(name: str):
    """summ-prepare's default for ``PrepareConfig.<name>``: tools that take the same setting
    under another option shape (a list of budgets, say) start from the one declared default."""
    from summ_plugin.data.config import PrepareConfig

    return field_default({f.name: f for f in dataclasses.fields(PrepareConfig)}[name])


def add_dataclass_arguments(parser, cls: Type, *, include: Optional[Iterable[str]] = None,
                            exclude: Iterable[str] = (), names: Optional[Dict[str, str]] = None,
                            required: bool = True) -> None:
    """Add one option per field of dataclass ``cls`` to ``parser`` (a parser or an argument group).

    The option is ``--field-name`` (or ``names[field]``), its dest the field's name, so that
    ``cls(**{name: getattr(args, name)})`` rebuilds the config. Type, default and help come from
    the field (``metadata``: ``help``, ``choices``, ``metavar``, ``aliases``, ``type``); a bool field is a flag. A field
    without a default is a required option, or (``required=False``) defaults to None and the
    caller checks it. ``include``: only these fields, in this order; ``exclude``: not these.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    chosen = list(include) if include is not None else [n for n in fields if n not in set(exclude)]
    hints = typing.get_type_hints(cls)
    for name in chosen:
        f = fields[name]
        option = (names or {}).get(name, "--" + name.replace("_", "-"))
        default = field_default(f)
        help_text = f.metadata.get("help", "").replace("%", "%%")
        kwargs = {"dest": name}
        if default is dataclasses.MISSING:
            if required:
                kwargs["required"] = True
            else:
                kwargs["default"] = None
        else:
            kwargs["default"] = default
            # None, off, empty: the help says what that means; a value is worth showing
            if default is not None and default is not False and not (isinstance(default, (str, tuple, dict))
                                                                      and not default):
                help_text += " (default: %(default)s)"
        value_type = _value_type(hints[name])
        if value_type is bool:
            kwargs["action"] = "store_true"
        elif "type" in f.metadata:  # a narrower argparse type (numbers.seed_int)
            kwargs["type"] = f.metadata["type"]
        elif value_type in _TYPES:
            kwargs["type"] = _TYPES[value_type]
        else:
            raise TypeError(f"{cls.__name__}.{name}: no command-line type for {hints[name]}")
        for key in ("choices", "metavar"):
            if key in f.metadata:
                kwargs[key] = f.metadata[key]
        # "aliases": other spellings of the option (e.g. fairseq's --gpt2-encoder-json)
        parser.add_argument(option, *f.metadata.get("aliases", ()), help=help_text or None, **kwargs)


def dataclass_values(args: argparse.Namespace, cls: Type, exclude: Iterable[str] = ()) -> Dict:
    """The values of ``cls``'s fields that ``args`` holds (the options of add_dataclass_arguments)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if f.name not in set(exclude) and hasattr(args, f.name)}


# ----------------------------------------------------------------------------- reading records


def field_options() -> Tuple[str, ...]:
    """The parts of a record a ``--*-field`` option names (the ones the readers accept)."""
    from summ_plugin.data.formats import field_names_from_options

    return tuple(inspect.signature(field_names_from_options).parameters)


def add_record_options(parser) -> None:
    """``--format``, ``--on-bad-record`` and ``--id-field``/``--document-field``/...: how a tool
    reads raw records, the same for every tool (data.config.RecordOptions)."""
    from summ_plugin.data.config import RecordOptions

    add_dataclass_arguments(parser, RecordOptions, names={"input_format": "--format"})
    for name in field_options():
        parser.add_argument(f"--{name}-field", metavar="NAME",
                            help=f"input field (JSON key, CSV or Parquet column) holding the {name} "
                            "(default: detect the layout)")


def record_fields(args: argparse.Namespace):
    """The ``FieldNames`` the ``--*-field`` options give, or None (detect the layout)."""
    from summ_plugin.data.formats import field_names_from_options

    return field_names_from_options(**{name: getattr(args, f"{name}_field") for name in field_options()})


def add_retrieval_tool_options(parser, purpose: str) -> None:
    """The options of the retrieval tools (summ-train-selector, summ-eval-retrieval): how
    passages are cut (``--split-mode``) and counted (``--encoder-json``/``--vocab-bpe``),
    ``--max-docs``, the record options and ``--log-level``."""
    from summ_plugin.data.config import PrepareConfig

    add_dataclass_arguments(parser, PrepareConfig, include=("split_mode",))
    parser.add_argument("--encoder-json", help=f"GPT-2 encoder.json ({purpose}; without it: 1.3 tokens per word)")
    parser.add_argument("--vocab-bpe", help=f"GPT-2 vocab.bpe ({purpose})")
    parser.add_argument("--max-docs", type=int, metavar="N", help="read only the first N records")
    add_record_options(parser.add_argument_group("records"))
    add_log_level_option(parser)


def passage_counting_encoder(args: argparse.Namespace, max_source_positions: Optional[int] = None):
    """The ExampleEncoder (summ_plugin.data.encoder) that :func:`add_retrieval_tool_options`
    describe: exact GPT-2 counts with both BPE files, approximate ones with neither."""
    from summ_plugin.data.encoder import ExampleEncoder
    from summ_plugin.errors import UserError

    if bool(args.encoder_json) != bool(args.vocab_bpe):
        raise UserError("give both --encoder-json and --vocab-bpe, or neither")
    budget = {} if max_source_positions is None else {"max_source_positions": max_source_positions}
    return ExampleEncoder(args.encoder_json, args.vocab_bpe, split_mode=args.split_mode, **budget)


# ----------------------------------------------------------------------------- files read and written

Paths = List[Tuple[str, str]]  # (label: the option naming it, path)


@dataclass(frozen=True)
class FileOptions:
    """A tool's options that name files (by dest). Every output option of every tool is declared
    here so that :func:`run_main` can refuse one that would destroy an input."""

    reads: Tuple[str, ...] = ()  # files or directories the tool reads
    # of those, directories read whole (every file is input, a raw --input): nothing may be written inside
    reads_whole: Tuple[str, ...] = ()
    writes: Tuple[str, ...] = ()  # files it writes (replaced at the end)
    writes_dirs: Tuple[str, ...] = ()  # directories it builds whole (must not hold an input either)
    comma_separated: Tuple[str, ...] = ()  # options whose value is a comma-separated list of paths
    # paths no single option names (a selector in a JSON option, the files of an --out-dir):
    # args -> (reads, writes)
    more: Optional[Callable[[argparse.Namespace], Tuple[Paths, Paths]]] = None

    def paths(self, parser: argparse.ArgumentParser, args: argparse.Namespace) -> Tuple[Paths, Paths, Paths, Paths]:
        labels = {action.dest: _long_option(action) for action in parser._actions}

        def named(dests: Iterable[str]) -> Paths:
            out = []
            for dest in dests:
                value = getattr(args, dest, None)
                if not isinstance(value, str) or not value:
                    continue
                values = [v for v in value.split(",") if v] if dest in self.comma_separated else [value]
                out.extend((labels.get(dest, dest), v) for v in values)
            return out

        reads, writes = named(self.reads), named(self.writes)
        if self.more is not None:
            more_reads, more_writes = self.more(args)
            reads, writes = reads + list(more_reads), writes + list(more_writes)
        whole = [(label, path) for label, path in named(self.reads_whole) if os.path.isdir(path)]
        return reads, writes, named(self.writes_dirs), whole

    def check(self, parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
        from summ_plugin.safe_io import check_outputs_are_not_inputs

        reads, writes, dirs, whole = self.paths(parser, args)
        check_outputs_are_not_inputs(reads, writes, dirs, whole)


def _long_option(action: argparse.Action) -> str:
    longs = [o for o in action.option_strings if o.startswith("--")]
    return longs[0] if longs else action.dest


# ----------------------------------------------------------------------------- errors


def exit_with_error(prog: str, message: str, consequence: str = "") -> None:
    """``PROG: error: MESSAGE[; CONSEQUENCE]`` on stderr, exit status 2 (argparse's)."""
    sys.stderr.write(f"{prog}: error: {message}{'; ' + consequence if consequence else ''}\n")
    raise SystemExit(USER_ERROR_STATUS)


def run_tool(prog: str, body: Callable[[], Optional[int]], *, user_errors: Tuple[Type[BaseException], ...] = (),
             consequence: str = "") -> int:
    """Run a tool's ``body`` under the one error convention; returns its status (0 for None).

    ``user_errors``: exception types besides UserError that are the user's to fix (a library's
    input error). ``consequence``: what a failed write or Ctrl-C leaves ("nothing was published").
    """
    from summ_plugin.errors import UserError
    from summ_plugin.safe_io import find_write_error, write_error_message

    try:
        status = body()
    except (UserError,) + tuple(user_errors) as err:
        exit_with_error(prog, str(err))
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted{'; ' + consequence if consequence else ''}\n")
        raise SystemExit(INTERRUPTED_STATUS)
    except OSError as err:
        cause = find_write_error(err)
        if cause is None:
            raise
        exit_with_error(prog, write_error_message(cause), consequence)
    return 0 if status is None else status


def run_main(parser: argparse.ArgumentParser, argv: Optional[Iterable[str]],
             body: Callable[[argparse.Namespace], Optional[int]], *, files: Optional[FileOptions] = None,
             user_errors: Tuple[Type[BaseException], ...] = (), consequence: str = "") -> int:
    """A tool's ``main``: parse ``argv``, set up logging (``--log-level``; ``--quiet``: warnings
    only), refuse outputs onto inputs (``files``), then ``body(args)`` under :func:`run_tool` with
    ``parser.prog`` as the tool's name."""
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING if getattr(args, "quiet", False) else args.log_level)

    def checked_body():
        if files is not None:
            files.check(parser, args)
        return body(args)

    return run_tool(parser.prog, checked_body, user_errors=user_errors, consequence=consequence)
