"""medbatch: de-identify, extract entities from and summarize clinical notes in batch on Ray and vLLM."""

__version__ = "0.1.0"
