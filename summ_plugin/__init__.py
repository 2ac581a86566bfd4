"""summ_plugin: load with ``--user-dir summ_plugin`` (or ``import summ_plugin``).

Importing the package registers the task, the criterion and the checkpoint utilities
with fairseq; nothing else happens here.
"""
from . import fairseq_import  # noqa: F401  (first: fairseq's import must not set the root logger to DEBUG)
from . import checkpoints  # noqa: F401  (safe torch.load for fairseq checkpoints)
from . import criterions  # noqa: F401
from . import tasks  # noqa: F401
from . import restore_checks  # noqa: F401  (missing --restore-file, architecture mismatch)
