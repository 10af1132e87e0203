"""The Kubernetes operator (kopf): Corpus and ModelProfile handlers, RayJob rendering, status mapping.

It talks to Kubernetes only and shares nothing with ``medbatch.jobs`` but the spec models; it must not
import Ray, pyarrow or vLLM (``tests/test_boundaries.py``), which keeps the operator image small.
The handlers land with the operator milestone (see docs/architecture.md).
"""
