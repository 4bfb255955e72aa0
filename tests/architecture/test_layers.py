"""The package keeps its layers: core <- sinks <- api <- celery <- cli, no circles, no Celery in the core.

Inside the CLI, its stages keep the same direction: reading <- model <- views <- commands.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from .layers import LAYERS, PACKAGE, STAGES, check, layer_of, modules, stage_of

ROOT = Path(__file__).resolve().parents[2]


def test_imports_only_run_downward_and_never_in_circles() -> None:
    """No module imports a higher layer, the core imports no third party but orjson, nothing is circular."""
    violations = check(ROOT)
    assert not violations, "\n".join(str(v) for v in violations)


def test_every_module_belongs_to_a_layer() -> None:
    """Each module of the package sits in one of the named layers (a new folder must be placed)."""
    for module in modules(ROOT):
        assert 0 <= layer_of(module) < len(LAYERS), module


def test_every_cli_module_belongs_to_a_stage() -> None:
    """Each module under cli/ sits in one of its stages (a new sub-package of cli/ must be placed)."""
    staged = {module: stage_of(module) for module in modules(ROOT) if module.startswith(f"{PACKAGE}.cli")}
    assert staged and all(stage is not None for stage in staged.values()), staged
    assert {stage[1] for stage in staged.values() if stage} == set(range(len(STAGES["cli"])))
    with pytest.raises(ValueError, match="no stage"):
        stage_of(f"{PACKAGE}.cli.extras.module")


# Longer on purpose: a table of data, one row per event, that reads top to bottom.
DATA_TABLES = {f"{PACKAGE}.core.events"}


def test_no_module_grows_past_300_lines() -> None:
    """Every module stays small enough to read in one sitting (about 300 lines), data tables apart."""
    long = {
        name: count
        for name, path in modules(ROOT).items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 320 and name not in DATA_TABLES
    }
    assert not long, long
    for name in DATA_TABLES:
        tree = ast.parse(modules(ROOT)[name].read_text(encoding="utf-8"))
        code = [node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        assert not code, f"{name} is exempt as data only, yet defines {[node.name for node in code]}"


@pytest.mark.parametrize(
    ("where", "planted", "rule"),
    [
        ("core/record.py", "import celery\n", "the core imports no third party"),
        ("sinks/jsonl.py", "from ..celery import install\n", "sinks is below celery"),
        ("core/redact.py", "from . import record\n", "import circle"),
        ("cli/reading/fields.py", "from ..views import formatting\n", "cli reading is below cli views"),
        (
            "cli/model/runs.py",
            "from ..commands.settings import Settings\n",
            "cli model is below cli commands",
        ),
        ("cli/views/render.py", "from .. import cli\n", "cli views is below cli commands"),
    ],
)
def test_a_planted_violation_is_found(tmp_path: Path, where: str, planted: str, rule: str) -> None:
    """The checker reports a Celery import in the core, an upward import (between layers or CLI stages)
    and a circle planted in a copy."""
    shutil.copytree(ROOT / PACKAGE, tmp_path / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
    assert not check(tmp_path)
    target = tmp_path / PACKAGE / where
    target.write_text(planted + target.read_text(encoding="utf-8"), encoding="utf-8")
    found = check(tmp_path)
    assert any(rule in str(v) for v in found), found
