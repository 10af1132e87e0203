"""Which run owns an output folder now: the last one to start.

A run writes ``_state/run.json`` with a fresh id when it starts. Its workers check it before committing a
part, and its driver before finishing; a run that finds another id there has been superseded (a second
``medbatch run`` on the same folder, a RayJob retried while the old driver was still alive, a worker of
a killed run that Ray has not reaped yet) and stops without committing, so two runs never fold the folder
at once. The check and the commit are not one atomic step, so this narrows the window to the time of one
move rather than closing it; whatever slips through is a duplicate row that the next finish collapses.
"""

from __future__ import annotations

import uuid

import fsspec

from medbatch.jobs.note_index import STATE_DIR
from medbatch.storage import join, read_json, write_json

RUN_FILE = f"{STATE_DIR}/run.json"


def take_over(fs: fsspec.AbstractFileSystem, output_path: str) -> str:
    """Make a new run the owner of the folder; returns its id."""
    run_id = uuid.uuid4().hex
    fs.makedirs(join(output_path, STATE_DIR), exist_ok=True)
    write_json(fs, join(output_path, RUN_FILE), {"run_id": run_id})
    return run_id


def owns(fs: fsspec.AbstractFileSystem, output_path: str, run_id: str) -> bool:
    """Whether run ``run_id`` still owns the folder (False once another run took over or it finished)."""
    try:
        current = read_json(fs, join(output_path, RUN_FILE))
    except ValueError:  # damaged: whoever wrote it last is not provably us
        return False
    return current is not None and current.get("run_id") == run_id
