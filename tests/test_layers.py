"""The import layers of pyproject.toml hold, and the static check really catches an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and its contracts, to break on purpose."""
    shutil.copytree(ROOT / "medbatch", tmp_path / "medbatch", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_hold(tree: Path) -> None:
    result = _lint(tree)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "BROKEN" not in result.stdout


def test_an_upward_import_inside_a_function_breaks_the_layers(tree: Path) -> None:
    """The case the old runtime check missed: an import that runs only when a function is called."""
    module = tree / "medbatch" / "notes" / "tasks" / "chunking.py"
    module.write_text(
        module.read_text()
        + "\n\ndef _upward() -> None:\n    from medbatch.jobs import config  # noqa: F401\n"
    )
    result = _lint(tree)
    assert result.returncode != 0
    assert "medbatch.notes is not allowed to import medbatch.jobs" in result.stdout


def test_the_operator_may_not_reach_the_data_stack(tree: Path) -> None:
    module = tree / "medbatch" / "operator" / "render.py"
    module.write_text(module.read_text() + "\n\ndef _heavy() -> None:\n    import pyarrow  # noqa: F401\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "medbatch.operator.render -> pyarrow" in result.stdout
