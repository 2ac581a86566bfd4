"""The one base class of the errors a user fixes (bad input, bad option, unusable file).

The summ-* tools print such an error as one line ``PROG: error: MESSAGE`` and exit 2, the
status argparse gives a bad command line (see :func:`summ_plugin.cli.common.run_tool`); any
other exception is a bug and keeps its traceback. No imports: every layer may raise it.
"""


class UserError(Exception):
    """A problem the user fixes; the message names the file (line, key) or the option."""
