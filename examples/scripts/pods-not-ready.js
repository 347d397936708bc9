// Lists the pods that are not Ready, each with the last 5 lines of its log.
//
//   host run --policy examples/scripts/pods-not-ready.role.yaml \
//       examples/scripts/pods-not-ready.js [-n NAMESPACE] [--lines N]
//
// The Role beside it allows exactly this: list pods, read pods/log, in one namespace.
import { list, logs, namespace, path, ApiError } from "kubewasm";

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const ns = option("-n", namespace());
const tailLines = Number(option("--lines", "5"));

const ready = (pod) =>
  (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

const pods = await list(path("v1", "pods", { namespace: ns }));
const notReady = pods.filter((pod) => !ready(pod) && pod.status?.phase !== "Succeeded");
if (notReady.length === 0) {
  console.log(`all ${pods.length} pods in namespace ${ns} are Ready`);
}
for (const pod of notReady) {
  const name = pod.metadata.name;
  const reason = pod.status?.reason ?? pod.status?.phase ?? "Unknown";
  console.log(`pod/${name} (${reason}):`);
  try {
    const text = await logs(name, { namespace: ns, tailLines });
    for (const line of text.split("\n").filter(Boolean)) console.log(`  ${line}`);
    if (!text.trim()) console.log("  (no log lines)");
  } catch (e) {
    // A pod that never started has no log: say why and carry on.
    if (!(e instanceof ApiError)) throw e;
    console.log(`  (no log: ${e.message})`);
  }
}
