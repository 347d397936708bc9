"""Watches Deployments and prints each rollout's progress until all are complete,
as `kubectl rollout status` does for one.

    host run --policy examples/scripts/rollout-status.role.yaml \
        examples/scripts/rollout-status.py [NAME...] [--timeout SECONDS]

With no NAME it follows every Deployment in the namespace. Exits 0 when every rollout
is complete, 1 when one exceeds its progress deadline, 2 on --timeout.
"""

import argparse
import sys
import time

import kubewasm

parser = argparse.ArgumentParser(prog="rollout-status.py",
                                 description="Follow Deployment rollouts until complete.")
parser.add_argument("names", nargs="*", metavar="NAME", help="Deployments to follow (default: all)")
parser.add_argument("-n", "--namespace", help="the namespace (default: the host's)")
parser.add_argument("--timeout", type=float, help="give up after this many seconds")
args = parser.parse_args()

namespace = args.namespace or kubewasm.namespace()
collection = kubewasm.path("apps/v1", "deployments", namespace=namespace)
deadline = time.monotonic() + args.timeout if args.timeout else None


def progress(d):
    """`(message, done, failed)` for a Deployment, in kubectl's words."""
    name, spec, status = d["metadata"]["name"], d.get("spec", {}), d.get("status", {})
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if d["metadata"].get("generation", 0) > status.get("observedGeneration", 0):
        return f'Waiting for deployment "{name}" spec update to be observed...', False, False
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            return f'deployment "{name}" exceeded its progress deadline', True, True
    want = spec.get("replicas", 1)
    updated = status.get("updatedReplicas", 0)
    total = status.get("replicas", 0)
    available = status.get("availableReplicas", 0)
    if updated < want:
        return f"{prefix}{updated} out of {want} new replicas have been updated...", False, False
    if total > updated:
        return f"{prefix}{total - updated} old replicas are pending termination...", False, False
    if available < updated:
        return f"{prefix}{available} of {updated} updated replicas are available...", False, False
    return f'deployment "{name}" successfully rolled out', True, False


# List first: the set to follow, and the resourceVersion to watch from.
listing = kubewasm.get(collection)
pending = {}
failed = False
for d in listing.get("items") or []:
    name = d["metadata"]["name"]
    if args.names and name not in args.names:
        continue
    message, done, bad = progress(d)
    print(message, flush=True)
    failed |= bad
    if not done:
        pending[name] = message
missing = set(args.names) - {d["metadata"]["name"] for d in listing.get("items") or []}
if missing:
    raise SystemExit(f"error: no deployment {', '.join(sorted(missing))} in namespace {namespace}")

rv = listing["metadata"]["resourceVersion"]
if pending:
    for kind, d in kubewasm.watch(collection, resource_version=rv,
                                  timeout_seconds=args.timeout and int(args.timeout) + 1):
        name = d["metadata"]["name"]
        if name not in pending:
            continue
        if kind == "DELETED":
            print(f'deployment "{name}" was deleted', flush=True)
            del pending[name]
        else:
            message, done, bad = progress(d)
            if message != pending[name]:
                print(message, flush=True)
                pending[name] = message
            failed |= bad
            if done:
                del pending[name]
        if not pending or (deadline and time.monotonic() > deadline):
            break

if pending:
    print(f"error: timed out waiting for {', '.join(sorted(pending))}", file=sys.stderr)
    raise SystemExit(2)
raise SystemExit(1 if failed else 0)
