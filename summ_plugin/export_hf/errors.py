"""The export's user error. No fairseq import."""
from ..errors import UserError


class ExportError(UserError):
    """A user error (bad checkpoint, missing dictionary, existing output): one line for the CLI."""
