"""A kubewasm guest in Python: lists the pods of the guest's default namespace.

Built with componentize-py against the `script` world of `../../wit`: it exports
`wasi:cli/run` and reaches the cluster only through `kubewasm:client/api.send`.
The host adds the credential; this code never sees it.
"""

import json
import sys

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import api, credentials, streams

ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
CHUNK = 64 * 1024


def error_code_text(code) -> str:
    """`denied: ...` for an `api.error-code` (class `ErrorCode_Denied` -> `denied`)."""
    kind = type(code).__name__.removeprefix("ErrorCode_")
    name = "".join("-" + c.lower() if c.isupper() else c for c in kind).lstrip("-")
    value = getattr(code, "value", None)
    return f"{name}: {value}" if value else name


def read_to_end(body: streams.InputStream) -> bytes:
    """Reads the response body until the stream reports `closed`."""
    chunks = []
    while True:
        try:
            chunks.append(body.blocking_read(CHUNK))
        except Err as e:
            if isinstance(e.value, streams.StreamError_Closed):
                return b"".join(chunks)
            # last-operation-failed: ask the host why (a limit, a dropped connection).
            error = e.value.value
            why = api.body_error(error)
            raise RuntimeError(
                error_code_text(why) if why is not None else error.to_debug_string()
            )


def print_columns(rows) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        line = "   ".join(cell.ljust(w) for cell, w in zip(row, widths))
        print(line.rstrip())


def pod_rows(obj: dict):
    """NAME and STATUS from a meta.k8s.io/v1 Table, or from a plain PodList."""
    if obj.get("kind") == "Table":
        names = [c["name"].lower() for c in obj.get("columnDefinitions", [])]
        name_i, status_i = names.index("name"), names.index("status")
        return [
            [str(r["cells"][name_i]), str(r["cells"][status_i])]
            for r in obj.get("rows") or []
        ]
    return [
        [p["metadata"]["name"], p.get("status", {}).get("phase", "")]
        for p in obj.get("items") or []
    ]


def server_error(status: int, body: bytes) -> str:
    """kubectl's line for a `Status` body: `Error from server (Reason): message`."""
    try:
        obj = json.loads(body)
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or obj.get("kind") != "Status":
        text = body.decode("utf-8", "replace").strip()
        return f"Error from server: HTTP {status}" + (f": {text}" if text else "")
    reason, message = obj.get("reason", ""), obj.get("message", "")
    if reason:
        return f"Error from server ({reason}): {message}"
    return f"Error from server: {message}"


def list_pods() -> int:
    ns = credentials.describe().namespace
    request = api.Request(
        method=api.Method.GET,
        path_and_query=f"/api/v1/namespaces/{ns}/pods",
        headers=[("accept", ACCEPT)],
        body=None,
    )
    try:
        response = api.send(request)
    except Err as e:
        print(f"error: {error_code_text(e.value)}", file=sys.stderr)
        return 1
    try:
        with response.body as stream:  # drops the stream handle when done
            body = read_to_end(stream)
    except RuntimeError as e:
        print(f"error: reading the response: {e}", file=sys.stderr)
        return 1

    if response.status != 200:
        print(server_error(response.status, body), file=sys.stderr)
        return 1
    rows = pod_rows(json.loads(body))
    if not rows:
        print(f"No resources found in {ns} namespace.", file=sys.stderr)
        return 0
    print_columns([["NAME", "STATUS"]] + rows)
    return 0


class Run(exports.Run):
    def run(self) -> None:
        code = list_pods()
        sys.stdout.flush()
        sys.stderr.flush()
        if code != 0:
            raise Err(None)  # `run` returns err: the host exits 1
