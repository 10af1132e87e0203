"""The job's configuration: the Corpus spec with its locations resolved and the engine chosen.

The operator renders it into a ConfigMap; ``medbatch run`` builds it from the YAML and flags. It never
holds a secret: the surrogate key is read from the environment and only its fingerprint is recorded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from medbatch import __version__
from medbatch.jobs.errors import JobError
from medbatch.notes.engines import BaselineEngineConfig, RunnableEngineConfig
from medbatch.notes.tasks.deid.key import SurrogateKeyError, check_key, key_fingerprint, key_from_env
from medbatch.spec import Corpus, CorpusSpec, DeidStrategy
from medbatch.spec.corpus import MIXED_OUTPUT, same_location


class JobConfig(BaseModel):
    """Everything the job needs besides credentials.

    Args:
        corpus: the Corpus name (labels metrics and the manifest).
        spec: the Corpus spec.
        source_uri: ``spec.source.uri`` resolved (absolute path or URI).
        output_uri: where parts and the manifest go.
        engine: which engine runs the model tasks.
        key_fingerprint: fingerprint of the surrogate key (surrogate strategy only).
        num_workers: concurrent shard workers (engine replicas).
        price_per_gpu_hour: the ModelProfile's price of a GPU-hour, for the run's cost (not in the hash).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    corpus: str
    spec: CorpusSpec
    source_uri: str
    output_uri: str
    engine: RunnableEngineConfig = Field(default_factory=BaselineEngineConfig)
    key_fingerprint: str | None = None
    num_workers: int = Field(default=1, ge=1)
    price_per_gpu_hour: float | None = None

    def config_hash(self) -> str:
        """Hash of everything that determines the output's content.

        Two runs with the same hash produce the same parts, so a resume may mix their parts; a run with
        another hash must not write into the same output. Replicas, credentials and the output location
        do not change content and are left out.
        """
        spec = self.spec
        content = {
            "source": spec.source.model_dump(mode="json"),
            "tasks": spec.tasks.model_dump(mode="json"),
            "limits": spec.limits.model_dump(mode="json", exclude={"batch_size"}),
            "include_phi_spans": spec.output.include_phi_spans,
            "engine": self.engine.content_key(),
            # The prompts (or the baseline's rules) change answers without any option changing.
            "prompt_version": self.engine.describe().prompt_version,
            "key": self.key_fingerprint,
            "medbatch": __version__,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]


def surrogate_key_from_env(spec: CorpusSpec) -> bytes | None:
    """The surrogate key when the strategy needs one.

    Raises:
        JobError: the strategy is surrogate and the key is missing or too short.
    """
    deid = spec.tasks.deidentify
    if deid is None or deid.strategy is not DeidStrategy.SURROGATE:
        return None
    try:
        return check_key(key_from_env())
    except SurrogateKeyError as exc:
        raise JobError(str(exc)) from None


def fingerprint_from_env(spec: CorpusSpec) -> str | None:
    """Fingerprint of the surrogate key in the environment, or None when no key is needed."""
    key = surrogate_key_from_env(spec)
    return None if key is None else key_fingerprint(key)


def resolve_location(uri: str, base_dir: Path) -> str:
    """A URI as is; a local path made absolute against ``base_dir`` (the folder of the Corpus YAML)."""
    if "://" in uri:
        return uri
    path = Path(uri).expanduser()
    resolved = path if path.is_absolute() else (base_dir / path)
    text = str(resolved.resolve())
    return text + "/" if uri.endswith("/") else text


def job_config_for(
    corpus: Corpus,
    base_dir: Path,
    *,
    output: str | None = None,
    engine: RunnableEngineConfig | None = None,
    workers: int | None = None,
    price_per_gpu_hour: float | None = None,
) -> JobConfig:
    """The JobConfig that runs ``corpus`` locally or on an existing Ray cluster.

    Args:
        corpus: the validated Corpus.
        base_dir: folder against which relative local paths in the spec are resolved.
        output: overrides spec.output.uri; default ./medbatch-output/<name>/ when neither is set.
        engine: the engine config; the CPU baseline by default.
        workers: shard workers; spec.replicas by default.
        price_per_gpu_hour: the ModelProfile's price of a GPU-hour, if it declares one.

    Raises:
        JobError: the strategy needs a surrogate key and the environment has none.
    """
    spec = corpus.spec
    output_uri = output or spec.output.uri
    output_uri = (
        resolve_location(output_uri, base_dir if output is None else Path.cwd())
        if output_uri
        else str((Path.cwd() / "medbatch-output" / corpus.metadata.name).resolve())
    )
    source_uri = resolve_location(spec.source.uri, base_dir)
    # Checked again on resolved paths: a symbolic link, or --output, can put the output inside the source
    # where the spec's own check, on the paths as written, saw two places.
    if same_location(output_uri, source_uri):
        raise JobError(
            MIXED_OUTPUT.replace("output.uri", "the output folder").replace("source.uri", "the source")
        )
    return JobConfig(
        corpus=corpus.metadata.name,
        spec=spec,
        source_uri=source_uri,
        output_uri=output_uri,
        engine=engine or BaselineEngineConfig(),
        key_fingerprint=fingerprint_from_env(spec),
        num_workers=workers or spec.replicas,
        price_per_gpu_hour=price_per_gpu_hour,
    )
