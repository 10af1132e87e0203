"""Run a job on a fresh local Ray cluster that exports its metrics for Prometheus, and keep the cluster
(and so the job's series) up until stdin closes.

Usage: python -m tests.drivers.metrics_job CONFIG_JSON METRICS_PORT RAY_TMP
Prints ``finished`` on its own line once the job is done.
"""

from __future__ import annotations

import sys

import ray

from medbatch.jobs import JobConfig, run_job


def main() -> None:
    """Run the job given as JSON on argv[1], exporting Ray's metrics on port argv[2]."""
    config = JobConfig.model_validate_json(sys.argv[1])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        _metrics_export_port=int(sys.argv[2]),
        _temp_dir=sys.argv[3],
    )
    try:
        run_job(config, worker_cpus=1.0)
        print("finished", flush=True)
        sys.stdin.read()  # the driver's metrics stay exported until the test closes stdin
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
