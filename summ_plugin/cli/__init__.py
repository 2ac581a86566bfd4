"""Console entry points; each module's ``main(argv=None)`` is a ``summ-*`` command."""
import logging
import sys


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
