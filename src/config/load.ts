/** Loads, interpolates and validates a configuration file into a Config. */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';
import { interpolate } from './interpolate.js';

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

export interface LoadedConfig {
  config: Config;
  /** Where it came from: a file path, or "embedded default". */
  source: string;
  warnings: string[];
}

export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError(path, [reason]);
  }
  return parseConfigText(text, path, env);
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const shielded = shieldReferences(text);
  const doc = parseDocument(shielded.text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(source, doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`));
  }
  const raw: unknown = shielded.restore(doc.toJS() ?? {});
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(source, ['the file must hold a mapping (key: value pairs) at the top level']);
  }
  const { value, missing } = interpolate(raw, env);
  const warnings = missing.map((name) => `environment variable ${name} is not set; its value is empty`);
  return { config: validateConfig(value, source), source, warnings: [...warnings, ...notYetInEffect(raw)] };
}

/**
 * Inside a YAML flow collection (`auth: { master_key: ${KEY} }`) the braces of `${...}` are flow
 * indicators and break the parse. References are swapped for inert placeholders of the same length
 * (so YAML error columns stay right) before parsing, and put back in the parsed strings, ready for
 * interpolation.
 */
const REFERENCE = /\$+\{[^{}\n]*\}/g;
const MARK = '\uE000';
const PAD = '\uE001';
const FIRST_INDEX = 0xe002;
const PLACEHOLDER = /\uE000([\uE002-\uF8FF])\uE001*/g;

function shieldReferences(text: string): { text: string; restore: (tree: unknown) => unknown } {
  const references: string[] = [];
  const shielded = text.replace(REFERENCE, (reference) => {
    if (FIRST_INDEX + references.length > 0xf8ff) return reference;
    references.push(reference);
    return MARK + String.fromCharCode(FIRST_INDEX + references.length - 1) + PAD.repeat(reference.length - 2);
  });
  if (references.length === 0) return { text, restore: (tree) => tree };
  const restoreString = (value: string): string =>
    value.replace(PLACEHOLDER, (match, index: string) => references[index.charCodeAt(0) - FIRST_INDEX] ?? match);
  const restore = (node: unknown): unknown => {
    if (typeof node === 'string') return restoreString(node);
    if (Array.isArray(node)) return node.map(restore);
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([key, value]) => [restoreString(key), restore(value)]));
    }
    return node;
  };
  return { text: shielded, restore };
}

export function validateConfig(value: unknown, source: string): Config {
  const result = configSchema.safeParse(value);
  if (!result.success) throw new ConfigError(source, result.error.issues.map(formatIssue));
  return result.data;
}

/** `models.smart.targets[1].provider: unknown provider "opnai"`. */
export function formatIssue(issue: z.core.$ZodIssue): string {
  const path = formatPath(issue.path);
  let message = issue.message.replace(/^Invalid (input|option): /, '');
  if (issue.code === 'unrecognized_keys') message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
  // A bad record key (e.g. a provider id): zod wraps the key schema's own message.
  if (issue.code === 'invalid_key' && issue.issues[0]) message = issue.issues[0].message;
  return path ? `${path}: ${message}` : message;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

/** Keys the schema accepts for forward compatibility but this version does not act on yet. */
function notYetInEffect(raw: object): string[] {
  const warnings: string[] = [];
  const providers = (raw as { providers?: Record<string, { timeouts?: { connect_ms?: unknown } }> }).providers ?? {};
  for (const [id, provider] of Object.entries(providers)) {
    if (provider && typeof provider === 'object' && provider.timeouts?.connect_ms !== undefined) {
      warnings.push(`providers.${id}.timeouts.connect_ms: connect timeouts are gateway-wide (upstream.timeouts.connect_ms); ignored here`);
    }
  }
  return warnings;
}
