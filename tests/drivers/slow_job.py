"""Run a job whose engine takes a fixed time per call, so that a test can kill it part-way.

Usage: python -m tests.drivers.slow_job CONFIG_JSON
"""

from __future__ import annotations

import sys

import ray

from medbatch.jobs import JobConfig, run_job


def main() -> None:
    """Run the job given as JSON on argv[1] on a fresh local Ray cluster."""
    config = JobConfig.model_validate_json(sys.argv[1])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    run_job(config, worker_cpus=1.0)


if __name__ == "__main__":
    main()
