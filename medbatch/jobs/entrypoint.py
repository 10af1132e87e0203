"""The job's entrypoint in a cluster: ``python -m medbatch.jobs.entrypoint --corpus F --profile F``.

The RayJob starts it on the Ray head with the Corpus and the ModelProfile mounted from a ConfigMap and
the credentials secret as environment; the Ray Jobs API runner with both files in the job's working
directory and the cluster's own credentials. It builds the job configuration with
the same code as ``medbatch run`` and joins the running Ray cluster.

It exits 0 whenever the run finished and wrote its manifest, whatever the outcome: the operator reads the
outcome (Succeeded, PartiallySucceeded, Failed) from the manifest. A non-zero exit makes KubeRay retry the
job (``backoffLimit``) on a freshly provisioned GPU cluster, which cannot help a run whose every record
failed (the same records would fail again); it is kept for runs that stopped before finishing.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from medbatch.jobs.config import job_config_for
from medbatch.jobs.errors import JobError
from medbatch.jobs.pipeline import run_job
from medbatch.logs import configure_logging
from medbatch.notes.engines import engine_config_from_profile
from medbatch.spec import SpecError, load_corpus, load_model_profile
from medbatch.spec.run_files import Outcome

log = logging.getLogger("medbatch.jobs.entrypoint")


def main(argv: list[str] | None = None) -> int:
    """Run the Corpus; returns the process exit code."""
    parser = argparse.ArgumentParser(description="Run a Corpus on the Ray cluster this process runs in.")
    parser.add_argument(
        "--corpus", type=Path, required=True, help="Corpus YAML file (mounted, or in the working directory)"
    )
    parser.add_argument("--profile", type=Path, required=True, help="ModelProfile YAML file")
    args = parser.parse_args(argv)
    configure_logging("json")
    try:
        corpus = load_corpus(args.corpus)
        profile = load_model_profile(args.profile)
        if corpus.spec.output.uri is None:
            raise JobError("spec.output.uri is required when a Corpus runs in a cluster")
        config = job_config_for(
            corpus,
            Path.cwd(),
            engine=engine_config_from_profile(profile),
            price_per_gpu_hour=profile.spec.price_per_gpu_hour,
        )
    except (SpecError, JobError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    import ray

    ray.init(address="auto", log_to_driver=False)
    try:
        manifest = run_job(config)
    except JobError as exc:
        log.error("failed: %s", exc)
        return 1
    summary = {
        "outcome": manifest.outcome.value,
        "reason": manifest.reason,
        "records": manifest.records.model_dump(),
    }
    sys.stdout.write(json.dumps(summary) + "\n")  # the RayJob's last log line: counts, never note text
    if manifest.outcome is Outcome.FAILED:
        log.error("no record succeeded; the manifest lists each record's error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
