"""The job's entrypoint in a cluster: ``python -m medbatch.jobs.entrypoint --corpus F --profile F``.

The RayJob (or the Ray Jobs API runner) starts it on the Ray head with the Corpus and the ModelProfile
mounted from a ConfigMap and the credentials secret as environment. It builds the job configuration with
the same code as ``medbatch run`` and joins the running Ray cluster.

It exits 0 whenever the run finished and wrote its manifest, whatever the outcome: the operator reads the
outcome (Succeeded, PartiallySucceeded, Failed) from the manifest. A non-zero exit makes KubeRay retry the
job (``backoffLimit``) on a freshly provisioned GPU cluster, which cannot help a run whose every record
failed (the same records would fail again); it is kept for runs that stopped before finishing.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import sys
from pathlib import Path

from medbatch.jobs.config import job_config_for
from medbatch.jobs.errors import JobError
from medbatch.jobs.pipeline import run_job
from medbatch.logs import configure_logging
from medbatch.notes.engines import engine_config_from_profile
from medbatch.spec import Corpus, ModelProfile, SpecError, load_corpus, load_model_profile, parse_resource
from medbatch.spec.run_files import Outcome
from medbatch.spec.safe_yaml import YamlError, load_yaml

log = logging.getLogger("medbatch.jobs.entrypoint")


def _decode(inline: str, what: str) -> object:
    try:
        return load_yaml(base64.b64decode(inline).decode())
    except (YamlError, ValueError) as exc:  # binascii.Error and UnicodeDecodeError are ValueErrors
        problem = str(exc) if isinstance(exc, YamlError) else "not base64-encoded UTF-8"
        raise SpecError(what, [f"(document): {problem}"]) from None


def main(argv: list[str] | None = None) -> int:
    """Run the Corpus; returns the process exit code."""
    parser = argparse.ArgumentParser(description="Run a Corpus on the Ray cluster this process runs in.")
    corpus_group = parser.add_mutually_exclusive_group(required=True)
    corpus_group.add_argument("--corpus", type=Path, help="Corpus YAML file (mounted from a ConfigMap)")
    corpus_group.add_argument("--corpus-inline", help="Corpus YAML, base64 (Ray Jobs API submissions)")
    profile_group = parser.add_mutually_exclusive_group(required=True)
    profile_group.add_argument("--profile", type=Path, help="ModelProfile YAML file")
    profile_group.add_argument("--profile-inline", help="ModelProfile YAML, base64")
    args = parser.parse_args(argv)
    configure_logging("json")
    try:
        corpus = (
            load_corpus(args.corpus)
            if args.corpus
            else parse_resource(_decode(args.corpus_inline, "corpus"), Corpus, "corpus")
        )
        profile = (
            load_model_profile(args.profile)
            if args.profile
            else parse_resource(_decode(args.profile_inline, "profile"), ModelProfile, "profile")
        )
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
