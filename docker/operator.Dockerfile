# The operator image: kopf, the spec models and the Kubernetes/object-storage clients; no Ray, no vLLM.
# Build from the repository root: docker build -f docker/operator.Dockerfile -t medbatch-operator .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY medbatch ./medbatch
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /wheels /wheels
COPY requirements/lock.txt /wheels/lock.txt
# The lock's versions: the operator image runs what the tests and the operator smoke test ran.
RUN pip install --no-cache-dir -c /wheels/lock.txt "$(ls /wheels/medbatch-*.whl)[operator]" && rm -rf /wheels
# Non-root, numeric so that runAsNonRoot can verify it; the chart also mounts /tmp as the only writable path.
USER 10001:10001
EXPOSE 8080 9090
# The medbatch entrypoint starts the metrics endpoint, then runs kopf with these arguments.
ENTRYPOINT ["python", "-m", "medbatch.operator"]
CMD ["run", "--module=medbatch.operator.handlers", "--all-namespaces", "--liveness=http://0.0.0.0:8080/healthz"]
