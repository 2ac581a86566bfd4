"""The one base class of the errors a user fixes (bad input, bad option, unusable file).

The summ-* tools print such an error as one line ``PROG: error: MESSAGE`` and exit 2, the
status argparse gives a bad command line (see :func:`summ_plugin.cli.common.run_tool`); any
other exception is a bug and keeps its traceback. Under fairseq-train (where the plugin does not
own ``main``) the same errors end the run with one line through ``sys.excepthook``
(:func:`summ_plugin.checkpoints.install_one_line_user_errors`), found with :func:`find_user_error`
even where fairseq re-raises them wrapped in its own exception. Every error class of the plugin
subclasses :class:`UserError`. No imports: every layer may raise it.
"""
from typing import Optional


class UserError(Exception):
    """A problem the user fixes; the message names the file (line, key) or the option."""


def find_user_error(exc: Optional[BaseException]) -> Optional[UserError]:
    """The UserError in ``exc``'s cause/context chain, if any: fairseq's trainer re-raises
    every model-loading failure as "Cannot load model parameters ... architectures match",
    which hides the real cause (a vocabulary mismatch, a corrupt file)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UserError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None
