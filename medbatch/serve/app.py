"""The FastAPI ingress and the Ray Serve application.

``build_app`` is the application builder: ``serve run medbatch.serve.app:build_app`` locally, or
``import_path: medbatch.serve.app:build_app`` with ``args`` in a KubeRay RayService. Errors follow one
shape (``ErrorBody``) and never quote the note: FastAPI's default validation error echoes the input, so it
is replaced here.

This module deliberately does not use ``from __future__ import annotations``: Ray Serve's class-based view
copies each method's signature as it is, and FastAPI (0.137 and later) no longer evaluates string
annotations found there, so a request model named by a string became a required query parameter and
every POST answered 422.
"""

import asyncio
import secrets
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from ray import serve
from ray.serve.exceptions import BackPressureError
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException as StarletteHTTPException

from medbatch import __version__
from medbatch.notes.engines import BaselineEngineConfig, engine_config_from_profile
from medbatch.serve.engine import EngineFacts, NoteEngine, NoteJob
from medbatch.serve.models import (
    DeidentifyRequest,
    ErrorBody,
    Health,
    NerRequest,
    NoteRequest,
    NoteResponse,
    ProcessRequest,
    SummarizeRequest,
)
from medbatch.serve.settings import ServeSettings
from medbatch.spec import DeidStrategy, ModelProfile, TasksSpec, parse_resource


class ApiError(Exception):
    """An answer other than 200, with its ErrorBody."""

    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.body, self.headers = status, ErrorBody(error=error, message=message), headers


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "missing or wrong API key (when the service requires one)",
        413: "the note is longer than the service accepts",
        422: "the request is invalid; the answer names the fields, never their values",
        429: "the service is at capacity; retry after Retry-After seconds",
        504: "the note took longer than the service's timeout",
    }.items()
}

api = FastAPI(
    title="medbatch",
    version=__version__,
    summary="De-identification, clinical entities and summaries for one clinical note at a time.",
    description="The online twin of medbatch's batch jobs: the same tasks, options and results per note.",
)

_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False)


def _settings(request: Request) -> ServeSettings:
    settings: ServeSettings = request.app.state.settings
    return settings


async def require_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    key: Annotated[str | None, Depends(_api_key)],
) -> None:
    """When an API key is configured: accept ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    expected = _settings(request).api_key
    if expected is None:
        return
    given = bearer.credentials if bearer is not None else key
    if given is None or not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        raise ApiError(401, "unauthorized", "a valid API key is required", {"WWW-Authenticate": "Bearer"})


@api.exception_handler(ApiError)
async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body.model_dump(), status_code=exc.status, headers=exc.headers)


@api.exception_handler(RequestValidationError)
async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
    # Names the fields and what is wrong, never the values (FastAPI's default echoes them: the note).
    problems = [(".".join(str(p) for p in e["loc"] if p != "body"), e["msg"]) for e in exc.errors()]
    body = ErrorBody(
        error="invalid_request",
        message="; ".join(f"{loc or 'body'}: {msg}" for loc, msg in problems),
        fields=[loc for loc, _ in problems if loc],
    )
    return JSONResponse(body.model_dump(), status_code=422)


@api.exception_handler(StarletteHTTPException)
async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    body = ErrorBody(error="http_error", message=str(exc.detail))
    return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)


@api.exception_handler(Exception)
async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    # The exception's text may come from anywhere (an engine, a library): only its type is told.
    body = ErrorBody(
        error="internal_error", message=f"the service failed ({type(exc).__name__}); retry later"
    )
    return JSONResponse(body.model_dump(), status_code=500)


class _BodyLimit:
    """Refuse a body that cannot hold an acceptable note (4 bytes a character at most, plus the JSON
    around it): from its Content-Length before reading it, and for a chunked body while it streams in, so
    a huge body is never read whole."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = scope["app"].state.settings.max_note_chars * 4 + 65536
        too_large = ApiError(413, "note_too_large", f"the request body is over {limit} bytes")
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            response = JSONResponse(too_large.body.model_dump(), status_code=413)
            await response(scope, receive, send)
            return
        received = 0
        over = False

        async def bounded() -> Any:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise too_large  # stops the read; whatever the app answers, ours replaces it
            return message

        async def guarded(message: Any) -> None:
            if not over:
                await send(message)

        await self.app(scope, bounded, guarded)
        if over:
            await JSONResponse(too_large.body.model_dump(), status_code=413)(scope, receive, send)


api.add_middleware(_BodyLimit)


@serve.deployment
@serve.ingress(api)
class Ingress:
    """The HTTP front: validation, limits, auth, then one call to the engine deployment per note."""

    def __init__(self, engine: DeploymentHandle, settings: dict[str, Any]) -> None:
        self.engine = engine
        # Unset fields (the API key, normally) come from this replica's own MEDBATCH_SERVE_* environment.
        self.settings = ServeSettings(**settings)
        api.state.settings = self.settings
        self._facts: EngineFacts | None = None

    async def facts(self) -> EngineFacts:
        """The engine's provenance (asked once)."""
        if self._facts is None:
            self._facts = await self.engine.facts.remote()
        return self._facts

    async def _run(self, request: NoteRequest, tasks: TasksSpec) -> NoteResponse:
        limit = self.settings.max_note_chars
        if len(request.text) > limit:
            raise ApiError(
                413,
                "note_too_large",
                f"the note is {len(request.text)} characters; this service takes {limit}",
            )
        deid = tasks.deidentify
        if (
            deid is not None
            and deid.strategy is DeidStrategy.SURROGATE
            and not (await self.facts()).surrogates
        ):
            raise ApiError(
                422,
                "surrogates_unavailable",
                "the surrogate strategy needs MEDBATCH_SURROGATE_KEY on the service; use mask or redact",
            )
        job = NoteJob(
            id=request.id,
            text=request.text,
            patient_id=request.patient_id,
            tasks=tasks.model_dump(mode="json", by_alias=True, exclude_none=True),
            include_phi_spans=request.include_phi_spans,
            max_note_chars=limit,
        )
        response = self.engine.remote(job)
        try:
            row = await asyncio.wait_for(response, timeout=self.settings.request_timeout_s)
        except BackPressureError:
            retry = str(self.settings.retry_after_s)
            raise ApiError(
                429, "busy", f"the service is at capacity; retry in {retry} s", {"Retry-After": retry}
            ) from None
        except TimeoutError:
            response.cancel()
            raise ApiError(
                504, "timeout", f"no result within {self.settings.request_timeout_s} s; retry later"
            ) from None
        return NoteResponse.model_validate(row)

    @api.get("/healthz", response_model=Health)
    async def healthz(self) -> Health:
        """Liveness and the model answering."""
        return Health(status="ok", model=(await self.facts()).model)

    @api.post(
        "/v1/deidentify", response_model=NoteResponse, responses=_ERRORS, dependencies=[Depends(require_key)]
    )
    async def deidentify(self, request: DeidentifyRequest) -> NoteResponse:
        """Remove PHI from a note (``text_deid``; ``phi`` offsets with ``includePhiSpans``)."""
        return await self._run(request, TasksSpec(deidentify=request.deidentify))

    @api.post("/v1/ner", response_model=NoteResponse, responses=_ERRORS, dependencies=[Depends(require_key)])
    async def ner(self, request: NerRequest) -> NoteResponse:
        """Clinical entities of the de-identified note (offsets into ``text_deid``)."""
        return await self._run(request, TasksSpec(deidentify=request.deidentify, ner=request.ner))

    @api.post(
        "/v1/summarize", response_model=NoteResponse, responses=_ERRORS, dependencies=[Depends(require_key)]
    )
    async def summarize(self, request: SummarizeRequest) -> NoteResponse:
        """A summary of the de-identified note."""
        return await self._run(request, TasksSpec(deidentify=request.deidentify, summarize=request.summarize))

    @api.post(
        "/v1/process", response_model=NoteResponse, responses=_ERRORS, dependencies=[Depends(require_key)]
    )
    async def process(self, request: ProcessRequest) -> NoteResponse:
        """Any combination of tasks, given as a Corpus's ``spec.tasks``."""
        return await self._run(request, request.tasks)


def _engine_config(args: dict[str, Any]) -> dict[str, Any]:
    """The engine config document: from ``profile`` (a ModelProfile document), ``engine``, or baseline."""
    if "engine_config" in args:
        return dict(args["engine_config"])
    if "profile" in args:
        profile = parse_resource(args["profile"], ModelProfile, "profile")
        return engine_config_from_profile(profile).model_dump(mode="json")
    return BaselineEngineConfig().model_dump(mode="json")


def replica_resources(args: dict[str, Any], settings: ServeSettings) -> dict[str, float]:
    """Ray resources of one engine replica: the settings', or a ModelProfile's GPUs when not set."""
    gpus = settings.engine_num_gpus
    if "profile" in args and "engine_num_gpus" not in args.get("settings", {}):
        gpus = float(parse_resource(args["profile"], ModelProfile, "profile").spec.gpu.count)
    return {"num_cpus": settings.engine_num_cpus, "num_gpus": gpus}


def build_app(args: dict[str, Any]) -> serve.Application:
    """The application: an ingress and an engine deployment sized by the settings.

    Args:
        args: ``profile`` (a ModelProfile document; default: the CPU baseline engine), ``engine_config``
            (an engine config document, for tests and benchmarks) and ``settings`` (ServeSettings fields;
            unset ones come from ``MEDBATCH_SERVE_*``).
    """
    given = dict(args.get("settings", {}))
    settings = ServeSettings(**given)
    scaling: dict[str, Any] = (
        {"num_replicas": settings.max_replicas}
        if settings.min_replicas == settings.max_replicas
        else {
            "autoscaling_config": {
                "min_replicas": settings.min_replicas,
                "max_replicas": settings.max_replicas,
                "target_ongoing_requests": max(1, settings.max_ongoing_requests // 2),
            }
        }
    )
    engine = (
        serve.deployment(NoteEngine)
        .options(
            name="NoteEngine",
            max_ongoing_requests=settings.max_ongoing_requests,
            max_queued_requests=settings.max_queued_requests,
            ray_actor_options=replica_resources(args, settings),
            **scaling,
        )
        .bind(_engine_config(args))
    )
    # A key from the environment stays there (each ingress replica reads its own); only one given in
    # args travels with the deployment.
    plain = settings.model_dump(mode="json", exclude={"api_key"})
    if "api_key" in given:
        plain["api_key"] = given["api_key"]
    ingress: Any = Ingress  # a Ray Serve Deployment (Ray is untyped here)
    # The ingress only awaits the engine: let it hold every request the engines can take or queue, so
    # that the engines' queue bound (429) is the one that applies, not Serve's default of 5 per replica.
    capacity = (settings.max_ongoing_requests + settings.max_queued_requests) * settings.max_replicas
    return ingress.options(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=capacity).bind(
        engine, plain
    )
