"""The output folder as a ledger: a small table format with one commit per run.

What it holds (``parts``): immutable Parquet parts, each a shard's rows; ``_index.parquet``, every
source record and the part that holds its note's row; ``_state/``, the owner of a run in progress and
the shards it has done; ``_job.json``, the configuration the folder belongs to; ``_manifest.json``.

The protocol, for a run:

1. **Claim** ``_job.json`` (created only if absent) or find it is this configuration's.
2. **Take over** ``_state/run.json`` by compare-and-swap: the last run to start owns the folder.
3. **Plan** from the index (and its version), the parts on disk and the source listing (``plan``).
4. **Commit shards**: each worker, while its run still owns the folder, writes its part atomically under
   a new name and then the shard's state file (``folder.OutputFolder.commit_shard``).
5. **Finish**: reconcile to one row per note, rewrite parts that lose rows under new names, **commit the
   index** by compare-and-swap against the version planned on, then remove superseded parts and
   ``_state``. A run whose commit loses wrote nothing the next run cannot fold.

Every store's guarantees are in ``store``; the user-facing account is docs/architecture.md.
"""

from medbatch.jobs.ledger.folder import OutputFolder
from medbatch.jobs.ledger.lease import Lease
from medbatch.jobs.ledger.manifest import Changes, Manifest, Timings, build_manifest
from medbatch.jobs.ledger.parts import OutputRow, output_schema
from medbatch.jobs.ledger.plan import RunPlan

__all__ = [
    "Changes",
    "Lease",
    "Manifest",
    "OutputFolder",
    "OutputRow",
    "RunPlan",
    "Timings",
    "build_manifest",
    "output_schema",
]
