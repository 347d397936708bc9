"""Deletes the pods in phase Succeeded that finished more than N minutes ago.

    host run --policy examples/scripts/delete-succeeded-pods.role.yaml \
        examples/scripts/delete-succeeded-pods.py --older-than 60

The Role beside it allows exactly what this does: list and delete pods in one
namespace. `--dry-run` asks the API server to check each delete without doing it.
"""

import argparse
import datetime

import kubewasm

parser = argparse.ArgumentParser(
    prog="delete-succeeded-pods.py",
    description="Delete pods in phase Succeeded that finished more than N minutes ago.",
)
parser.add_argument("--older-than", type=float, default=60, metavar="MINUTES",
                    help="how long ago the pod must have finished (default: 60)")
parser.add_argument("-n", "--namespace", help="the namespace (default: the host's)")
parser.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
args = parser.parse_args()

namespace = args.namespace or kubewasm.namespace()
now = datetime.datetime.now(datetime.timezone.utc)


def parse_time(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def finished_at(pod):
    """When the pod's last container ended (its creation time if none says)."""
    ends = [
        c["state"]["terminated"]["finishedAt"]
        for c in pod.get("status", {}).get("containerStatuses") or []
        if c.get("state", {}).get("terminated", {}).get("finishedAt")
    ]
    return parse_time(max(ends) if ends else pod["metadata"]["creationTimestamp"])


pods = kubewasm.list(
    kubewasm.path("v1", "pods", namespace=namespace),
    field_selector="status.phase=Succeeded",
)
deleted = 0
for pod in pods:
    name = pod["metadata"]["name"]
    minutes = (now - finished_at(pod)).total_seconds() / 60
    if minutes < args.older_than:
        continue
    kubewasm.delete(kubewasm.path("v1", "pods", name, namespace=namespace), dry_run=args.dry_run)
    suffix = " (server dry run)" if args.dry_run else ""
    print(f"pod/{name} deleted{suffix}: finished {minutes:.0f} minutes ago")
    deleted += 1
if not deleted:
    print(f"no pods in namespace {namespace} succeeded more than {args.older_than:g} minutes ago")
