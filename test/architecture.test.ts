/**
 * The import rule of docs/architecture.md, checked on the real tree: nothing imports upward,
 * the three middle parts never import each other, and plugins never import each other. And
 * the size rule of issue #13: no function in src/ over 120 lines.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
// Tracked files and new ones git does not ignore, so a file not committed yet is checked too.
const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', 'src'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f.endsWith('.ts'));

/** `src/plugins/docker/x.ts` → `plugins/docker`; `src/core/pod/x.ts` → `core`. */
function part(file: string): string {
  const [, top, sub] = file.split('/');
  if (top === 'plugins') return sub?.endsWith('.ts') ? 'plugins' : `plugins/${sub}`;
  return top ?? '';
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'(\.[^']+)'/g))
    out.push(relative(root, normalize(join(root, dirname(file), m[1] as string))));
  for (const m of text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g))
    out.push(relative(root, normalize(join(root, dirname(file), m[1] as string))));
  return out;
}

/** What each part may import (besides itself). */
const allowed: Record<string, string[]> = {
  wire: ['errors'],
  errors: [],
  core: ['wire', 'errors'],
  api: ['core', 'wire', 'errors'],
  vk: ['core', 'wire', 'errors'],
  'plugins/sdk': ['core', 'wire', 'errors'],
  'plugins/mock': ['plugins/sdk', 'core', 'wire', 'errors'],
  'plugins/docker': ['plugins/sdk', 'core', 'wire', 'errors'],
  'plugins/slurm': ['plugins/sdk', 'core', 'wire', 'errors'],
  // registry.ts and serve.ts load a plugin by name (lazily) and serve it.
  plugins: ['plugins/sdk', 'plugins/mock', 'plugins/docker', 'plugins/slurm', 'core', 'wire', 'errors'],
  devcluster: ['core', 'wire', 'errors'],
  cli: ['api', 'vk', 'plugins', 'plugins/sdk', 'devcluster', 'core', 'wire', 'errors'],
};

describe('the import rule (docs/architecture.md)', () => {
  it('has files to check', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('no import goes upward or sideways', () => {
    const broken: string[] = [];
    for (const f of files) {
      const from = part(f);
      for (const target of importsOf(f)) {
        if (!target.startsWith('src/')) continue;
        const to = part(target);
        if (to === from) continue;
        const ok = allowed[from];
        if (!ok) broken.push(`${f}: part "${from}" is not in the rule`);
        else if (!ok.includes(to)) broken.push(`${f} imports ${target} (${from} → ${to})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('no plugin imports another plugin', () => {
    const plugins = ['plugins/mock', 'plugins/docker', 'plugins/slurm'];
    const crossing = files.flatMap((f) =>
      plugins.includes(part(f))
        ? importsOf(f)
            .filter((t) => plugins.includes(part(t)) && part(t) !== part(f))
            .map((t) => `${f} → ${t}`)
        : [],
    );
    expect(crossing).toEqual([]);
  });

  it('only src/devcluster and src/cli may load @kubernetes/client-node at run time (elsewhere: types only)', () => {
    // Its generated index costs a process ~85 MiB (docs/performance.md, Memory budget).
    const runtime = files.filter((f) => {
      if (['devcluster', 'cli'].includes(part(f))) return false;
      const text = readFileSync(join(root, f), 'utf8');
      const value = /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^;]*?from\s+'@kubernetes\/client-node'/;
      return value.test(text) || /import\(\s*'@kubernetes\/client-node'\s*\)/.test(text);
    });
    expect(runtime).toEqual([]);
  });
});

/** The most lines a function (declaration, method, arrow, accessor, constructor) may span in src/. */
const MAX_FUNCTION_LINES = 120;

/** `file name (n lines)` for every function of `file` longer than `max` lines, nested ones included. */
function longFunctions(file: string, text: string, max: number): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const lines = sf.getLineAndCharacterOfPosition(node.getEnd()).line - first + 1;
      const name =
        node.name && ts.isIdentifier(node.name) ? node.name.text : `(anonymous, line ${first + 1})`;
      if (lines > max) out.push(`${file} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('the size rule (issue #13)', () => {
  it('finds a function over the limit, a method or an arrow too (the check itself)', () => {
    const body = Array.from({ length: 121 }, (_, i) => `  const v${i} = ${i};`).join('\n');
    const text = [
      `export function big() {\n${body}\n}`,
      `class C {\n m() {\n${body}\n }\n}`,
      `const f = () => {\n${body}\n};`,
      'const small = () => 1;',
    ].join('\n');
    expect(longFunctions('x.ts', text, MAX_FUNCTION_LINES)).toEqual([
      'x.ts big (123 lines)',
      'x.ts m (123 lines)',
      'x.ts (anonymous, line 249) (123 lines)',
    ]);
    expect(longFunctions('x.ts', text, 123)).toEqual([]);
  });

  it(`no function in src/ spans more than ${MAX_FUNCTION_LINES} lines`, () => {
    const long = files.flatMap((f) =>
      longFunctions(f, readFileSync(join(root, f), 'utf8'), MAX_FUNCTION_LINES),
    );
    expect(long).toEqual([]);
  });
});

/** The target types of every `x as unknown as T` in `file` whose T names a pod type (Pod, KPod, V1Pod, PodCreateRequests...). */
function podCasts(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isAsExpression(node) &&
      ts.isAsExpression(node.expression) &&
      node.expression.type.kind === ts.SyntaxKind.UnknownKeyword
    ) {
      const target = node.type.getText(sf);
      const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
      if (/Pod/.test(target)) out.push(`${file}:${line} as unknown as ${target}`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

describe('the pod type rule (issue #13)', () => {
  it('finds a double cast to a pod type, not other casts (the check itself)', () => {
    const text = [
      'const a = raw as unknown as KPod;',
      "const b = { pod: sent as unknown as PodCreateRequests['pod'] };",
      'const c = list() as unknown as V1Pod[] | undefined;',
      'const d = t as unknown as Date;',
      'const e = p as Pod;',
    ].join('\n');
    expect(podCasts('x.ts', text)).toEqual([
      'x.ts:1 as unknown as KPod',
      "x.ts:2 as unknown as PodCreateRequests['pod']",
      'x.ts:3 as unknown as V1Pod[] | undefined',
    ]);
  });

  it('no `as unknown as` in src/ targets a pod type: the VK types pods by the wire schemas (src/wire/k8s.ts)', () => {
    const casts = files.flatMap((f) => podCasts(f, readFileSync(join(root, f), 'utf8')));
    expect(casts).toEqual([]);
  });
});
