"""The job's configuration: the Corpus spec with its locations resolved and the engine chosen.

The operator renders it into a ConfigMap; ``medbatch run`` builds it from the YAML and flags. It never
holds a secret: the surrogate key is read from the environment and only its fingerprint is recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from medbatch import __version__
from medbatch.jobs.errors import JobError
from medbatch.notes.engines import (
    AnyEngineConfig,
    BaselineEngineConfig,
    OpenAIEngineConfig,
    RunnableEngineConfig,
    VllmEngineConfig,
)
from medbatch.notes.tasks.deid.surrogates import MIN_KEY_LENGTH, key_fingerprint
from medbatch.spec import Corpus, CorpusSpec, DeidStrategy, EngineKind, ModelProfile
from medbatch.spec.run_files import MODEL_MOUNT_ROOT

SURROGATE_KEY_ENV = "MEDBATCH_SURROGATE_KEY"


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
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    corpus: str
    spec: CorpusSpec
    source_uri: str
    output_uri: str
    engine: RunnableEngineConfig = Field(default_factory=BaselineEngineConfig)
    key_fingerprint: str | None = None
    num_workers: int = Field(default=1, ge=1)

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
    key = os.environ.get(SURROGATE_KEY_ENV, "")
    if len(key.encode()) < MIN_KEY_LENGTH:
        raise JobError(
            f"the surrogate strategy needs a secret key of at least {MIN_KEY_LENGTH} characters in "
            f"{SURROGATE_KEY_ENV} (in a cluster: a key of that name in the credentials secret). Keep the key: "
            "the same key gives the same surrogates when the corpus is extended or rerun."
        )
    return key.encode()


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
) -> JobConfig:
    """The JobConfig that runs ``corpus`` locally or on an existing Ray cluster.

    Args:
        corpus: the validated Corpus.
        base_dir: folder against which relative local paths in the spec are resolved.
        output: overrides spec.output.uri; default ./medbatch-output/<name>/ when neither is set.
        engine: the engine config; the CPU baseline by default.
        workers: shard workers; spec.replicas by default.

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
    return JobConfig(
        corpus=corpus.metadata.name,
        spec=spec,
        source_uri=resolve_location(spec.source.uri, base_dir),
        output_uri=output_uri,
        engine=engine or BaselineEngineConfig(),
        key_fingerprint=fingerprint_from_env(spec),
        num_workers=workers or spec.replicas,
    )


def engine_config_from_profile(profile: ModelProfile, model_override: str | None = None) -> AnyEngineConfig:
    """The engine config that runs ``profile``; ``model_override`` replaces its weights' location.

    The served model name recorded in output rows is the profile's ``servedModelName``, else its name.
    """
    spec = profile.spec
    name = spec.served_model_name or profile.metadata.name
    if spec.engine is EngineKind.BASELINE:
        return BaselineEngineConfig()
    if spec.engine is EngineKind.OPENAI:
        assert spec.endpoint is not None  # the profile's validation guarantees it
        return OpenAIEngineConfig(
            base_url=spec.endpoint,
            model=model_override or name,
            max_model_len=spec.max_model_len,
            max_tokens=spec.sampling.max_tokens,
        )
    source = spec.source
    assert source is not None  # the profile's validation guarantees it
    location = source.hub or source.uri or f"{MODEL_MOUNT_ROOT}/{source.pvc}"
    return VllmEngineConfig(
        model=model_override or location,
        served_model_name=name,
        tensor_parallel_size=spec.tensor_parallel_size,
        max_model_len=spec.max_model_len,
        max_tokens=spec.sampling.max_tokens,
        temperature=spec.sampling.temperature,
        quantization=spec.quantization,
        engine_kwargs=dict(spec.engine_args),
    )


def engine_config_for(
    engine: str,
    *,
    model: str | None = None,
    endpoint: str | None = None,
    max_model_len: int = 8192,
    profile: ModelProfile | None = None,
) -> AnyEngineConfig:
    """The engine config for command-line choices: a ModelProfile file, or an engine name and its options.

    Raises:
        JobError: an unknown engine, or an engine without the options it needs.
    """
    if profile is not None:
        return engine_config_from_profile(profile, model_override=model)
    if engine == "baseline":
        return BaselineEngineConfig()
    if engine == "vllm":
        if not model:
            raise JobError("--engine vllm needs --model: a local model folder or a model hub id")
        return VllmEngineConfig(model=model, max_model_len=max_model_len)
    if engine == "openai":
        if not model or not endpoint:
            raise JobError(
                "--engine openai needs --endpoint (the server's base URL) and --model (its model name)"
            )
        return OpenAIEngineConfig(base_url=endpoint, model=model, max_model_len=max_model_len)
    raise JobError(f"unknown engine '{engine}': use baseline, vllm or openai")
