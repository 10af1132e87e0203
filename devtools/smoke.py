"""Run every documented command in the environment its doc installs.

The docs are the source: a fenced shell block right after a ``<!-- smoke: EXTRA -->`` comment in README.md
or docs/*.md is run, verbatim, in a fresh copy of the repository with a fresh virtual environment on
``PATH`` (as if activated), block after block in document order. The first block of each extra is the
docs' own install line, so what is tested is what a user following the doc installs. Options after the
extra:

* ``background`` - start the block and leave it running (a server), for the blocks after it;
* ``ready=URL`` - wait until ``URL`` answers 200 before going on (with ``background``);
* ``port=N`` - the doc's port ``N`` is replaced by a free loopback port in this extra's blocks.

``--latest`` drops the lock file from the install lines (``-c requirements/lock.txt``): pip then takes the
newest versions that pyproject.toml's ranges allow, which is what a user gets who installs medbatch into
an environment of their own. Run it on a schedule (``.ci/latest``) to hear of a breaking release first.

Each extra ends with a check of what must not be there: the operator's environment has no Ray, vLLM,
torch or pyarrow, so the operator image never grows the data stack unnoticed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_OPTION = "-c requirements/lock.txt "
_BLOCK = re.compile(
    r"<!--\s*smoke:\s*(?P<extra>[\w-]+)(?P<options>[^>]*?)\s*-->\s*\n```[\w-]*\n(?P<body>.*?)\n```",
    re.DOTALL,
)
# Modules that an extra's environment must not be able to import.
ABSENT: dict[str, tuple[str, ...]] = {
    "operator": ("ray", "vllm", "torch", "pyarrow", "fsspec"),
    "jobs": ("vllm", "torch", "kopf", "fastapi"),
    "serve": ("vllm", "torch", "kopf"),
}
SMOKE_ENV = "MEDBATCH_SMOKE_RUN"
BLOCK_TIMEOUT_S = 1200
READY_TIMEOUT_S = 240


@dataclass(frozen=True)
class Block:
    """One documented shell block and how to run it."""

    doc: str
    line: int
    extra: str
    body: str
    background: bool = False
    ready: str | None = None
    port: str | None = None

    @property
    def where(self) -> str:
        """``doc:line``, for messages."""
        return f"{self.doc}:{self.line}"


def doc_blocks(root: Path = ROOT) -> list[Block]:
    """Every smoke block of README.md and docs/*.md, in document order."""
    blocks: list[Block] = []
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = doc.read_text()
        for match in _BLOCK.finditer(text):
            options = dict(
                (*item.partition("=")[::2],) for item in match.group("options").replace(",", " ").split()
            )
            unknown = set(options) - {"background", "ready", "port"}
            if unknown:
                raise ValueError(f"{doc.name}: unknown smoke options {sorted(unknown)}")
            blocks.append(
                Block(
                    doc=str(doc.relative_to(root)),
                    line=text.count("\n", 0, match.start()) + 1,
                    extra=match.group("extra"),
                    body=match.group("body"),
                    background="background" in options,
                    ready=options.get("ready") or None,
                    port=options.get("port") or None,
                )
            )
    return blocks


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _copy_checkout(target: Path) -> None:
    """The files a fresh clone has (tracked, plus new files git does not ignore), nothing built."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def _wait_ready(url: str, process: subprocess.Popen[bytes], block: Block) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SmokeError(block, f"exited with {process.returncode} before {url} answered")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=5) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(1)  # polling a server that is starting; there is nothing to wait on instead
    raise SmokeError(block, f"{url} did not answer within {READY_TIMEOUT_S} s")


class SmokeError(Exception):
    """A documented block failed."""

    def __init__(self, block: Block, why: str) -> None:
        super().__init__(f"{block.where} ({block.extra}): {why}")


@contextlib.contextmanager
def _cleaned_up(processes: list[subprocess.Popen[bytes]], token: str) -> Iterator[None]:
    """Stop background blocks (SIGINT first, as Ctrl-C would), then anything the blocks left behind."""
    try:
        yield
    finally:
        for process in processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=60)
        # Ray starts its daemons and workers in sessions of their own, out of reach of a process group:
        # they are found by the environment variable every process of this run inherits.
        _kill_marked(token)


def _kill_marked(token: str) -> None:
    marker = f"{SMOKE_ENV}={token}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if marker.encode() in (entry / "environ").read_bytes().split(b"\0"):
                os.kill(int(entry.name), signal.SIGKILL)


def run_extra(extra: str, blocks: list[Block], *, latest: bool, python: str) -> None:
    """Run ``blocks`` (all of one extra) in a fresh copy with a fresh virtual environment.

    Raises:
        SmokeError: a block failed, a server never became ready, or a module that must be absent is there.
    """
    with tempfile.TemporaryDirectory(prefix=f"medbatch-smoke-{extra}-") as tmp:
        checkout = Path(tmp) / "medbatch"
        _copy_checkout(checkout)
        venv = checkout / ".venv"
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True
        )
        token = uuid.uuid4().hex
        env = {
            **os.environ,
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "VIRTUAL_ENV": str(venv),
            SMOKE_ENV: token,
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        env.pop("PYTHONPATH", None)
        ports = {b.port: str(_free_port()) for b in blocks if b.port}
        background: list[subprocess.Popen[bytes]] = []
        with _cleaned_up(background, token):
            for block in blocks:
                script = block.body
                for documented, free in ports.items():
                    script = script.replace(documented, free)
                if latest:
                    script = script.replace(LOCK_OPTION, "")
                ready = block.ready
                for documented, free in ports.items():
                    ready = ready.replace(documented, free) if ready else None
                sys.stdout.write(f"== {block.where} ({extra}{', latest' if latest else ''})\n{script}\n")
                sys.stdout.flush()
                command = ["bash", "-euo", "pipefail", "-c", script]
                if block.background:
                    process = subprocess.Popen(command, cwd=checkout, env=env, start_new_session=True)
                    background.append(process)
                    if ready:
                        _wait_ready(ready, process, block)
                    continue
                try:
                    subprocess.run(command, cwd=checkout, env=env, check=True, timeout=BLOCK_TIMEOUT_S)
                except subprocess.CalledProcessError as exc:
                    raise SmokeError(block, f"exited with {exc.returncode}") from None
                except subprocess.TimeoutExpired:
                    raise SmokeError(block, f"still running after {BLOCK_TIMEOUT_S} s") from None
        present = [
            module
            for module in ABSENT.get(extra, ())
            if subprocess.run(
                [
                    str(venv / "bin" / "python"),
                    "-c",
                    f"import importlib.util as u; assert u.find_spec('{module}')",
                ],
                capture_output=True,
            ).returncode
            == 0
        ]
        if present:
            raise SmokeError(blocks[0], f"the [{extra}] environment can import {', '.join(present)}")


def main(argv: list[str] | None = None) -> int:
    """Run the smoke blocks of the extras asked for (all by default); exit 1 on the first failure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("extras", nargs="*", help="extras to try (default: every extra the docs show)")
    parser.add_argument("--latest", action="store_true", help="ignore the lock: newest allowed versions")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the fresh environments")
    parser.add_argument("--list", action="store_true", help="list the blocks and exit")
    args = parser.parse_args(argv)
    blocks = doc_blocks()
    extras = args.extras or list(dict.fromkeys(b.extra for b in blocks))
    if args.list:
        for block in blocks:
            sys.stdout.write(f"{block.where}\t{block.extra}\t{block.body.splitlines()[0]}\n")
        return 0
    for extra in extras:
        chosen = [b for b in blocks if b.extra == extra]
        if not chosen:
            sys.stderr.write(f"no documented block installs [{extra}]\n")
            return 1
        started = time.monotonic()
        try:
            run_extra(extra, chosen, latest=args.latest, python=args.python)
        except SmokeError as exc:
            sys.stderr.write(f"smoke FAILED: {exc}\n")
            return 1
        sys.stdout.write(f"== [{extra}] passed in {time.monotonic() - started:.0f} s\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
