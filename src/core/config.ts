/**
 * Configuration: YAML file + environment variables, env over file over defaults.
 *
 * Keys are matched without regard to case, `_` or `-`, so the predecessor's CamelCase
 * keys (`InterlinkURL`, `SidecarPort`), their lower-case forms (`interlinkurl`) and our
 * camelCase (`interlinkUrl`) all name the same setting; `aliases` map older names
 * (`InterlinkAddress`) onto ours. Unknown keys warn; invalid values fail start-up with a
 * message naming the key, where it came from and what is accepted.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { invalidInput } from '../errors/index.ts';
import type { Logger } from './logger.ts';

export interface ConfigSpec {
  /** Environment variable → dotted canonical key (`INTERLINKPORT` → `interlinkPort`). */
  env?: Record<string, string>;
  /** Other accepted names (any case) → dotted canonical key. */
  aliases?: Record<string, string>;
}

/**
 * A ConfigSpec written as data: one row per setting (its dotted canonical key) with its
 * other names, `$NAME` for an environment variable and any other name for an alias in the
 * file. Settings with no other name have no row.
 */
export function configNames(rows: Record<string, readonly string[]>): Required<ConfigSpec> {
  const env: Record<string, string> = {};
  const aliases: Record<string, string> = {};
  for (const [key, names] of Object.entries(rows)) {
    for (const name of names) {
      if (name.startsWith('$')) env[name.slice(1)] = key;
      else aliases[name] = key;
    }
  }
  return { env, aliases };
}

export interface ConfigInput {
  /** YAML file to read; absent means defaults + env. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags: the highest precedence. Dotted canonical keys. */
  overrides?: Record<string, unknown>;
  logger?: Logger;
}

export const normalizeKey = (k: string) => k.toLowerCase().replace(/[_\-.\s]/g, '');

/** A boolean that also accepts the strings environment variables carry. */
export const BoolLike = z
  .union([z.boolean(), z.enum(['true', 'false', 'TRUE', 'FALSE', 'True', 'False', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === 'TRUE' || v === 'True' || v === '1' || v === 'yes');

/** A port number, from YAML (number) or env (string). */
export const Port = z.coerce.number().int().min(0).max(65535);

type AnyObject = z.ZodObject<z.ZodRawShape>;

/** The schema inside a wrapper (optional, default, nullable, ... or a pipe's input side). */
function wrapped(t: z.ZodType): z.ZodType | undefined {
  if (t instanceof z.ZodPipe) return t.in instanceof z.ZodType ? t.in : undefined;
  const def: object = t.def;
  const inner = 'innerType' in def ? def.innerType : undefined;
  return inner instanceof z.ZodType ? inner : undefined;
}

function unwrapObject(t: z.ZodType): AnyObject | undefined {
  let cur: z.ZodType = t;
  for (let i = 0; i < 5; i++) {
    if (cur instanceof z.ZodObject) return cur as AnyObject;
    const next = wrapped(cur);
    if (!next) return undefined;
    cur = next;
  }
  return undefined;
}

/** Rewrite raw keys to the schema's canonical names, recursively; collect unknown ones. */
function canonicalize(
  raw: unknown,
  schema: AnyObject,
  path: string,
  aliases: Map<string, string>,
  unknown: string[],
): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const shape = schema.shape as Record<string, z.ZodType>;
  const byNorm = new Map(Object.keys(shape).map((k) => [normalizeKey(k), k]));
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    const dotted = path ? `${path}.${key}` : key;
    const alias = aliases.get(normalizeKey(path ? `${path}.${key}` : key)) ?? aliases.get(normalizeKey(key));
    let canon = byNorm.get(normalizeKey(key));
    if (!canon && alias) {
      const parts = alias.split('.');
      if (parts.length === 1 || parts.slice(0, -1).join('.') === path) canon = parts[parts.length - 1];
    }
    if (!canon) {
      unknown.push(dotted);
      continue;
    }
    const child = unwrapObject(shape[canon]!);
    out[canon] = child
      ? canonicalize(value, child, path ? `${path}.${canon}` : canon, aliases, unknown)
      : value;
  }
  return out;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown) {
  const parts = dotted.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === null || typeof next !== 'object') cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidInput(`cannot read configuration file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw invalidInput(`configuration file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw invalidInput(`configuration file ${file} must be a YAML mapping`);
  return doc as Record<string, unknown>;
}

export function loadConfig<S extends AnyObject>(
  schema: S,
  spec: ConfigSpec,
  input: ConfigInput = {},
): z.output<S> {
  const env = input.env ?? process.env;
  const aliases = new Map(Object.entries(spec.aliases ?? {}).map(([k, v]) => [normalizeKey(k), v]));
  const unknown: string[] = [];
  const fromFile = input.file ? readConfigFile(input.file) : {};
  const merged = canonicalize(fromFile, schema, '', aliases, unknown) as Record<string, unknown>;
  const origin = new Map<string, string>();
  for (const [name, key] of Object.entries(spec.env ?? {})) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      setPath(merged, key, v);
      origin.set(key, `environment variable ${name}`);
    }
  }
  for (const [key, v] of Object.entries(input.overrides ?? {})) {
    if (v !== undefined) {
      setPath(merged, key, v);
      origin.set(key, 'command line');
    }
  }
  if (unknown.length > 0) {
    input.logger?.warn(
      { keys: unknown, file: input.file },
      `unknown configuration keys ignored: ${unknown.join(', ')}`,
    );
  }
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.');
    const from = origin.get(key) ?? (input.file ? `file ${input.file}` : 'defaults');
    const accepted = describeAccepted(issue);
    throw invalidInput(
      `invalid configuration: ${key || '(root)'} (from ${from}): ${issue.message}${accepted}`,
      key,
    );
  }
  return parsed.data;
}

function describeAccepted(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_value' && 'values' in issue)
    return ` (accepted: ${issue.values.map(String).join(', ')})`;
  if (issue.code === 'invalid_type')
    return ` (accepted: ${issue.expected === 'number' ? 'a number' : `a ${issue.expected}`})`;
  if (issue.code === 'too_small')
    return ` (accepted: ${issue.inclusive ? '>=' : '>'} ${String(issue.minimum)})`;
  if (issue.code === 'too_big')
    return ` (accepted: ${issue.inclusive ? '<=' : '<'} ${String(issue.maximum)})`;
  return '';
}
