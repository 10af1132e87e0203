"""The Kubernetes side: CRDs, RayJob rendering, status mapping, and the Ray Jobs API runner.

It talks to Kubernetes (and to Ray's REST API) only and shares nothing with ``medbatch.jobs`` but the spec
models; it must not import Ray, pyarrow or vLLM (``tests/test_boundaries.py``), which keeps the operator
image small. The kopf handlers that wire these pieces to the API server are the next step.
"""
