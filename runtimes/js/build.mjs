// Builds the JavaScript runtime component: runtime.js (the loader and the `kubewasm`
// SDK) on StarlingMonkey, with componentize-js (version pinned in package-lock.json).
// Usage: node build.mjs OUT.wasm   (runtimes/build.sh runs it)
import { componentize } from '@bytecodealliance/componentize-js';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = process.argv[2];
if (!out) {
  console.error('usage: node build.mjs OUT.wasm');
  process.exit(2);
}
const here = import.meta.dirname;
const wit = join(here, '..', '..', 'wit');

// The world (wit/world.wit) with its dependencies laid out as wit-parser expects: the
// project's WIT package and the WASI packages it uses, each under deps/.
const witDir = await mkdtemp(join(tmpdir(), 'kubewasm-js-wit-'));
try {
  await cp(join(here, 'wit', 'world.wit'), join(witDir, 'world.wit'));
  await mkdir(join(witDir, 'deps', 'kubewasm-client'), { recursive: true });
  for (const file of await readdir(wit)) {
    if (file.endsWith('.wit')) {
      await cp(join(wit, file), join(witDir, 'deps', 'kubewasm-client', file));
    }
  }
  for (const file of await readdir(join(wit, 'deps'))) {
    await cp(join(wit, 'deps', file), join(witDir, 'deps', file));
  }
  const { component } = await componentize({
    sourcePath: join(here, 'runtime.js'),
    witPath: witDir,
    worldName: 'runtime',
    // The SDK goes through kubewasm:client/api; the global `fetch` is StarlingMonkey's,
    // over wasi:http, which the host routes through the same pipeline (its wasi:http
    // door). No script receives HTTP requests, so there is no fetch-event handler.
    disableFeatures: ['fetch-event'],
  });
  await writeFile(out, component);
} finally {
  await rm(witDir, { recursive: true, force: true });
}
