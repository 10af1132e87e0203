"""Which run owns an output folder now: the last one to start.

A run takes ``_state/run.json`` when it starts, by compare-and-swap (``Store.put_if``): it reads the file,
writes its own id and the next generation only if the file is still what it read, and tries again if not,
so every run that starts gets a generation of its own and no take-over is lost. Its workers check the
file before committing a part, and its driver before finishing; a run that finds another id there has
been superseded (a second ``medbatch run`` on the same folder, a RayJob retried while the old driver was
still alive, a worker of a killed run that Ray has not reaped yet) and stops without committing.

The lease is how a run learns early that it lost; what makes two runs unable to both fold the folder is
the index commit (``index.commit_index``), a compare-and-swap against the index the run planned on.
A part committed by a superseded worker between its check and its write is harmless: part names are
unique, and the next run's reconciliation keeps one row per note.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from medbatch.jobs.errors import JobError
from medbatch.jobs.ledger.index import STATE_DIR
from medbatch.jobs.ledger.store import Store
from medbatch.spec.run_files import utc_now

RUN_FILE = f"{STATE_DIR}/run.json"
# Take-overs racing one another each retry after losing; this many losses in a row means something
# else rewrites the file (a store that ignores the condition would never lose).
_ATTEMPTS = 50


@dataclass(frozen=True)
class Lease:
    """A run's ownership of the folder: its id and generation (one more than the run it took over from)."""

    run_id: str
    generation: int


def _parse(data: bytes | None) -> dict[str, object]:
    if data is None:
        return {}
    try:
        loaded = json.loads(data)
    except ValueError:  # damaged: taken over like a missing one
        return {}
    return loaded if isinstance(loaded, dict) else {}


def take_over(store: Store) -> Lease:
    """Make a new run the owner of the folder."""
    run_id = uuid.uuid4().hex
    for _ in range(_ATTEMPTS):
        data, version = store.read_versioned(RUN_FILE)
        previous = _parse(data).get("generation")
        generation = (previous if isinstance(previous, int) else 0) + 1
        payload = {"run_id": run_id, "generation": generation, "started_at": utc_now()}
        if store.put_if(RUN_FILE, json.dumps(payload, indent=2).encode(), version):
            return Lease(run_id, generation)
    raise JobError(f"could not take over the output folder: {RUN_FILE} changed {_ATTEMPTS} times in a row")


def owns(store: Store, lease: Lease) -> bool:
    """Whether the run of ``lease`` still owns the folder (False once another run took over, or the
    folder's run finished)."""
    return _parse(store.read(RUN_FILE)).get("run_id") == lease.run_id
