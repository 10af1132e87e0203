"""The ``medbatch`` command line: a thin shell over the spec models and the job.

Exit codes: 0 succeeded, 1 failed, 2 invalid input (spec or flags), 3 partially succeeded (some records or
files failed; the manifest says which).
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from medbatch.spec import Corpus, ModelProfile, SpecError, load_corpus, load_model_profile

if TYPE_CHECKING:
    from medbatch.notes.engines import AnyEngineConfig

app = typer.Typer(
    name="medbatch",
    help="De-identify, extract clinical entities from and summarize clinical notes in batch.",
    no_args_is_help=True,
    add_completion=False,
    # Tracebacks with local variables would print note text; never show them.
    pretty_exceptions_show_locals=False,
)

EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_PARTIAL = 3

CorpusPath = Annotated[Path, typer.Argument(help="Corpus YAML file.", show_default=False)]


R = TypeVar("R", Corpus, ModelProfile)


def _load(loader: Callable[[Path], R], path: Path) -> R:
    """A validated resource, or the problems on stderr and exit code 2."""
    try:
        return loader(path)
    except SpecError as exc:
        typer.secho(str(exc), fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_INVALID) from None


def _require(command: str, extra: str, *modules: str) -> None:
    """Exit with the install line when the extra that ``command`` needs is not installed (instead of a
    ModuleNotFoundError traceback)."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        typer.secho(
            f"`medbatch {command}` needs the {extra} extra ({', '.join(missing)} not installed): "
            f'pip install -c requirements/lock.txt -e ".[{extra}]" in a checkout, '
            f'or pip install "medbatch[{extra}]"',
            fg=typer.colors.RED,
            err=True,
        )
        raise typer.Exit(EXIT_INVALID)


def _os_failure(exc: OSError) -> str:
    """An operating-system error in a line: "Read-only file system (EROFS)", "No space left on device
    (ENOSPC)". The message names the condition, never the data being written."""
    name = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return f"{exc.strerror or type(exc).__name__} ({name})"


def _describe(corpus: Corpus) -> str:
    spec = corpus.spec
    tasks = []
    if spec.tasks.deidentify:
        tasks.append(f"deidentify ({spec.tasks.deidentify.strategy.value})")
    if spec.tasks.ner:
        tasks.append("ner")
    if spec.tasks.summarize:
        tasks.append(f"summarize (max {spec.tasks.summarize.max_words} words)")
    return (
        f"Corpus '{corpus.metadata.name}': {spec.source.format.value} from {spec.source.uri}; "
        f"tasks: {', '.join(tasks)}; model {spec.model} x {spec.replicas}"
    )


# Engine choices shared by `run` and `serve`.
EngineOption = Annotated[
    str,
    typer.Option(
        help="baseline (CPU rules, no model), vllm (--model is a local folder or hub id) or openai."
    ),
]
ModelOption = Annotated[
    str | None, typer.Option(help="vllm: model folder or hub id; openai: the served model name.")
]
EndpointOption = Annotated[
    str | None, typer.Option(help="openai: base URL of the server, e.g. http://localhost:8000/v1.")
]
MaxModelLenOption = Annotated[int, typer.Option(min=256, help="vllm/openai: context length.")]
ProfileOption = Annotated[
    Path | None,
    typer.Option(
        help="A ModelProfile YAML to run (e.g. manifests/profiles/openbiollm-8b.yaml); --model overrides its weights."
    ),
]


def _engine_config(
    engine: str, model: str | None, endpoint: str | None, max_model_len: int, profile: Path | None
) -> AnyEngineConfig:
    """The engine the flags choose; exits with EXIT_INVALID and the reason when they do not add up."""
    from medbatch.notes.engines import EngineChoiceError, engine_config_for

    try:
        return engine_config_for(
            engine,
            model=model,
            endpoint=endpoint,
            max_model_len=max_model_len,
            profile=_load(load_model_profile, profile) if profile else None,
        )
    except EngineChoiceError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_INVALID) from None


@app.command()
def validate(corpus: CorpusPath) -> None:
    """Check a Corpus YAML file and print what it would run."""
    typer.echo(f"{corpus}: valid. {_describe(_load(load_corpus, corpus))}")


@app.command()
def render(
    corpus: CorpusPath,
    profile: Annotated[Path, typer.Option(help="The ModelProfile YAML the Corpus runs with.")],
    image: Annotated[str | None, typer.Option(help="Job image when the profile names none.")] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace for the rendered objects.")] = None,
) -> None:
    """Print the ConfigMap and KubeRay RayJob the operator would create, as YAML for `kubectl apply -f -`."""
    import yaml

    from medbatch.operator.render import RenderSettings, render_configmap, render_rayjob

    loaded, model = _load(load_corpus, corpus), _load(load_model_profile, profile)
    if loaded.spec.output.uri is None:
        typer.secho("spec.output.uri is required to run in a cluster", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_INVALID)
    settings = RenderSettings(image=image) if image else RenderSettings()
    objects = [render_configmap(loaded, model), render_rayjob(loaded, model, settings)]
    for obj in objects:
        if namespace or loaded.metadata.namespace:
            obj["metadata"]["namespace"] = namespace or loaded.metadata.namespace
    typer.echo(yaml.safe_dump_all(objects, sort_keys=False), nl=False)


@app.command()
def run(
    corpus: CorpusPath,
    output: Annotated[
        str | None, typer.Option(help="Output folder or URI; overrides spec.output.uri.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Concurrent shard workers (default: spec.replicas).")
    ] = None,
    num_cpus: Annotated[
        int | None, typer.Option(min=1, help="CPUs for the embedded Ray (default: all).")
    ] = None,
    ray_address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster instead of starting an embedded one.")
    ] = None,
    engine: EngineOption = "baseline",
    model: ModelOption = None,
    endpoint: EndpointOption = None,
    max_model_len: MaxModelLenOption = 8192,
    profile: ProfileOption = None,
    log_format: Annotated[str, typer.Option(help="text or json.")] = "text",
) -> None:
    """Run a Corpus on an embedded Ray (or --ray-address) and write Parquet results."""
    from medbatch.logs import configure_logging

    if log_format not in ("text", "json"):
        typer.secho("--log-format must be text or json", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_INVALID)
    configure_logging("json" if log_format == "json" else "text")
    loaded = _load(load_corpus, corpus)
    _require("run", "jobs", "ray", "pyarrow", "fsspec")

    import ray

    from medbatch.jobs import JobError, Outcome, run_job
    from medbatch.jobs.config import job_config_for

    engine_config = _engine_config(engine, model, endpoint, max_model_len, profile)
    price = _load(load_model_profile, profile).spec.price_per_gpu_hour if profile else None
    try:
        config = job_config_for(
            loaded,
            corpus.parent,
            output=output,
            engine=engine_config,
            workers=workers,
            price_per_gpu_hour=price,
        )
    except JobError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_INVALID) from None
    typer.echo(_describe(loaded))
    typer.echo(f"output: {config.output_uri}")
    started = time.perf_counter()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address=ray_address,
        num_cpus=None if ray_address else num_cpus,
        include_dashboard=False if ray_address is None else None,
        log_to_driver=False,
        logging_level=logging.WARNING,
    )
    try:
        manifest = run_job(config, worker_cpus=1.0 if ray_address else 0.5)
    except JobError as exc:
        typer.secho(f"failed: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except OSError as exc:  # a read-only or full disk, a path through a file: the system's words, no data
        typer.secho(f"failed: {_os_failure(exc)}; output: {config.output_uri}", fg=typer.colors.RED, err=True)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        ray.shutdown()
    elapsed = time.perf_counter() - started
    records = manifest.records
    color = {Outcome.SUCCEEDED: typer.colors.GREEN, Outcome.PARTIALLY_SUCCEEDED: typer.colors.YELLOW}.get(
        manifest.outcome, typer.colors.RED
    )
    typer.secho(f"\n{manifest.outcome.value}" + (f": {manifest.reason}" if manifest.reason else ""), fg=color)
    typer.echo(f"  records:  {records.total} ({records.ok} ok, {records.failed} failed)")
    typer.echo(f"  shards:   {manifest.shards_planned} ({manifest.shards_run} run now)")
    changes = manifest.changes
    typer.echo(
        f"  this run: {changes.notes_processed} notes processed, {changes.notes_reused} already done; "
        f"{changes.files_read} files read, {changes.files_unchanged} unchanged; "
        f"{changes.rows_removed} rows removed"
    )
    if manifest.departed_notes:
        typer.echo(f"  kept:     {manifest.departed_notes} rows of notes no longer in the source")
    if manifest.source_errors:
        typer.echo(f"  unreadable source files: {len(manifest.source_errors)} (listed in the manifest)")
    if manifest.duplicate_ids:
        typer.echo(f"  duplicate ids: {manifest.duplicate_ids} (all occurrences kept)")
    typer.echo(f"  elapsed:  {elapsed:.1f} s")
    typer.echo(f"  output:   {config.output_uri} (manifest: _manifest.json)")
    if manifest.outcome is Outcome.FAILED:
        raise typer.Exit(EXIT_FAILED)
    if manifest.outcome is Outcome.PARTIALLY_SUCCEEDED:
        raise typer.Exit(EXIT_PARTIAL)


@app.command()
def serve(
    engine: EngineOption = "baseline",
    model: ModelOption = None,
    endpoint: EndpointOption = None,
    max_model_len: MaxModelLenOption = 8192,
    profile: ProfileOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    ray_address: Annotated[
        str | None, typer.Option(help="Join this Ray cluster instead of starting an embedded one.")
    ] = None,
) -> None:
    """Serve the tasks for one note at a time over HTTP (Ray Serve; OpenAPI docs at /docs).

    Limits, batching, scaling and the optional API key come from MEDBATCH_SERVE_* variables
    (docs/serving.md).
    """
    _require("serve", "serve", "ray", "fastapi", "pydantic_settings")
    import ray
    from ray import serve as ray_serve

    from medbatch.serve.app import build_app

    engine_config = _engine_config(engine, model, endpoint, max_model_len, profile)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        address=ray_address, include_dashboard=False if ray_address is None else None, log_to_driver=False
    )
    ray_serve.start(http_options={"host": host, "port": port})
    typer.echo(f"serving {engine_config.describe().model} on http://{host}:{port} (API docs: /docs)")
    ray_serve.run(
        build_app({"engine_config": engine_config.model_dump(mode="json")}),
        name="medbatch",
        route_prefix="/",
        blocking=True,
    )
