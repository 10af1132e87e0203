"""The Corpus of one event, read once: its parsed spec with the object's identity and status.

Every handler parses the object kopf gives it here, once, and passes the result on; nothing further down
reads the raw object's spec again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from medbatch.operator.errors import LaunchError
from medbatch.operator.jobs_api import submission_id_for
from medbatch.spec import Corpus, SpecError, parse_resource


@dataclass(frozen=True)
class CorpusObject:
    """A Corpus as one event saw it.

    Args:
        corpus: the parsed, validated Corpus.
        body: the object itself (kopf adopts children with it).
    """

    corpus: Corpus
    namespace: str
    name: str
    uid: str
    generation: int
    status: Mapping[str, Any]
    body: Mapping[str, Any]

    @property
    def output_uri(self) -> str:
        """Where the job writes (``read_corpus`` refuses a Corpus without it)."""
        assert self.corpus.spec.output.uri is not None
        return self.corpus.spec.output.uri

    @property
    def submission_id(self) -> str:
        """The Jobs API submission id the Corpus runs under now (a resume makes a new one)."""
        return str(self.status.get("submissionId") or submission_id_for(self.uid))


def read_corpus(body: Mapping[str, Any]) -> CorpusObject:
    """The Corpus in ``body``, or a non-retryable LaunchError listing every problem."""
    meta = body.get("metadata") or {}
    namespace, name = str(meta.get("namespace")), str(meta.get("name"))
    try:
        corpus = parse_resource(dict(body), Corpus, f"Corpus {namespace}/{name}")
    except SpecError as exc:
        raise LaunchError("InvalidSpec", "; ".join(exc.problems), retry=False) from None
    if corpus.spec.output.uri is None:
        raise LaunchError(
            "OutputRequired",
            "spec.output.uri is required in a cluster (e.g. s3://bucket/results/); the job writes there",
            retry=False,
        )
    return CorpusObject(
        corpus=corpus,
        namespace=namespace,
        name=name,
        uid=str(meta.get("uid") or ""),
        generation=int(meta.get("generation") or 0),
        status=dict(body.get("status") or {}),
        body=body,
    )
