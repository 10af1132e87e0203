"""A Kubernetes API emulator good enough for kopf: kmock's emulator plus what a real API server does.

kmock 0.8's ``KubernetesEmulator`` stores objects and streams watch events, but leaves out server
behaviour kopf relies on. This subclass adds it: uid, resourceVersion, generation and creationTimestamp;
409 on a stale resourceVersion or an existing name; RFC 7386 merge patches and RFC 6902 JSON patches
(a failed ``test`` op answers 422, as kopf expects for its optimistic finalizer patches); the status
subresource (a status patch changes only status, a main patch never does); ``generateName``; the
``labelSelector`` of lists and watches; and watches that start from a resourceVersion, replaying what
happened since instead of everything. Like kmock it validates no schema and collects no garbage (owner
references are asserted, not followed): those are tested against the CRDs separately.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import aiohttp.web
import jsonpatch
import kmock
from kmock._internal import rendering

CREATE, UPDATE, DELETE = kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _labels_match(selector: str | None, labels: dict[str, str]) -> bool:
    """Equality-based label selectors (``a=b,c!=d,e``), the kinds kopf and medbatch send."""
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _key(resource: Any, namespace: Any, name: Any) -> Any:
    """An ``objects`` key (typed loosely: kmock's own annotations do not admit unnamed requests)."""
    return (resource, namespace, name)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Unprocessable(kmock.KubernetesError):
    """422, as the API server answers a JSON patch whose ``test`` fails."""


class KubernetesServer(kmock.KubernetesEmulator):
    """``KubernetesEmulator`` with the server-side behaviour listed in the module docstring."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._revision = 0
        self._history: list[tuple[int, Any, dict[str, Any]]] = []
        # plural -> (HTTP status, message): creations the "server" refuses, as RBAC (403) or an admission
        # webhook such as KubeRay's (422) would.
        self.refusals: dict[str, tuple[int, str]] = {}

    async def _render_error(self, exc: Exception) -> Any:
        """A ``Status`` as the API server sends it: kmock adds a traceback under details and a charset to
        the content type, and clients that parse errors strictly (lightkube) then see no ``Status``."""
        if not isinstance(exc, kmock.KubernetesError):
            return await super()._render_error(exc)
        status = json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Status",
                "metadata": {},
                "status": "Failure",
                "code": exc.status,
                "reason": exc.reason or type(exc).__name__,
                "message": exc.message or "",
                "details": {},
            }
        )
        return aiohttp.web.Response(
            body=status.encode(), status=exc.status, headers={"Content-Type": "application/json"}
        )

    # -- state changes ---------------------------------------------------------------------------------

    def _has_status_subresource(self, resource: Any) -> bool:
        try:
            return "status" in self.resources[resource].subresources
        except (KeyError, LookupError):
            return False

    async def _publish(self, resource: Any, kind: str, raw: dict[str, Any]) -> None:
        event = {"type": kind, "object": copy.deepcopy(raw)}
        self._history.append((self._revision, resource, event))
        await self._buses[resource].put(event)

    def _bump(self, raw: dict[str, Any]) -> None:
        self._revision += 1
        raw.setdefault("metadata", {})["resourceVersion"] = str(self._revision)

    async def _create(self, request: rendering.Request) -> None:
        refusal = self.refusals.get(getattr(request.resource, "plural", None) or "")
        if refusal is not None:
            raise kmock.KubernetesError(status=refusal[0], reason="Refused", message=refusal[1])
        raw = request.data
        meta = raw.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        if request.namespace:
            meta["namespace"] = request.namespace
        key = _key(request.resource, meta.get("namespace"), meta.get("name"))
        if key in self.objects and not self.objects[key].deleted:
            raise kmock.KubernetesError(
                status=409, reason="AlreadyExists", message=f"{meta.get('name')} already exists"
            )
        if self._has_status_subresource(request.resource):
            raw.pop("status", None)
        meta.update(uid=str(uuid.uuid4()), generation=1, creationTimestamp=_now())
        meta.pop("resourceVersion", None)
        self._bump(raw)
        if key in self.objects:
            self.objects[key].create(raw)
        else:
            self.objects[key] = raw
        await self._publish(request.resource, "ADDED", raw)

    async def _update(self, request: rendering.Request) -> Any:
        key = _key(request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise kmock.KubernetesObjectNotFoundError()
        old = copy.deepcopy(self.objects[key].raw)
        content_type = request.headers.get("Content-Type", "")
        if "json-patch" in content_type:
            try:
                new = jsonpatch.apply_patch(old, request.data)
            except (jsonpatch.JsonPatchTestFailed, jsonpatch.JsonPatchConflict) as exc:
                raise Unprocessable(status=422, reason="Invalid", message=str(exc)) from None
        else:
            sent_version = (request.data.get("metadata") or {}).get("resourceVersion")
            if sent_version is not None and sent_version != old["metadata"]["resourceVersion"]:
                raise kmock.KubernetesError(
                    status=409, reason="Conflict", message="the object has been modified; reload and retry"
                )
            new = merge_patch(old, request.data)
        if request.subresource == "status":
            new = {**old, "status": new.get("status")} if new.get("status") is not None else dict(old)
        elif self._has_status_subresource(request.resource):
            new.pop("status", None)
            if "status" in old:
                new["status"] = old["status"]
        for field in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            new["metadata"][field] = old["metadata"][field]
        if new == old:
            return None
        if {k: v for k, v in new.items() if k not in ("metadata", "status")} != {
            k: v for k, v in old.items() if k not in ("metadata", "status")
        }:
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        self._bump(new)
        self.objects[key].history.append(new)
        await self._publish(request.resource, "MODIFIED", new)
        meta = new["metadata"]
        return key if meta.get("deletionTimestamp") and not meta.get("finalizers") else None

    async def _delete(self, request: rendering.Request) -> Any:
        key = _key(request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            raise kmock.KubernetesObjectNotFoundError()
        raw = copy.deepcopy(self.objects[key].raw)
        meta = raw["metadata"]
        if not meta.get("finalizers"):
            return key
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = _now()
            self._bump(raw)
            self.objects[key].history.append(raw)
            await self._publish(request.resource, "MODIFIED", raw)
        return None

    async def _remove(self, key: Any) -> None:
        raw = copy.deepcopy(self.objects[key].raw)
        self._bump(raw)
        self.objects[key].delete()
        await self._publish(key[0], "DELETED", raw)

    async def _handle(self, request: rendering.Request) -> Any:
        removed: Any = None
        if request.resource is not None and request.action in (CREATE, UPDATE, DELETE):
            async with self._lock:
                if request.action == CREATE:
                    await self._create(request)
                elif request.name is not None and request.action == UPDATE:
                    removed = await self._update(request)
                elif request.name is not None:
                    removed = await self._delete(request)
        try:
            # Skip KubernetesEmulator._handle (its merge-only state changes): only render the response.
            return await super(kmock.KubernetesEmulator, self)._handle(request)
        finally:
            if removed is not None:
                async with self._lock:
                    await self._remove(removed)

    # -- reads ---------------------------------------------------------------------------------------

    def _visible(self, request: rendering.Request, event_or_raw: dict[str, Any]) -> bool:
        meta = event_or_raw.get("metadata", {})
        if request.namespace is not None and meta.get("namespace") != request.namespace:
            return False
        if request.name is not None and meta.get("name") != request.name:
            return False
        return _labels_match(request.params.get("labelSelector"), meta.get("labels") or {})

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        listing = await super()._serve_list(request)
        assert isinstance(listing, dict)
        listing["items"] = [item for item in listing["items"] if self._visible(request, item)]
        listing["metadata"] = {"resourceVersion": str(self._revision)}
        return listing

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        yield b""  # send the headers now, even if nothing happens for a while
        since = request.params.get("resourceVersion")
        resource: Any = request.resource
        bus = self._buses[resource]
        async with self._lock:
            if since:
                backlog = [e for rv, res, e in self._history if rv > int(since) and res == request.resource]
            else:
                backlog = [
                    {"type": "ADDED", "object": obj.raw}
                    for (res, _, _), obj in self.objects.items()
                    if res == request.resource and not obj.deleted
                ]
            mark = await bus.mark()  # under the lock: nothing is published between backlog and mark
        try:
            for event in backlog:
                if self._visible(request, event["object"]):
                    yield event
            async for event in bus.stream(since=mark):
                if self._visible(request, event["object"]):
                    yield event
        finally:
            await bus.unmark(mark)
