"""Model weights from object storage: copied once per node to local disk, then loaded by vLLM from there.

vLLM loads from a local folder or a hub id; a ``s3://`` (or ``gs://``) prefix is downloaded into
``$MEDBATCH_MODEL_CACHE`` (default ``~/.cache/medbatch/models``). Replicas on one node share the copy: each
downloads into a private temporary folder and renames it into place, so a reader never sees half a model.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)
MODEL_CACHE_ENV = "MEDBATCH_MODEL_CACHE"
REMOTE_SCHEMES = ("s3://", "gs://")


def local_model_path(model: str) -> str:
    """``model`` itself for a local folder or hub id; a local copy for an object-storage prefix."""
    if not model.startswith(REMOTE_SCHEMES):
        return model
    cache = Path(os.environ.get(MODEL_CACHE_ENV, Path.home() / ".cache" / "medbatch" / "models"))
    name = model.rstrip("/").rsplit("/", 1)[-1]
    target = cache / f"{name}-{hashlib.sha256(model.encode()).hexdigest()[:12]}"
    if target.exists():
        return str(target)
    cache.mkdir(parents=True, exist_ok=True)
    # Storage (credentials from the environment, as the job reads its notes) pulls in fsspec: imported
    # here because only object-storage weights need it, so the note core alone stays free of it.
    from medbatch.storage import filesystem

    fs, path = filesystem(model)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache))
    log.info("downloading model weights from %s", model)
    for remote in fs.find(path):
        relative = remote[len(path.rstrip("/")) + 1 :]
        (staging / relative).parent.mkdir(parents=True, exist_ok=True)
        fs.get(remote, str(staging / relative))
    try:
        staging.rename(target)
    except OSError:  # another replica finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)
