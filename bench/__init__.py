"""Benchmarks of summ_plugin against the stock fairseq pipeline (``python bench/run.py``)."""
