"""Development tools that are not part of the product: the synthetic-note generator, the tiny test model,
de-identification scoring against the shared dev data, and the generator of the plain install manifests.

Used by tests, benchmarks (``python -m bench.<name>`` from the repository root) and maintainers; never
installed with medbatch.
"""
