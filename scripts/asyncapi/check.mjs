// Validate an AsyncAPI document with the AsyncAPI project's own parser (@asyncapi/parser):
// node scripts/asyncapi/check.mjs docs/asyncapi.json
// Exit 0 when it parses with no error and no warning; else 1, one line per diagnostic.
import { readFileSync } from 'node:fs';
import { Parser } from '@asyncapi/parser';

const ERROR = 0;
const WARNING = 1;
const path = process.argv[2];
if (!path) {
  console.error('usage: node check.mjs FILE');
  process.exit(2);
}
const { document, diagnostics } = await new Parser().parse(readFileSync(path, 'utf8'));
let bad = 0;
for (const d of diagnostics) {
  if (d.severity === ERROR || d.severity === WARNING) {
    bad += 1;
    console.log(`${d.severity === ERROR ? 'error' : 'warning'} ${d.code} at ${d.path.join('.')}: ${d.message}`);
  }
}
if (!document || bad > 0) {
  console.log(`${path}: not a valid AsyncAPI document (${bad} problems)`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.operations().length} operations`);
