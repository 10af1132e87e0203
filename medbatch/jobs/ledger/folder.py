"""``OutputFolder``: the ledger's one entry point, for the driver and the shard workers.

A run claims the folder for its configuration, takes it over, plans against the index, commits each
shard (a part, then the shard's state), and finishes by committing the index and writing the manifest.
Every step that can lose a race to another run says so in its return value; see the package docstring
for the protocol.
"""

from __future__ import annotations

import logging
from typing import Any

import fsspec
import pyarrow as pa
from pydantic import BaseModel

from medbatch.jobs.config import JobConfig
from medbatch.jobs.errors import JobError
from medbatch.jobs.ledger.finish import Finished, finish_run
from medbatch.jobs.ledger.index import write_shard_state
from medbatch.jobs.ledger.lease import Lease, owns, take_over
from medbatch.jobs.ledger.manifest import Manifest
from medbatch.jobs.ledger.parts import list_parts, new_part_name, rows_table, write_part
from medbatch.jobs.ledger.plan import RunPlan, plan_run
from medbatch.jobs.ledger.store import Store
from medbatch.jobs.sources.listing import SourceFile
from medbatch.spec.run_files import JOB_FILE, MANIFEST_FILE, PROGRESS_FILE, ProgressReport, utc_now
from medbatch.storage import StorageError

log = logging.getLogger(__name__)


class JobClaim(BaseModel):
    """``_job.json``: which configuration owns the folder."""

    corpus: str
    config_hash: str
    created_at: str


class OutputFolder:
    """One Corpus's output folder (see ``parts`` for the layout)."""

    def __init__(self, uri: str) -> None:
        """Open the folder at ``uri``.

        Raises:
            JobError: no filesystem is installed for the URI's scheme.
        """
        try:
            self.store = Store.at_uri(uri)
        except StorageError as exc:
            raise JobError(str(exc)) from None
        self.uri = uri

    def claim(self, config: JobConfig) -> None:
        """Refuse to mix results of different configurations in one output folder.

        ``_job.json`` is created only if absent (compare-and-swap), so of two first runs with different
        configurations one claims the folder and the other is refused. A damaged ``_job.json`` (written by
        hand, a disk error) is claimed again when no part is committed yet, since nothing can be mixed;
        with committed parts the run stops with a message saying what to do.
        """
        config_hash = config.config_hash()
        payload = JobClaim(corpus=config.corpus, config_hash=config_hash, created_at=utc_now())
        for _ in range(2):  # a claim lost to another run is read back and compared
            data, version = self.store.read_versioned(JOB_FILE)
            if data is not None:
                try:
                    claimed = JobClaim.model_validate_json(data)
                except ValueError:
                    if list_parts(self.store):
                        raise JobError(
                            f"{JOB_FILE} is damaged ({len(data)} bytes, not a claim), and {self.uri} holds committed parts whose configuration "
                            "it recorded: delete _job.json if those parts were made with this Corpus (it is "
                            "then claimed again), or write to a new output.uri"
                        ) from None
                    log.warning(
                        "%s is damaged; no part is committed yet, so the folder is claimed again", JOB_FILE
                    )
                else:
                    if claimed.config_hash != config_hash:
                        raise JobError(
                            f"output {self.uri} holds results of another configuration (config hash "
                            f"{claimed.config_hash}, this run {config_hash}): the tasks, limits, engine or "
                            "surrogate key changed. Write to a new output.uri, or delete the old results to "
                            "start over."
                        )
                    return
            if self.store.put_if(JOB_FILE, payload.model_dump_json(indent=2).encode(), version):
                return
        raise JobError(f"{JOB_FILE} of {self.uri} keeps changing: is another run claiming it?")

    def take_over(self) -> Lease:
        """Make this run the folder's owner (the last run to start owns it)."""
        if not self.store.conditional:
            log.warning(
                "%s has no compare-and-swap here: runs on this folder must not overlap (see docs/architecture.md)",
                self.uri.split("://", 1)[0] + "://",
            )
        return take_over(self.store)

    def owns(self, lease: Lease) -> bool:
        """Whether ``lease``'s run still owns the folder."""
        return owns(self.store, lease)

    def plan(
        self, config: JobConfig, fs_in: fsspec.AbstractFileSystem, base: str, listed: list[SourceFile]
    ) -> RunPlan:
        """Plan a run over the listed source files against what the folder holds."""
        return plan_run(config, fs_in, base, listed, self.store)

    def commit_shard(
        self,
        lease: Lease | None,
        shard_id: str,
        rows: list[dict[str, Any]],
        records: pa.Table,
        *,
        unread: int,
    ) -> bool:
        """Commit a shard: its rows as a new part, then its records as its state (the shard is done).
        False, with nothing written, when another run owns the folder now."""
        if lease is not None and not self.owns(lease):
            return False
        if rows:
            write_part(self.store, new_part_name(shard_id), rows_table(rows))
        write_shard_state(self.store, shard_id, records, unread=unread)
        return True

    def finish(self, plan: RunPlan, *, keep_departed: bool) -> Finished:
        """Fold the run into the index (see ``finish``); ``committed`` False when another run did first."""
        return finish_run(self.store, plan, keep_departed=keep_departed)

    def write_progress(self, report: ProgressReport) -> None:
        """Replace ``_progress.json``."""
        self.store.write(PROGRESS_FILE, report.model_dump_json(indent=2).encode())

    def write_manifest(self, manifest: Manifest) -> None:
        """Write ``_manifest.json``, the last file of a finished run."""
        self.store.write(MANIFEST_FILE, manifest.model_dump_json(indent=2).encode())
