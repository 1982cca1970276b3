/**
 * Renders docs/configuration.md from the configuration schemas the code validates with, so
 * the reference cannot drift from the code (test/deploy/config-reference.test.ts fails when
 * the checked-in file differs from what this renders).
 *
 *   node scripts/docs/config-reference.ts            print the markdown
 *   node scripts/docs/config-reference.ts --write    write docs/configuration.md
 *   node scripts/docs/config-reference.ts --check    exit 1 when docs/configuration.md is stale
 *
 * Sources: key names, types and constraints from `z.toJSONSchema` (input side: what a user
 * writes); defaults from parsing an empty configuration (what the code really uses); the
 * description of each key from the JSDoc comment on its line in the schema source (the
 * TypeScript compiler API follows imports to find it). A module that does not exist yet
 * is listed as missing instead of failing the whole reference.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { z } from 'zod';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUTPUT = join(ROOT, 'docs', 'configuration.md');

type Json = Record<string, unknown>;

/** One configuration file format (one command). */
export interface Section {
  title: string;
  /** How the file is named on the command line / in the environment. */
  intro: string;
  /** Module (relative to the repo) and the export holding the schema. */
  module: string;
  exportName: string;
  /** Extra object shape merged in (the plugins' common serving keys). */
  extra?: { module: string; exportName: string };
  /** Export of the env map (ENV → dotted key) and aliases, if any; `default.env` for plugin modules. */
  envExport?: string;
  aliasesExport?: string;
  extraEnv?: { module: string; exportName: string };
}

export const SECTIONS: Section[] = [
  {
    title: 'interLink API (`interlink api`)',
    intro: 'File: `--config <file>`, else `$INTERLINKCONFIGPATH`.',
    module: 'src/api/config.ts',
    exportName: 'ApiConfigSchema',
    envExport: 'API_CONFIG_SPEC.env',
    aliasesExport: 'API_CONFIG_SPEC.aliases',
  },
  {
    title: 'Virtual kubelet (`interlink vk`)',
    intro:
      'File: `--config <file>`, else `$VKCONFIGPATH`. Flags `--nodename`, `--kubeconfig` and `--context` win over both.',
    module: 'src/vk/config.ts',
    exportName: 'VkConfigSchema',
    envExport: 'VK_CONFIG_SPEC.env',
    aliasesExport: 'VK_CONFIG_SPEC.aliases',
  },
  ...(['mock', 'docker', 'slurm'] as const).map(
    (name): Section => ({
      title: `${name[0]!.toUpperCase()}${name.slice(1)} plugin (\`interlink plugin ${name}\`)`,
      intro: `File: \`--config <file>\`, else \`$${name.toUpperCase()}CONFIGPATH\`. The serving keys (\`sidecarUrl\`, \`socket\`, ...) are common to every plugin.`,
      module: `src/plugins/${name}/index.ts`,
      exportName: 'default.configSchema',
      extra: { module: 'src/plugins/serve.ts', exportName: 'ServingShape' },
      envExport: 'default.env',
      aliasesExport: 'default.aliases',
      extraEnv: { module: 'src/plugins/serve.ts', exportName: 'SERVING_CONFIG_SPEC.env' },
    }),
  ),
];

// ---------------------------------------------------------------------------------------
// Loading modules (tolerating missing ones)

async function importModule(rel: string): Promise<Record<string, unknown> | { missing: string }> {
  try {
    return (await import(pathToFileURL(join(ROOT, rel)).href)) as Record<string, unknown>;
  } catch (err) {
    const e = err as { code?: string; message: string };
    if (e.code === 'ERR_MODULE_NOT_FOUND') return { missing: e.message.split('\n')[0]! };
    throw err;
  }
}

function pick(mod: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = mod;
  for (const p of dotted.split('.'))
    cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

// ---------------------------------------------------------------------------------------
// Descriptions: the JSDoc comment of each key, found through the TypeScript compiler

let program: ts.Program | undefined;
function tsProgram(files: string[]): ts.Program {
  program ??= ts.createProgram(files, {
    allowImportingTsExtensions: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    skipLibCheck: true,
    types: [],
  });
  return program;
}

const SHAPE_CALLS = new Set(['object', 'strictObject', 'looseObject', 'extend']);

/** Object literals that hold the keys of the schema `expr` evaluates to (extend: base first). */
function shapesOf(
  expr: ts.Node,
  checker: ts.TypeChecker,
  seen = new Set<ts.Node>(),
): ts.ObjectLiteralExpression[] {
  if (seen.has(expr)) return [];
  seen.add(expr);
  if (ts.isParenthesizedExpression(expr) || ts.isAsExpression(expr) || ts.isSatisfiesExpression(expr)) {
    return shapesOf(expr.expression, checker, seen);
  }
  if (ts.isObjectLiteralExpression(expr)) return [expr]; // a bare shape (`ServingShape = {...}`)
  if (ts.isIdentifier(expr) || ts.isPropertyAccessExpression(expr)) {
    const decl = declarationOf(expr, checker);
    if (decl) return shapesOf(decl, checker, seen);
    return ts.isPropertyAccessExpression(expr) ? shapesOf(expr.expression, checker, seen) : [];
  }
  if (ts.isCallExpression(expr)) {
    const callee = expr.expression;
    const name = ts.isPropertyAccessExpression(callee)
      ? callee.name.text
      : ts.isIdentifier(callee)
        ? callee.text
        : '';
    const first = expr.arguments[0];
    // z.object({...}), x.extend({...}), and local helpers that take a shape (looseKeys({...})).
    if (first && ts.isObjectLiteralExpression(first) && (SHAPE_CALLS.has(name) || ts.isIdentifier(callee))) {
      const base =
        name === 'extend' && ts.isPropertyAccessExpression(callee)
          ? shapesOf(callee.expression, checker, seen)
          : [];
      return [...base, first];
    }
    if (name === 'extend' && first && ts.isPropertyAccessExpression(callee)) {
      return [...shapesOf(callee.expression, checker, seen), ...shapesOf(first, checker, seen)];
    }
    // Wrappers (.default(), .optional(), z.array(X), .prefault()): the schema is inside.
    const inner = ts.isPropertyAccessExpression(callee) ? shapesOf(callee.expression, checker, seen) : [];
    if (inner.length > 0) return inner;
    for (const a of expr.arguments) {
      if (ts.isObjectLiteralExpression(a)) continue; // default values, not shapes
      const s = shapesOf(a, checker, seen);
      if (s.length > 0) return s;
    }
  }
  return [];
}

/** The initializer behind an identifier (following imports), or a default-export object's property. */
function declarationOf(node: ts.Expression, checker: ts.TypeChecker): ts.Node | undefined {
  let sym = checker.getSymbolAtLocation(ts.isPropertyAccessExpression(node) ? node.name : node);
  if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
  const d = sym?.valueDeclaration ?? sym?.declarations?.[0];
  if (!d) return undefined;
  if (ts.isVariableDeclaration(d) && d.initializer) return d.initializer;
  if (ts.isPropertyAssignment(d)) return d.initializer;
  if (ts.isShorthandPropertyAssignment(d)) return declarationOf(d.name, checker);
  return undefined;
}

function jsDocOf(node: ts.Node): string {
  const docs = ts.getJSDocCommentsAndTags(node).filter(ts.isJSDoc);
  return docs
    .map((d) => (typeof d.comment === 'string' ? d.comment : (ts.getTextOfJSDocComment(d.comment) ?? '')))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Dotted key (array items without `[]`) → description. */
function collectDescriptions(
  shapes: ts.ObjectLiteralExpression[],
  checker: ts.TypeChecker,
  prefix: string,
  out: Map<string, string>,
  depth = 0,
) {
  if (depth > 6) return;
  for (const shape of shapes) {
    for (const prop of shape.properties) {
      if (ts.isSpreadAssignment(prop)) {
        collectDescriptions(shapesOf(prop.expression, checker), checker, prefix, out, depth + 1);
        continue;
      }
      if (!ts.isPropertyAssignment(prop) && !ts.isShorthandPropertyAssignment(prop)) continue;
      const name = prop.name.getText().replace(/^['"]|['"]$/g, '');
      const key = prefix ? `${prefix}.${name}` : name;
      const own = jsDocOf(prop);
      const value = ts.isPropertyAssignment(prop) ? prop.initializer : prop.name;
      const nested = shapesOf(value, checker);
      // An object key whose schema is a named const (`auth: AuthConfig.prefault({})`) may carry
      // its doc there; scalar helpers (Port, BoolLike) document the type, not the key.
      const viaConst =
        nested.length > 0 && (ts.isIdentifier(value) || ts.isCallExpression(value))
          ? constDocOf(value, checker)
          : '';
      const text = own || viaConst;
      if (text) out.set(key, text);
      collectDescriptions(nested, checker, key, out, depth + 1);
    }
  }
}

function constDocOf(expr: ts.Expression, checker: ts.TypeChecker): string {
  let e: ts.Expression = expr;
  while (ts.isCallExpression(e) && ts.isPropertyAccessExpression(e.expression)) e = e.expression.expression;
  if (!ts.isIdentifier(e)) return '';
  let sym = checker.getSymbolAtLocation(e);
  if (sym && sym.flags & ts.SymbolFlags.Alias) sym = checker.getAliasedSymbol(sym);
  const d = sym?.valueDeclaration;
  if (!d || !ts.isVariableDeclaration(d)) return '';
  return jsDocOf(d.parent.parent);
}

function descriptionsFor(section: Section): Map<string, string> {
  const files = [join(ROOT, section.module), ...(section.extra ? [join(ROOT, section.extra.module)] : [])];
  const prog = tsProgram(
    SECTIONS.flatMap((s) => [join(ROOT, s.module), ...(s.extra ? [join(ROOT, s.extra.module)] : [])]),
  );
  const checker = prog.getTypeChecker();
  const out = new Map<string, string>();
  const roots: Array<[string, string]> = [[files[0]!, section.exportName]];
  if (section.extra) roots.push([files[1]!, section.extra.exportName]);
  for (const [file, exportName] of roots) {
    const sf = prog.getSourceFile(file);
    if (!sf) continue;
    const modSym = checker.getSymbolAtLocation(sf);
    if (!modSym) continue;
    const [head, ...rest] = exportName.split('.');
    let node: ts.Node | undefined;
    const exp = checker.getExportsOfModule(modSym).find((s) => s.name === head);
    if (exp) {
      const sym = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
      const d = sym.valueDeclaration ?? sym.declarations?.[0];
      if (d && ts.isVariableDeclaration(d)) node = d.initializer;
      else if (d && ts.isExportAssignment(d)) node = d.expression;
      if (node && ts.isIdentifier(node)) node = declarationOf(node, checker) ?? node;
    }
    for (const p of rest) {
      if (!node) break;
      while (
        node &&
        (ts.isAsExpression(node) || ts.isSatisfiesExpression(node) || ts.isParenthesizedExpression(node))
      ) {
        node = node.expression;
      }
      if (!node || !ts.isObjectLiteralExpression(node)) {
        node = undefined;
        break;
      }
      const prop = node.properties.find((q) => q.name?.getText() === p);
      node =
        prop && ts.isPropertyAssignment(prop)
          ? prop.initializer
          : prop && ts.isShorthandPropertyAssignment(prop)
            ? declarationOf(prop.name, checker)
            : undefined;
    }
    if (node) collectDescriptions(shapesOf(node, checker), checker, '', out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Rendering

interface Row {
  key: string;
  type: string;
  default: string;
  env: string;
  description: string;
}

function typeOf(s: Json): string {
  if (Array.isArray(s.enum)) {
    const vals = s.enum as unknown[];
    const bools = ['true', 'false'];
    if (bools.every((b) => vals.includes(b))) return 'boolean';
    return vals.map((v) => JSON.stringify(v)).join(' | ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  const any = (s.anyOf ?? s.oneOf) as Json[] | undefined;
  if (any) {
    const parts = [...new Set(any.map(typeOf))];
    // BoolLike: boolean | "true"/"false"/... strings.
    if (parts.includes('boolean')) return 'boolean';
    return parts.join(' | ');
  }
  const t = s.type;
  if (Array.isArray(t)) return t.join(' | ');
  if (t === 'array') return `${typeOf((s.items as Json) ?? {})}[]`;
  if (t === 'object') return s.properties ? 'object' : 'map';
  if (t === 'string' && s.format === 'uri') return 'URL';
  if (typeof t === 'string') return t;
  return 'any';
}

function constraintsOf(s: Json): string {
  const c: string[] = [];
  if (typeof s.minimum === 'number' && s.minimum !== 0 && s.minimum > -9007199254740991)
    c.push(`≥ ${s.minimum}`);
  if (typeof s.maximum === 'number' && s.maximum < 9007199254740991) c.push(`≤ ${s.maximum}`);
  if (typeof s.pattern === 'string') c.push(`pattern \`${s.pattern}\``);
  return c.length ? ` (${c.join(', ')})` : '';
}

/** Defaults computed from the machine (the home directory) are shown portably. */
const portable = (v: string) =>
  homedir().length > 1 && v.startsWith(`${homedir()}/`) ? `~${v.slice(homedir().length)}` : v;

function fmtDefault(v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string') return v === '' ? '`""`' : `\`${portable(v)}\``;
  if (v && typeof v === 'object') {
    const json = JSON.stringify(v);
    // Whole nested defaults are spelled out on their own rows; short lists read well inline.
    return Array.isArray(v) || json.length <= 2 ? `\`${json}\`` : '';
  }
  return `\`${JSON.stringify(v)}\``;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function rowsOf(
  schema: Json,
  defaults: unknown,
  prefix: string,
  envByKey: Map<string, string[]>,
  docs: Map<string, string>,
  out: Row[],
) {
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  for (const [name, sub] of Object.entries(props)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const d =
      defaults && typeof defaults === 'object' ? (defaults as Record<string, unknown>)[name] : undefined;
    const docKey = key.replace(/\[\]|\.<name>/g, '');
    const nested = sub.type === 'object' && sub.properties;
    const items = sub.type === 'array' ? (sub.items as Json | undefined) : undefined;
    const nestedItems = items?.type === 'object' && items.properties;
    // A map of objects (`flavors: {gpu: {cpu: 8}}`): its entries' keys under `<name>`.
    const values =
      sub.type === 'object' && !sub.properties ? (sub.additionalProperties as Json | undefined) : undefined;
    const nestedValues = values?.type === 'object' && values.properties;
    out.push({
      key: `\`${key}\``,
      type: typeOf(sub) + constraintsOf(sub),
      // The schema's own default is in the form a user writes ("1s"); the parsed one is what the
      // code uses after transforms (1000). Prefer the first, fall back to the second.
      default: nested
        ? ''
        : required.has(name) && d === undefined
          ? '**required**'
          : fmtDefault(sub.default ?? d),
      env: (envByKey.get(key) ?? []).map((e) => `\`${e}\``).join(', '),
      description: docs.get(docKey) ?? '',
    });
    if (nested) rowsOf(sub, d, key, envByKey, docs, out);
    if (nestedItems) rowsOf(items, undefined, `${key}[]`, envByKey, docs, out);
    if (nestedValues) rowsOf(values, undefined, `${key}.<name>`, envByKey, docs, out);
  }
}

export async function renderSection(section: Section): Promise<string> {
  const head = `## ${section.title}\n\n${section.intro}\n\n`;
  const mod = await importModule(section.module);
  if ('missing' in mod) {
    return `${head}_Not available in this build: \`${section.module}\` does not exist yet. Regenerate this file with \`make docs\` once it does._\n`;
  }
  let schema = pick(mod, section.exportName) as z.ZodObject | undefined;
  if (!(schema instanceof z.ZodObject)) {
    return `${head}_\`${section.module}\` exports no \`${section.exportName}\` schema._\n`;
  }
  let env = (section.envExport ? pick(mod, section.envExport) : undefined) as
    | Record<string, string>
    | undefined;
  if (section.extra) {
    const extra = await importModule(section.extra.module);
    if (!('missing' in extra)) {
      const shape = pick(extra, section.extra.exportName) as z.ZodRawShape | undefined;
      if (shape) schema = schema.extend(shape);
      const e2 = section.extraEnv
        ? (pick(extra, section.extraEnv.exportName) as Record<string, string> | undefined)
        : undefined;
      env = { ...e2, ...env };
    }
  }
  const aliases = (section.aliasesExport ? pick(mod, section.aliasesExport) : undefined) as
    | Record<string, string>
    | undefined;
  const envByKey = new Map<string, string[]>();
  for (const [name, key] of Object.entries(env ?? {}))
    envByKey.set(key, [...(envByKey.get(key) ?? []), name]);

  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Json;
  const parsed = schema.safeParse({});
  const defaults = parsed.success ? parsed.data : undefined;
  const rows: Row[] = [];
  rowsOf(json, defaults, '', envByKey, descriptionsFor(section), rows);

  const lines = [
    '| Key | Type | Default | Environment | Description |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) => `| ${r.key} | ${cell(r.type)} | ${cell(r.default)} | ${r.env} | ${cell(r.description)} |`,
    ),
  ];
  let aliasText = '';
  if (aliases && Object.keys(aliases).length > 0) {
    aliasText = `\nAlso accepted (older names → key): ${Object.entries(aliases)
      .map(([a, k]) => `\`${a}\` → \`${k}\``)
      .join(', ')}.\n`;
  }
  return `${head}${lines.join('\n')}\n${aliasText}`;
}

/** Variables some defaults are computed from; unset while the modules load, so the output is the same everywhere. */
const MACHINE_ENV = ['XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_CONFIG_HOME'];

export async function renderConfigReference(): Promise<string> {
  const saved = MACHINE_ENV.map((k) => [k, process.env[k]] as const);
  for (const k of MACHINE_ENV) delete process.env[k];
  try {
    return await render();
  } finally {
    for (const [k, v] of saved) if (v !== undefined) process.env[k] = v;
  }
}

async function render(): Promise<string> {
  const parts = [
    '# Configuration reference',
    '',
    '<!-- Generated by scripts/docs/config-reference.ts from the zod schemas; do not edit by hand. Run `make docs`. -->',
    '',
    'Every command reads a YAML file and environment variables (environment over file over defaults;',
    'command-line flags over both). Keys match without regard to case, `_` or `-`, so the interLink 0.6',
    'spellings (`InterlinkURL`, `SidecarPort`, `VKTokenFile`, `Resources.CPU`) and ours (`interlinkUrl`)',
    'name the same setting. An unknown key is logged as a warning; an invalid value stops start-up with',
    'a message naming the key. Booleans also accept `"true"`/`"false"`/`"1"`/`"0"`/`"yes"`/`"no"`.',
    'Nested keys are YAML mappings (`auth.oidc.issuer` is `auth: {oidc: {issuer: ...}}`); `[]` marks',
    'the fields of list items, `<name>` the entries of a map you name yourself.',
    '',
  ];
  for (const s of SECTIONS) parts.push(await renderSection(s));
  return `${parts.join('\n').trimEnd()}\n`;
}

async function cli(argv: string[]): Promise<number> {
  const text = await renderConfigReference();
  if (argv.includes('--write')) {
    writeFileSync(OUTPUT, text);
    process.stderr.write(`wrote ${OUTPUT}\n`);
  } else if (argv.includes('--check')) {
    let current = '';
    try {
      current = readFileSync(OUTPUT, 'utf8');
    } catch {}
    if (current !== text) {
      process.stderr.write(
        `${OUTPUT} is stale: run \`make docs\` (node scripts/docs/config-reference.ts --write)\n`,
      );
      return 1;
    }
  } else {
    process.stdout.write(text);
  }
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cli(process.argv.slice(2));
}
