// Loads the published reference runtime of Manifest (@angriff36/manifest, MIT, Copyright (c) 2026
// Angriff36) from PEER_DIR (default: manifest-reference in the system temp folder), and reads the
// conformance fixtures of this repository.
//
// Copied from the project's shared reference-runtime harness (tools/reference-runtime/lib.mjs),
// keeping only what bench.mjs imports; FIXTURE_ROOT now defaults to tests/conformance/fixtures.
// See README.md in this folder.
import { pathToFileURL } from 'node:url';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';

export const PEER_DIR = process.env.PEER_DIR || join(tmpdir(), 'manifest-reference');
const HERE = dirname(fileURLToPath(import.meta.url));
// Flat folder of <name>.manifest / <name>.ir.json / <name>.results.json
export const FIXTURE_ROOT = process.env.FIXTURE_ROOT || join(HERE, '../../tests/conformance/fixtures');
const PKG = join(PEER_DIR, 'node_modules/@angriff36/manifest/dist/manifest');

export async function loadReference() {
  const rt = await import(pathToFileURL(join(PKG, 'runtime-engine.js')).href);
  const comp = await import(pathToFileURL(join(PKG, 'ir-compiler.js')).href);
  const pkgJson = JSON.parse(readFileSync(join(PEER_DIR, 'node_modules/@angriff36/manifest/package.json'), 'utf8'));
  return { RuntimeEngine: rt.RuntimeEngine, compileToIR: comp.compileToIR, version: pkgJson.version };
}

export function readFixture(name) {
  return readFileSync(join(FIXTURE_ROOT, `${name}.manifest`), 'utf8');
}
