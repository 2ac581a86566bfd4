"""Console entry points; each module's ``main(argv=None)`` is a ``summ-*`` command."""
import logging
import sys


def setup_logging(level=logging.INFO) -> None:
    """One log format for the summ-* tools. ``force``: importing fairseq (via summ_plugin) has
    already configured the root logger (at DEBUG), which would otherwise win."""
    logging.basicConfig(
        level=level, format="%(asctime)s | %(levelname)s | %(name)s | %(message)s", stream=sys.stderr, force=True
    )
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
