/**
 * `npm run openapi`: regenerate docs/openapi.json from the wire schemas. Run it after any
 * change in src/wire; test/wire/openapi.test.ts fails while the file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildOpenApi } from './openapi.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const OPENAPI_FILE = join(ROOT, 'docs', 'openapi.json');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The file's exact content: 2-space JSON with a final newline. */
export function renderOpenApi(): string {
  return `${JSON.stringify(buildOpenApi(packageVersion()), null, 2)}\n`;
}

// import.meta.main is Node >= 24.2; compare argv for older ones.
if (import.meta.main ?? process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_FILE, renderOpenApi());
  console.log(`wrote ${OPENAPI_FILE}`);
}
