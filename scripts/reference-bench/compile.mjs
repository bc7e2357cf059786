// Compile a .manifest program to IR JSON with the reference compiler (@angriff36/manifest
// 3.4.23's compileToIR, installed in PEER_DIR as lib.mjs says): how the checked-in IR files of
// examples/library-service and tests/write-path were made.
//
// Usage: node scripts/reference-bench/compile.mjs <in.manifest> <out.ir.json>
// Exits 1, printing the diagnostics, when the program has an error.
import { readFileSync, writeFileSync } from 'node:fs';
import { loadReference } from './lib.mjs';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: node compile.mjs <in.manifest> <out.ir.json>');
  process.exit(2);
}
const { compileToIR } = await loadReference();
const { ir, diagnostics } = await compileToIR(readFileSync(input, 'utf8'));
const errors = (diagnostics || []).filter((d) => d.severity === 'error');
if (errors.length > 0) {
  console.error(JSON.stringify(errors, null, 2));
  process.exit(1);
}
writeFileSync(output, JSON.stringify(ir, null, 2) + '\n');
