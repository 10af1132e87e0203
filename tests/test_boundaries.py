"""The operator side (spec, CLI entry, operator) must not pull in the data stack: the operator image has no Ray."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("ray", "pyarrow", "vllm", "torch", "fsspec", "numpy")


def test_spec_cli_and_operator_import_without_the_data_stack() -> None:
    probe = (
        "import sys, medbatch.spec, medbatch.cli, medbatch.operator.handlers, medbatch.operator.render, "
        "medbatch.operator.status, medbatch.operator.jobs_api; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_jobs_does_import_it() -> None:
    probe = "import sys, medbatch.jobs; print('pyarrow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "True"


def test_the_note_core_imports_without_ray_storage_or_the_batch_job() -> None:
    """spec -> notes -> jobs / serve: the core stands alone, so the online service and evaluations use it
    without the batch machinery."""
    probe = (
        "import sys, medbatch.notes; "
        "print(','.join(m for m in ('ray', 'pyarrow', 'fsspec', 'medbatch.jobs', 'medbatch.serve') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
