"""summ_plugin: load with ``--user-dir summ_plugin`` (or ``import summ_plugin``).

Importing the package registers the task, the criterion and the checkpoint utilities
with fairseq; nothing else happens here. ``summ_plugin.Summarizer`` (summarize from Python,
summ_plugin.summarizer) is imported on first use. Where fairseq is not installed at all
(an exported model summarized with transformers only), there is nothing to register and the
package still imports; a fairseq that is installed but broken fails here, as it should.
"""
import importlib.util

if importlib.util.find_spec("fairseq") is not None:
    from . import fairseq_import  # noqa: F401  (first: fairseq's import must not set the root logger to DEBUG)
    from . import checkpoints  # noqa: F401  (safe torch.load for fairseq checkpoints)
    from . import criterions  # noqa: F401
    from . import tasks  # noqa: F401
    from . import restore_checks  # noqa: F401  (missing --restore-file, architecture mismatch)


def __getattr__(name):
    if name == "Summarizer":
        from .summarizer import Summarizer

        return Summarizer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Summarizer"]
