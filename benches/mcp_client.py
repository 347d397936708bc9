"""Drives `host mcp` over stdio with plain JSON-RPC lines (standard library only, so the
client costs next to nothing) and prints the latency of one tool call and the calls per
second, sequential and with several calls in flight.

usage: mcp_client.py N CONCURRENCY -- HOST-MCP-COMMAND...
"""

import json
import statistics
import subprocess
import sys
import time

n, concurrency = int(sys.argv[1]), int(sys.argv[2])
command = sys.argv[sys.argv.index("--") + 1 :]
server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
next_id = 0


def send(method, params=None, notify=False):
    global next_id
    message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if not notify:
        next_id += 1
        message["id"] = next_id
    server.stdin.write((json.dumps(message) + "\n").encode())
    return None if notify else next_id


def receive():
    while True:
        message = json.loads(server.stdout.readline())
        if "id" in message:
            return message


send("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}})
receive()
send("notifications/initialized", notify=True)
call = {"name": "kubectl", "arguments": {"args": ["get", "pods", "-n", "demo"]}}

for _ in range(5):  # warm-up: caches, connection
    send("tools/call", call)
    assert not receive()["result"].get("isError")

latencies = []
for _ in range(n):
    start = time.perf_counter()
    send("tools/call", call)
    reply = receive()
    latencies.append((time.perf_counter() - start) * 1000)
    assert not reply["result"].get("isError"), reply
start = time.perf_counter()
for _ in range(n):
    send("tools/call", call)
    receive()
sequential = n / (time.perf_counter() - start)

start = time.perf_counter()
in_flight = 0
for _ in range(n):
    send("tools/call", call)
    in_flight += 1
    if in_flight == concurrency:
        receive()
        in_flight -= 1
while in_flight:
    receive()
    in_flight -= 1
parallel = n / (time.perf_counter() - start)
server.stdin.close()
server.wait()

latencies.sort()
print(
    f"- one call (`kubectl get pods -n demo`, {n} sequential): median {statistics.median(latencies):.2f} ms, "
    f"p90 {latencies[int(n * 0.9)]:.2f} ms, min {latencies[0]:.2f} ms"
)
print(f"- calls per second: {sequential:.0f} sequential, {parallel:.0f} with {concurrency} in flight")
