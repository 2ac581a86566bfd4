from . import retrieve_summarize  # noqa: F401  (registers the task)
