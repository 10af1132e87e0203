"""The Kubernetes side: CRDs, RayJob rendering, the kopf handlers, status tracking and the Jobs API runner.

It talks to Kubernetes (and to Ray's REST API and the output folder) only and shares nothing with
``medbatch.jobs`` but the spec models; it must not import Ray, pyarrow or vLLM
(``tests/test_boundaries.py``), which keeps the operator image small. Run it with
``kopf run --module medbatch.operator.handlers``.
"""
