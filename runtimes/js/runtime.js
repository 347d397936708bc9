// kubewasm's JavaScript runtime: `host run script.js ARGS...` with no build step.
//
// The host runs this component with the script's path as its first argument; the
// script is the only file it can read (unless --dir grants more). This loader reads it,
// evaluates it as an ES module body (strict, top-level await) whose only import is the
// `kubewasm` SDK below, and turns an uncaught error into one line naming the file.
//
// StarlingMonkey cannot load modules from the filesystem after build time (its module
// loader's file descriptors are those of the build), so static imports of "kubewasm"
// are rewritten to bindings of the SDK object, line for line, and anything else a
// script imports is refused with a message that says so.

import { describe } from 'kubewasm:client/credentials@0.1.0';
import { send, bodyError } from 'kubewasm:client/api@0.1.0';
import { getArguments, getEnvironment } from 'wasi:cli/environment@0.2.12';
import { exitWithCode } from 'wasi:cli/exit@0.2.12';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

// ---------------------------------------------------------------------------------
// The `kubewasm` SDK: the Kubernetes API as a client-node user would reach for it.
// Every request goes to the host, which checks its policy and adds the credential.

const CHUNK = 64n * 1024n;
const PATCH_TYPES = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};
const METHODS = ['get', 'head', 'post', 'put', 'patch', 'delete'];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Base class of the SDK's errors. */
class KubewasmError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }
}

/** The host's policy refused the request; nothing reached the API server. The message
 * names the request and the Role rule that would allow it. */
class Denied extends KubewasmError {}

/** The request got no response; `kind` is the host's error code (connect, tls,
 * timeout, limit-exceeded, credential, invalid-request, internal). */
class RequestError extends KubewasmError {
  constructor(kind, detail) {
    super(detail ? `${kind}: ${detail}` : kind);
    this.kind = kind;
    this.detail = detail;
  }
}

/** The API server answered with an error Status: `code`, `reason`, `message`,
 * `details` and the whole `status` object, as client-node's ApiException carries. */
class ApiError extends KubewasmError {
  constructor(code, text) {
    let status;
    try {
      status = JSON.parse(text);
    } catch {
      status = undefined;
    }
    if (!status || status.kind !== 'Status') {
      status = { kind: 'Status', status: 'Failure', code, reason: '', message: text.trim() || `the server answered HTTP ${code}` };
    }
    const reason = status.reason ? ` (${status.reason})` : '';
    super(`${status.code || code}${reason}: ${status.message || ''}`);
    this.code = status.code || code;
    this.reason = status.reason || '';
    this.status = status;
    this.details = status.details;
    this.body = text;
  }
}

function errorFromCode(code) {
  const tag = code?.tag ?? 'internal';
  const detail = code?.val ?? undefined;
  return tag === 'denied' ? new Denied(detail) : new RequestError(tag, detail);
}

/** The error value of a failed WIT call, however the bindings throw it. */
function witError(e) {
  return e?.payload ?? e?.val ?? e;
}

function withQuery(path, query) {
  const params = [];
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === false) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      params.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
    }
  }
  if (!params.length) return path;
  return `${path}${path.includes('?') ? '&' : '?'}${params.join('&')}`;
}

function open(method, path, { query, headers, json, body } = {}) {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`path must start with '/', e.g. /api/v1/namespaces/demo/pods: ${path}`);
  }
  const m = String(method).toLowerCase();
  if (!METHODS.includes(m)) throw new TypeError(`unsupported method ${method}`);
  const list = Object.entries(headers || {}).map(([k, v]) => [k.toLowerCase(), String(v)]);
  const names = new Set(list.map(([k]) => k));
  if (!names.has('accept')) list.push(['accept', 'application/json']);
  if (json !== undefined) {
    body = JSON.stringify(json);
    if (!names.has('content-type')) list.push(['content-type', 'application/json']);
  }
  if (typeof body === 'string') body = encoder.encode(body);
  let response;
  try {
    response = send({ method: m, pathAndQuery: withQuery(path, query), headers: list, body });
  } catch (e) {
    throw errorFromCode(witError(e));
  }
  return response;
}

function* chunks(stream) {
  try {
    while (true) {
      let chunk;
      try {
        chunk = stream.blockingRead(CHUNK);
      } catch (e) {
        const err = witError(e);
        if (err?.tag === 'closed') return;
        const why = err?.tag === 'last-operation-failed' ? bodyError(err.val) : undefined;
        throw why ? errorFromCode(why) : new RequestError('internal', `reading the response: ${err?.val?.toDebugString?.() ?? err}`);
      }
      yield chunk;
    }
  } finally {
    stream[Symbol.dispose]?.();
  }
}

function readAll(stream) {
  const parts = [...chunks(stream)];
  const total = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return decoder.decode(all);
}

function* lines(stream) {
  let pending = '';
  const streaming = new TextDecoder();
  for (const chunk of chunks(stream)) {
    pending += streaming.decode(chunk, { stream: true });
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
  }
  if (pending) yield pending;
}

/** A whole response: `status`, `ok`, `headers` (a Map, names in lowercase), `text`
 * and `json()`. */
class Response {
  constructor(status, headers, text) {
    this.status = status;
    this.ok = status >= 200 && status < 300;
    this.headers = new Map(headers);
    this.text = text;
  }
  json() {
    return JSON.parse(this.text);
  }
}

/** Sends one request and reads its response. Options: `query` (object of query
 * parameters), `json` (a body sent as JSON), `body` (text or bytes as they are),
 * `headers`, `check` (default true: a non-2xx answer throws ApiError). */
async function request(method, path, options = {}) {
  const response = open(method, path, options);
  const result = new Response(response.status, response.headers, readAll(response.body));
  if (options.check !== false && result.status >= 400) {
    throw new ApiError(result.status, result.text);
  }
  return result;
}

/** The API path of a resource: path('v1', 'pods', { namespace: 'demo' }) is
 * /api/v1/namespaces/demo/pods; path('apps/v1', 'deployments', { namespace: 'demo',
 * name: 'web' }) is /apis/apps/v1/namespaces/demo/deployments/web. */
function path(apiVersion, resource, { namespace, name, subresource } = {}) {
  const parts = [apiVersion.includes('/') ? 'apis' : 'api', apiVersion];
  if (namespace) parts.push('namespaces', namespace);
  parts.push(resource);
  if (name) parts.push(name);
  if (subresource) parts.push(subresource);
  return '/' + parts.map((p) => encodeURIComponent(p).replace(/%2F/g, '/')).join('/');
}

/** The namespace to use when a script names none (host run -n, the kubeconfig
 * context's, the pod's; a Role policy sets its own). */
function namespace() {
  return describe().namespace;
}

/** Who the host acts as, safe to print; never a token or key. */
function identity() {
  return describe();
}

/** GET a path as parsed JSON. */
async function get(path, query) {
  return (await request('get', path, { query })).json();
}

/** Every item of a collection, fetched in pages of `limit` (continue tokens). */
async function list(path, { labelSelector, fieldSelector, limit = 500, ...query } = {}) {
  const items = [];
  let token;
  do {
    const page = await get(path, { ...query, labelSelector, fieldSelector, limit, continue: token });
    items.push(...(page.items || []));
    token = page.metadata?.continue;
  } while (token);
  return items;
}

/** Watches a collection as an async iterator of { type, object } (ADDED, MODIFIED,
 * DELETED; bookmarks are consumed). Resumes from the last resourceVersion when the
 * server ends the watch, until the loop stops (or the server ends it, with
 * timeoutSeconds). A watch too old for the server throws ApiError with code 410. */
async function* watch(path, { resourceVersion, labelSelector, fieldSelector, timeoutSeconds, ...query } = {}) {
  let rv = resourceVersion;
  while (true) {
    const response = open('get', path, {
      query: { ...query, watch: 'true', allowWatchBookmarks: 'true', resourceVersion: rv, labelSelector, fieldSelector, timeoutSeconds },
    });
    if (response.status >= 400) throw new ApiError(response.status, readAll(response.body));
    for (const line of lines(response.body)) {
      if (!line.trim()) continue;
      const { type, object } = JSON.parse(line);
      if (type === 'ERROR') throw new ApiError(object?.code || 500, JSON.stringify(object));
      rv = object?.metadata?.resourceVersion || rv;
      if (type === 'BOOKMARK') continue;
      yield { type, object };
    }
    if (timeoutSeconds !== undefined) return;
  }
}

function logQuery({ container, tailLines, sinceSeconds, timestamps, previous } = {}) {
  return { container, tailLines, sinceSeconds, timestamps, previous };
}

/** A pod's log as text (kubectl logs): options namespace, container, tailLines,
 * sinceSeconds, timestamps, previous. */
async function logs(pod, options = {}) {
  const p = path('v1', 'pods', { namespace: options.namespace || namespace(), name: pod, subresource: 'log' });
  return (await request('get', p, { query: logQuery(options), headers: { accept: '*/*' } })).text;
}

/** A pod's log lines as they are written (kubectl logs -f), as an async iterator. */
async function* followLogs(pod, options = {}) {
  const p = path('v1', 'pods', { namespace: options.namespace || namespace(), name: pod, subresource: 'log' });
  const response = open('get', p, { query: { ...logQuery(options), follow: 'true' }, headers: { accept: '*/*' } });
  if (response.status >= 400) throw new ApiError(response.status, readAll(response.body));
  yield* lines(response.body);
}

/** POST an object to a collection; returns the created object. */
async function create(path, object, query) {
  return (await request('post', path, { json: object, query })).json();
}

/** PUT an object to its path; returns the stored object. */
async function replace(path, object, query) {
  return (await request('put', path, { json: object, query })).json();
}

/** PATCH an object: type merge (default), json, strategic or apply. */
async function patch(path, body, { type = 'merge', ...query } = {}) {
  const contentType = PATCH_TYPES[type];
  if (!contentType) throw new TypeError(`unknown patch type ${type}: merge, json, strategic or apply`);
  return (await request('patch', path, { json: body, headers: { 'content-type': contentType }, query })).json();
}

/** Server-side apply of `object` at its path (field manager "kubewasm" unless
 * fieldManager says; force takes over fields another manager owns). */
async function apply(path, object, { fieldManager = 'kubewasm', force = false, ...query } = {}) {
  return patch(path, object, { type: 'apply', fieldManager, force, ...query });
}

/** DELETE an object (also exported as `delete`); returns the server's answer. */
async function remove(path, { propagationPolicy, gracePeriodSeconds, dryRun = false, ...query } = {}) {
  return (await request('delete', path, { query: { ...query, propagationPolicy, gracePeriodSeconds, dryRun: dryRun ? 'All' : undefined } })).json();
}

const sdk = Object.freeze({
  ApiError, Denied, KubewasmError, RequestError, Response,
  apply, create, delete: remove, followLogs, get, identity, list, logs, namespace, patch, path, remove, replace, request, watch,
});

// ---------------------------------------------------------------------------------
// The loader.

class ExitSignal {
  constructor(code) {
    this.code = code;
  }
}

/** The file's text, read through the directory the host granted for it. */
function readScript(file) {
  let best;
  for (const [dir, at] of getDirectories()) {
    const prefix = at.endsWith('/') ? at : `${at}/`;
    if (file.startsWith(prefix) && (!best || prefix.length > best[1].length)) best = [dir, prefix];
  }
  if (!best) throw new Error(`cannot read the script ${file}`);
  const handle = best[0].openAt({ symlinkFollow: true }, file.slice(best[1].length), {}, { read: true });
  const size = handle.stat().size;
  const parts = [];
  let offset = 0n;
  while (offset < size) {
    const [data, end] = handle.read(size - offset, offset);
    parts.push(data);
    offset += BigInt(data.length);
    if (end || !data.length) break;
  }
  return parts.map((p) => decoder.decode(p, { stream: true })).join('') + decoder.decode();
}

const IMPORT = /^([ \t]*)import\s+(?:([\s\S]*?)\s+from\s+)?(['"])([^'"\n]+)\3[ \t]*;?/gm;

/** The script's source with each static import of "kubewasm" turned into bindings of
 * the SDK, keeping every line where it was. Other imports throw, naming the line. */
function rewriteImports(source, file) {
  return source.replace(IMPORT, (whole, indent, clause, _q, specifier, offset) => {
    const line = source.slice(0, offset).split('\n').length;
    if (specifier !== 'kubewasm') {
      const err = new SyntaxError(`cannot import "${specifier}": a script can import only "kubewasm" (the runtime has no Node.js modules and loads no other files)`);
      err.scriptLine = line;
      throw err;
    }
    const pad = '\n'.repeat(whole.split('\n').length - 1);
    if (!clause) return indent + pad;
    const bindings = [];
    for (const part of clause.match(/\{[\s\S]*\}|[^,{}]+/g) || []) {
      const p = part.trim();
      if (!p) continue;
      if (p.startsWith('{')) bindings.push(`${p.replace(/\s+as\s+/g, ': ')} = __kubewasm`);
      else if (p.startsWith('*')) bindings.push(`${p.replace(/^\*\s*as\s+/, '')} = __kubewasm`);
      else bindings.push(`${p} = __kubewasm`);
    }
    return `${indent}const ${bindings.join(', ')};${pad}`;
  });
}

// The Function constructor puts two lines before the body it is given.
const BODY_OFFSET = 2;

/** `file:line` of the innermost frame of the script in an error's stack. */
function where(file, error) {
  if (error?.scriptLine) return `${file}:${error.scriptLine}`;
  const stack = String(error?.stack || '');
  for (const frame of stack.split('\n')) {
    const at = frame.lastIndexOf(`${file}:`);
    if (at >= 0) {
      const line = Number(frame.slice(at + file.length + 1).split(':')[0]) - BODY_OFFSET;
      if (line > 0) return `${file}:${line}`;
    }
  }
  return file;
}

function describeError(file, error) {
  if (!(error instanceof Error)) return `${file}: uncaught ${typeof error === 'string' ? JSON.stringify(error) : String(error)}`;
  const at = where(file, error);
  if (error instanceof Denied) return `${at}: ${error.message}`;
  const fix = error instanceof SyntaxError && !error.message.startsWith('cannot import') ? '; fix the script' : '';
  return `${at}: ${error.name}: ${error.message}${fix}`;
}

async function main() {
  const args = getArguments();
  const file = args[0];
  if (!file) {
    console.error('error: no script: run `host run SCRIPT.js [ARGS...]`');
    return 2;
  }
  const env = Object.fromEntries(getEnvironment());
  globalThis.process = {
    argv: ['host', ...args],
    env,
    exitCode: undefined,
    exit(code) {
      throw new ExitSignal(code ?? globalThis.process.exitCode ?? 0);
    },
  };
  let source;
  try {
    source = readScript(file);
  } catch (e) {
    console.error(`error: cannot read the script ${file}: ${e?.message ?? e}`);
    return 2;
  }
  try {
    // The body of an async function: top-level await works, and `sourceURL` names the
    // file in stacks and syntax errors.
    const body = `"use strict";${rewriteImports(source, file)}\n//# sourceURL=${file}`;
    const AsyncFunction = (async () => {}).constructor;
    let script;
    try {
      script = new AsyncFunction('__kubewasm', body);
    } catch (e) {
      if (e instanceof SyntaxError && e.lineNumber > BODY_OFFSET) e.scriptLine = e.lineNumber - BODY_OFFSET;
      throw e;
    }
    await script(sdk);
  } catch (e) {
    if (e instanceof ExitSignal) return Number(e.code) & 0xff;
    if (env.KUBEWASM_TRACEBACK) console.error(String(e?.stack ?? ''));
    console.error(`error: ${describeError(file, e)}`);
    return 1;
  }
  return Number(globalThis.process.exitCode ?? 0) & 0xff;
}

export const run = {
  async run() {
    const code = await main();
    if (code !== 0) exitWithCode(code);
  },
};
