// A component built with componentize-js as its documentation shows (no -d flags) that
// reaches the cluster with the ordinary `fetch`. Prints the pods of a namespace with
// their phase: `host run js-component.wasm [NAMESPACE]` (default: demo).
import { getArguments } from "wasi:cli/environment@0.2.12";

const API = "https://kubernetes.default.svc";

export const run = {
  async run() {
    const namespace = getArguments()[1] ?? "demo";
    const url = `${API}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      // A request the host refused never reaches the server; the host says why on
      // stderr (wasi:http errors carry no text).
      console.error(`error: GET ${url}: ${e.message}`);
      throw e;
    }
    const body = await res.json();
    if (!res.ok) {
      // A Status error from the API server, printed as kubectl does.
      console.error(`Error from server (${body.reason}): ${body.message}`);
      throw new Error(body.message);
    }
    for (const pod of body.items) {
      console.log(`${pod.metadata.name} ${pod.status?.phase ?? "Unknown"}`);
    }
  },
};
