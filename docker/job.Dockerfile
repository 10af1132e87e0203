# The job image the RayJobs run: Ray with CUDA, the CUDA build of vLLM and medbatch[jobs,openai].
# Build from the repository root: docker build -f docker/job.Dockerfile -t medbatch-job .
# The Ray version must match the `ray` pin in pyproject.toml and the chart's jobImage.rayVersion (tested).
FROM rayproject/ray:2.60.0-py311-gpu
WORKDIR /tmp/medbatch
COPY --chown=1000:100 pyproject.toml README.md ./
COPY --chown=1000:100 medbatch ./medbatch
RUN pip install --no-cache-dir "vllm==0.32.0" ".[jobs,openai]" && rm -rf /tmp/medbatch
WORKDIR /home/ray
# Ray's images run as the non-root user `ray` (uid 1000); the RayJob starts
# `python -m medbatch.jobs.entrypoint` on the head.
USER 1000
