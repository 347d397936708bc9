"""An MCP client for the end-to-end tests: the official Python SDK (`mcp`, pinned in
requirements.txt) connects to `host mcp`, lists what the server offers, makes the calls it
is given in order, and prints everything it saw as one JSON document.

Input (stdin, JSON):
  {"command": [...], "env": {...}}            spawn the server, talk over stdio
  or {"url": "http://...", "token": "..."}    connect over streamable HTTP
  "mode": "legacy" (initialize handshake, default) or "auto" (server/discover first)
  "calls": [{"tool": NAME, "arguments": {...}}, ...]

Output (stdout, JSON): protocol_version, instructions, tools (as the server listed them),
resources / prompts (their lists, or the error the server answered), and one result per
call: {"is_error", "text" (the text blocks joined), "structured"} or {"error": "..."}.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


async def listing(fetch, key):
    try:
        result = await fetch()
        return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in getattr(result, key)]
    except Exception as e:  # the server may not offer the capability at all
        return {"error": f"{type(e).__name__}: {e}"}


async def session(client, spec):
    out = {
        "protocol_version": client.protocol_version,
        "instructions": client.instructions,
        "server": client.server_info.model_dump(mode="json") if client.server_info else None,
    }
    tools = await client.list_tools()
    out["tools"] = [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools.tools]
    out["resources"] = await listing(client.list_resources, "resources")
    out["prompts"] = await listing(client.list_prompts, "prompts")
    results = []
    for call in spec.get("calls", []):
        try:
            r = await client.call_tool(call["tool"], call.get("arguments", {}))
            results.append(
                {
                    "is_error": bool(r.is_error),
                    "text": "\n".join(c.text for c in r.content if getattr(c, "type", "") == "text"),
                    "structured": r.structured_content,
                }
            )
        except Exception as e:
            results.append({"error": f"{type(e).__name__}: {e}"})
    out["results"] = results
    return out


async def main():
    spec = json.load(sys.stdin)
    mode = spec.get("mode", "legacy")
    if "url" in spec:
        headers = {"Authorization": f"Bearer {spec['token']}"} if spec.get("token") else {}
        async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
            async with Client(streamable_http_client(spec["url"], http_client=http), mode=mode) as client:
                out = await session(client, spec)
    else:
        params = StdioServerParameters(command=spec["command"][0], args=spec["command"][1:], env=spec.get("env"))
        async with Client(params, mode=mode) as client:
            out = await session(client, spec)
    json.dump(out, sys.stdout)


asyncio.run(main())
