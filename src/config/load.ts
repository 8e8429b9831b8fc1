/** Loads, interpolates and validates a configuration file into a Config. */
import { readFile } from 'node:fs/promises';
import { isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type YAMLError } from 'yaml';
import { z } from 'zod';
import { configSchema, referenceProblems, type Config } from './schema.js';
import { interpolate, type UnsetReference } from './interpolate.js';
import { formatIssue, formatPath, isSecretPath } from './issue-words.js';

export { formatIssue, formatPath } from './issue-words.js';

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
    throw new ConfigError(path, [readProblem(path, err as NodeJS.ErrnoException)]);
  }
  return parseConfigText(text, path, env);
}

function readProblem(path: string, err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'file not found';
    case 'EISDIR':
      return `${path} is a directory, not a config file`;
    case 'ENOTDIR':
      return `file not found (a part of ${path} is a file, not a directory)`;
    case 'EACCES':
    case 'EPERM':
      return `${path} cannot be read: permission denied`;
    default:
      return `${path} cannot be read: ${err.message}`;
  }
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const shielded = shieldReferences(text);
  // merge: YAML 1.1's `<<: *anchor`, as in docker-compose files.
  const doc = parseDocument(shielded.text, { prettyErrors: true, merge: true });
  if (doc.errors.length > 0) throw new ConfigError(source, yamlProblems(doc.errors, shielded));
  let tree: unknown;
  try {
    tree = doc.toJS();
  } catch (err) {
    // The yaml library refuses alias bombs ("Excessive alias count ...") here.
    throw new ConfigError(source, [`YAML: ${printable((err as Error).message)}`]);
  }
  const raw: unknown = shielded.restore(tree ?? {});
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(source, ['the file must hold a mapping (key: value pairs) at the top level']);
  }
  // Top-level `x-` keys are the file's own (anchors to merge from, notes), as in docker-compose files.
  for (const key of Object.keys(raw)) if (key.startsWith('x-')) delete (raw as Record<string, unknown>)[key];
  const { value, missing, unset, malformed } = interpolate(raw, env);
  if (malformed.length > 0) {
    const places = malformed.map(({ path }) => formatPath(path));
    const problems = malformed.map(({ path, text }, i) => {
      const shown = isSecretPath(path) ? 'the value' : JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
      return `${places[i]}: ${shown} has a \${ that starts no \${NAME} or \${NAME:-default} reference (write $\${ for a literal \${)`;
    });
    // The rest of the file's problems too, all at once, as without the bad reference.
    try {
      validateConfig(value, source, unset);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems.filter((problem) => !places.some((place) => [':', '.', '['].some((next) => problem.startsWith(place + next)))));
    }
    throw new ConfigError(source, problems);
  }
  const warnings = missing.map((name) => `environment variable ${name} is not set; its value is empty`);
  return { config: validateConfig(value, source, unset), source, warnings: [...warnings, ...notYetInEffect(raw)] };
}

/** Control characters (a binary file's bytes quoted in a message) as `\uXXXX`, so a message cannot drive the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The YAML parser's errors, one line each: what is wrong and where, in words. */
function yamlProblems(errors: readonly YAMLError[], shielded: Shielded): string[] {
  const duplicates = errors.some((e) => e.code === 'DUPLICATE_KEY') ? duplicateKeys(shielded) : new Map<number, DuplicateKey>();
  return errors.map((error) => {
    const at = error.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    if (error.code === 'MULTIPLE_DOCS') {
      return `YAML: the file holds several YAML documents (---${at ? ` at line ${at.line}` : ''}); Switchyard reads one`;
    }
    if (error.code === 'DUPLICATE_KEY') {
      const duplicate = duplicates.get(error.pos[0]);
      if (duplicate) {
        const within = duplicate.parent ? ` in ${duplicate.parent}` : '';
        return `YAML: duplicate key ${JSON.stringify(duplicate.key)}${within}${where} (first given at line ${duplicate.firstLine}); a key may appear once in a mapping`;
      }
      return `YAML: duplicate key${where}; a key may appear once in a mapping`;
    }
    // The first line of the parser's message; its excerpt of the file follows the colon that ends it.
    return `YAML: ${printable(error.message.split('\n')[0]!.replace(/:\s*$/, ''))}`;
  });
}

interface DuplicateKey {
  key: string;
  /** The path of the mapping holding it (`server`, `models.smart`); '' at the top level. */
  parent: string;
  firstLine: number;
}

/** Every repeated key of the file, by the offset of its repetition (what the parser's error points at). */
function duplicateKeys(shielded: Shielded): Map<number, DuplicateKey> {
  const lines = new LineCounter();
  const doc = parseDocument(shielded.text, { uniqueKeys: false, lineCounter: lines });
  const found = new Map<number, DuplicateKey>();
  const keyText = (node: unknown): string | undefined => (isScalar(node) ? shielded.restoreString(String(node.value)) : undefined);
  visit(doc, {
    Map(_, map, ancestors) {
      const first = new Map<string, number>();
      for (const pair of map.items) {
        const key = keyText(pair.key);
        const offset = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
        if (key === undefined || offset === undefined) continue;
        const earlier = first.get(key);
        if (earlier === undefined) first.set(key, offset);
        else found.set(offset, { key, parent: formatPath(pathOf(doc, [...ancestors, map], keyText)), firstLine: lines.linePos(earlier).line });
      }
    },
  });
  return found;
}

/** The config path of a node, from its ancestors as `visit` gives them (the node itself last). */
function pathOf(doc: Document, chain: readonly unknown[], keyText: (node: unknown) => string | undefined): (string | number)[] {
  const path: (string | number)[] = [];
  chain.forEach((node, i) => {
    if (node === doc) return;
    if (isPair(node)) path.push(keyText(node.key) ?? '?');
    else if (isSeq(node) && i + 1 < chain.length) path.push(node.items.indexOf(chain[i + 1] as never));
  });
  return path;
}

/**
 * Inside a YAML flow collection (`auth: { master_key: ${KEY} }`) the braces of `${...}` are flow
 * indicators and break the parse. References are swapped for inert placeholders of the same length
 * (so YAML error columns stay right) before parsing, and put back in the parsed strings, ready for
 * interpolation.
 */
// A name first: a `${` left open (`"${KEY" }`) must not reach the flow map's own closing brace.
const REFERENCE = /\$+\{[A-Za-z_][A-Za-z0-9_]*(?::-[^{}\n]*)?\}/g;
const MARK = '\uE000';
const PAD = '\uE001';
const FIRST_INDEX = 0xe002;
const PLACEHOLDER = /\uE000([\uE002-\uF8FF])\uE001*/g;

interface Shielded {
  text: string;
  restore: (tree: unknown) => unknown;
  restoreString: (value: string) => string;
}

function shieldReferences(text: string): Shielded {
  const references: string[] = [];
  const shielded = text.replace(REFERENCE, (reference) => {
    if (FIRST_INDEX + references.length > 0xf8ff) return reference;
    references.push(reference);
    return MARK + String.fromCharCode(FIRST_INDEX + references.length - 1) + PAD.repeat(reference.length - 2);
  });
  if (references.length === 0) return { text, restore: (tree) => tree, restoreString: (value) => value };
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
  return { text: shielded, restore, restoreString };
}

/**
 * Validates an interpolated tree. `unset` (from `interpolate`) says where unset variables were
 * used, so that a problem at such a path names the variable: `providers.az.base_url: is required
 * (expected a string) (AZURE_URL is not set)`.
 */
export function validateConfig(value: unknown, source: string, unset: readonly UnsetReference[] = []): Config {
  // reportInput: the messages quote the value received (`expected a whole number, got 1.5`).
  const result = configSchema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issues: z.core.$ZodIssue[] = [...result.error.issues];
  // The schema's cross-reference checks run only once everything else is valid: check the
  // references of the raw tree too, so a provider typo shows up along with the other problems.
  const reported = new Set(issues.map((issue) => formatPath(issue.path)));
  for (const problem of referenceProblems(value)) {
    if (!reported.has(formatPath(problem.path))) issues.push({ code: 'custom', path: problem.path, message: problem.message });
  }
  const explained = new Set<UnsetReference>();
  const problems = issues.map((issue) => {
    const causes = issue.code === 'unrecognized_keys' ? [] : unset.filter((reference) => startsWith(reference.path, issue.path));
    for (const cause of causes) explained.add(cause);
    const names = [...new Set(causes.flatMap((cause) => cause.names))];
    return names.length > 0 ? `${formatIssue(issue)} (${notSet(names)})` : formatIssue(issue);
  });
  // Unset variables behind no problem of their own may still be the cause of one (e.g. a redis
  // backend that needs redis.url): list them after the problems.
  const others = unset.filter((reference) => !explained.has(reference));
  if (others.length > 0) {
    problems.push(`also, these environment variables are not set (their values came out empty): ${others.map((r) => `${r.names.join(', ')} (${formatPath(r.path)})`).join('; ')}`);
  }
  throw new ConfigError(source, problems);
}

function notSet(names: string[]): string {
  return names.length === 1 ? `${names[0]} is not set` : `${names.slice(0, -1).join(', ')} and ${names.at(-1)} are not set`;
}

function startsWith(path: readonly PropertyKey[], prefix: readonly PropertyKey[]): boolean {
  return prefix.length > 0 && prefix.length <= path.length && prefix.every((key, i) => key === path[i]);
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
