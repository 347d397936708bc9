"""The Kubernetes API from a sandboxed Python script.

`host run script.py` runs the script in kubewasm's Python runtime with this module on
its path. Every call goes to the host through `kubewasm:client/api.send`: the host
checks it against its policy, adds the credential and sends it to the API server the
host is configured for. This module never sees the credential and never decides what is
allowed; it handles paths, paging, watch streams, logs and errors.

    import kubewasm

    for pod in kubewasm.list(kubewasm.path("v1", "pods", namespace="demo")):
        print(pod["metadata"]["name"], pod["status"].get("phase"))

Errors: `Denied` when the host's policy refuses a request (its message carries the
Role rule that would allow it), `ApiError` for a `Status` from the server (`.code`,
`.reason`, `.message`), `RequestError` when the request got no response (connection,
TLS, limits).
"""

import json as _json
import urllib.parse as _parse

from componentize_py_types import Err as _Err
from wit_world.imports import api as _api
from wit_world.imports import credentials as _credentials
from wit_world.imports import streams as _streams

__all__ = [
    "ApiError",
    "Denied",
    "KubewasmError",
    "RequestError",
    "Response",
    "apply",
    "create",
    "delete",
    "follow_logs",
    "get",
    "identity",
    "list",
    "logs",
    "namespace",
    "patch",
    "path",
    "replace",
    "request",
    "watch",
]

_builtin_list = list
_CHUNK = 64 * 1024
_PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}


class KubewasmError(Exception):
    """Base class of every error this module raises."""


class Denied(KubewasmError):
    """The host's policy refused the request; nothing was sent to the API server.

    `str(e)` names the request and the Role rule that would allow it.
    """


class RequestError(KubewasmError):
    """The request got no response: `.kind` is the host's error code (`connect`, `tls`,
    `timeout`, `limit-exceeded`, `credential`, `invalid-request`, `internal`)."""

    def __init__(self, kind, detail=None):
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}" if detail else kind)


class ApiError(KubewasmError):
    """The API server answered with an error `Status` (or a non-2xx status).

    `.code` (HTTP status), `.reason` (`NotFound`, `Forbidden`, `Conflict`, ...),
    `.message`, `.details` and `.status` (the whole `Status` object) as the server sent
    them; `.response` is the `Response`.
    """

    def __init__(self, response):
        self.response = response
        try:
            status = response.json()
        except ValueError:
            status = None
        if not isinstance(status, dict) or status.get("kind") != "Status":
            text = response.text.strip()
            status = {
                "kind": "Status",
                "status": "Failure",
                "code": response.status,
                "reason": "",
                "message": text or f"the server answered HTTP {response.status}",
            }
        self.status = status
        self.code = status.get("code") or response.status
        self.reason = status.get("reason") or ""
        self.message = status.get("message") or ""
        self.details = status.get("details")
        super().__init__(str(self))

    def __str__(self):
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.code}{reason}: {self.message}"


class Response:
    """A complete response: `.status`, `.headers` (names in lowercase), `.content`
    (bytes), `.text` and `.json()`."""

    def __init__(self, status, headers, content):
        self.status = status
        self.headers = headers
        self.content = content

    @property
    def text(self):
        return self.content.decode("utf-8", "replace")

    def json(self):
        return _json.loads(self.content)

    def __repr__(self):
        return f"<Response [{self.status}]>"


def _kebab(name):
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def _error_from_code(code):
    kind = _kebab(type(code).__name__.removeprefix("ErrorCode_"))
    detail = getattr(code, "value", None)
    if kind == "denied":
        return Denied(detail)
    return RequestError(kind, detail)


def _with_params(path, params):
    if not params:
        return path
    query = _parse.urlencode(
        [(k, _param(v)) for k, v in params.items() if v is not None], doseq=True
    )
    if not query:
        return path
    return f"{path}{'&' if '?' in path else '?'}{query}"


def _param(value):
    if value is True:
        return "true"
    if value is False:
        return "false"
    return value


def _send(method, path, params=None, json=None, headers=None, body=None):
    """Sends a request; returns `(status, headers, body stream)`."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path must start with '/', e.g. /api/v1/namespaces/demo/pods: {path!r}")
    try:
        api_method = _api.Method[method.upper()]
    except KeyError:
        raise ValueError(f"unsupported method {method!r} (GET, HEAD, POST, PUT, PATCH, DELETE)") from None
    header_list = [(k.lower(), str(v)) for k, v in (headers or {}).items()]
    names = {k for k, _ in header_list}
    if "accept" not in names:
        header_list.append(("accept", "application/json"))
    if json is not None:
        body = _json.dumps(json).encode()
        if "content-type" not in names:
            header_list.append(("content-type", "application/json"))
    elif isinstance(body, str):
        body = body.encode()
    request = _api.Request(
        method=api_method,
        path_and_query=_with_params(path, params),
        headers=header_list,
        body=body,
    )
    try:
        response = _api.send(request)
    except _Err as e:
        raise _error_from_code(e.value) from None
    return response.status, dict(response.headers), response.body


def _read_error(e):
    error = e.value.value
    why = _api.body_error(error)
    if why is not None:
        return _error_from_code(why)
    return RequestError("internal", f"reading the response: {error.to_debug_string()}")


def _chunks(stream):
    """The body's chunks until the stream reports `closed`; drops the stream after."""
    with stream:
        while True:
            try:
                yield stream.blocking_read(_CHUNK)
            except _Err as e:
                if isinstance(e.value, _streams.StreamError_Closed):
                    return
                raise _read_error(e) from None


def _lines(stream):
    pending = b""
    for chunk in _chunks(stream):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line
    if pending:
        yield pending


def request(method, path, json=None, headers=None, *, params=None, body=None, check=True):
    """Sends one request and returns the `Response` once its body is read.

    `path` is the path and query, e.g. `/api/v1/namespaces/demo/pods`; `params` adds
    query parameters (`{"labelSelector": "app=web"}`); `json` is sent as the body with
    `content-type: application/json` unless `headers` names another (a patch type);
    `body` sends bytes or text as they are. A non-2xx answer raises `ApiError` unless
    `check=False`. Raises `Denied` when the host's policy refuses the request.
    """
    status, resp_headers, stream = _send(method, path, params, json, headers, body)
    response = Response(status, resp_headers, b"".join(_chunks(stream)))
    if check and status >= 400:
        raise ApiError(response)
    return response


def path(api_version, resource, name=None, *, namespace=None, subresource=None):
    """The API path of a resource: `path("v1", "pods", namespace="demo")` is
    `/api/v1/namespaces/demo/pods`, `path("apps/v1", "deployments", "web",
    namespace="demo")` is `/apis/apps/v1/namespaces/demo/deployments/web`."""
    parts = ["api" if "/" not in api_version else "apis", api_version]
    if namespace:
        parts += ["namespaces", namespace]
    parts.append(resource)
    if name:
        parts.append(name)
    if subresource:
        parts.append(subresource)
    return "/" + "/".join(_parse.quote(p, safe="/") for p in parts)


def identity():
    """Who the host acts as, safe to print: a dict with `source`, `auth`, `server`,
    `namespace`, `context`, `user`. Never a token or key."""
    who = _credentials.describe()
    return {
        "source": _kebab(who.source.name.title().replace("_", "")),
        "auth": _kebab(who.auth.name.title().replace("_", "")),
        "server": who.server,
        "namespace": who.namespace,
        "context": who.context,
        "user": who.user,
    }


def namespace():
    """The namespace to use when the script names none: `host run -n NS`, else the
    kubeconfig context's, else the pod's (a Role policy sets its own)."""
    return _credentials.describe().namespace


def _ns(ns):
    return ns or _credentials.describe().namespace


def get(path, **params):
    """`GET path` as a dict (an object, or a list as the server sends it)."""
    return request("GET", path, params=params).json()


def list(path, *, label_selector=None, field_selector=None, limit=500, **params):
    """Every item of a collection, fetched in pages of `limit` (`continue` tokens), as a
    Python list. `path` is a collection such as `/api/v1/namespaces/demo/pods` or
    `/api/v1/pods` (all namespaces)."""
    items = []
    token = None
    while True:
        page = get(
            path,
            labelSelector=label_selector,
            fieldSelector=field_selector,
            limit=limit or None,
            **{"continue": token},
            **params,
        )
        items.extend(page.get("items") or [])
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return items


def watch(path, *, resource_version=None, label_selector=None, field_selector=None,
          timeout_seconds=None, **params):
    """Watches a collection: yields `(type, object)` with type `ADDED`, `MODIFIED` or
    `DELETED`, as the server sends them (bookmarks are consumed here).

    Without `resource_version` the server first sends every existing object as
    `ADDED`. When the server ends the watch, it is resumed from the last
    resourceVersion seen, so the generator runs until the caller stops iterating; with
    `timeout_seconds` it ends when the server does. A watch that is too old (410 Gone)
    raises `ApiError` with code 410: list again and watch from the list's
    resourceVersion.
    """
    rv = resource_version
    while True:
        status, headers, stream = _send(
            "GET",
            path,
            dict(
                params,
                watch="true",
                allowWatchBookmarks="true",
                resourceVersion=rv,
                labelSelector=label_selector,
                fieldSelector=field_selector,
                timeoutSeconds=timeout_seconds,
            ),
        )
        if status >= 400:
            raise ApiError(Response(status, headers, b"".join(_chunks(stream))))
        for line in _lines(stream):
            if not line.strip():
                continue
            event = _json.loads(line)
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise ApiError(Response(obj.get("code") or 500, {}, _json.dumps(obj).encode()))
            rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
            if kind == "BOOKMARK":
                continue
            yield kind, obj
        if timeout_seconds is not None:
            return


def _log_params(container, tail_lines, since_seconds, timestamps, previous):
    return {
        "container": container,
        "tailLines": tail_lines,
        "sinceSeconds": since_seconds,
        "timestamps": timestamps or None,
        "previous": previous or None,
    }


def logs(pod, namespace=None, *, container=None, tail_lines=None, since_seconds=None,
         timestamps=False, previous=False):
    """A pod's log as text (`kubectl logs`); `namespace` defaults to `namespace()`."""
    p = path("v1", "pods", pod, namespace=_ns(namespace), subresource="log")
    params = _log_params(container, tail_lines, since_seconds, timestamps, previous)
    return request("GET", p, params=params, headers={"accept": "*/*"}).text


def follow_logs(pod, namespace=None, *, container=None, tail_lines=None, since_seconds=None,
                timestamps=False):
    """Yields a pod's log lines as they are written (`kubectl logs -f`), without the
    newline, until the container ends or the caller stops iterating."""
    p = path("v1", "pods", pod, namespace=_ns(namespace), subresource="log")
    params = _log_params(container, tail_lines, since_seconds, timestamps, False)
    params["follow"] = "true"
    status, headers, stream = _send("GET", p, params, headers={"accept": "*/*"})
    if status >= 400:
        raise ApiError(Response(status, headers, b"".join(_chunks(stream))))
    for line in _lines(stream):
        yield line.decode("utf-8", "replace")


def create(path, obj, **params):
    """`POST` an object to a collection path; returns the created object."""
    return request("POST", path, json=obj, params=params).json()


def replace(path, obj, **params):
    """`PUT` an object to its path (`metadata.resourceVersion` makes it conditional);
    returns the stored object."""
    return request("PUT", path, json=obj, params=params).json()


def patch(path, body, type="merge", **params):
    """`PATCH` an object: `type` is `merge` (default), `json` (a list of operations),
    `strategic` or `apply`. Returns the patched object."""
    content_type = _PATCH_TYPES.get(type)
    if content_type is None:
        raise ValueError(f"unknown patch type {type!r}: merge, json, strategic or apply")
    return request("PATCH", path, json=body, headers={"content-type": content_type}, params=params).json()


def apply(path, obj, *, field_manager="kubewasm", force=False, **params):
    """Server-side apply (`kubectl apply --server-side`) of `obj` at its object path;
    `force=True` takes over fields another manager owns. Returns the object."""
    return patch(path, obj, "apply", fieldManager=field_manager, force=force or None, **params)


def delete(path, *, propagation_policy=None, grace_period_seconds=None, dry_run=False, **params):
    """`DELETE` an object; returns what the server answers (the object being deleted,
    or a `Status`). `dry_run=True` asks the server to check without deleting."""
    return request(
        "DELETE",
        path,
        params=dict(
            params,
            propagationPolicy=propagation_policy,
            gracePeriodSeconds=grace_period_seconds,
            dryRun="All" if dry_run else None,
        ),
    ).json()
