"""Run the ``medbatch`` CLI as a user would: a subprocess with its own Ray temp dir."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, cwd: Path, ray_tmp: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``medbatch ARGS`` in ``cwd``; Ray's files go to ``ray_tmp`` (a fresh short dir when None)."""
    own_tmp = ray_tmp is None
    tmp = ray_tmp or tempfile.mkdtemp(prefix="mb-cli-")
    env = {**os.environ, "RAY_TMPDIR": tmp, "RAY_AUTH_MODE": "disabled", "NO_COLOR": "1"}
    try:
        return subprocess.run(
            [sys.executable, "-m", "medbatch", *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    finally:
        if own_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
