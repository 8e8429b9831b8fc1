/**
 * `${VAR}` and `${VAR:-default}` interpolation over a parsed YAML tree. Working on parsed values
 * (not the file text) means an env value can never inject YAML structure.
 */

export interface InterpolationResult {
  value: unknown;
  /** Variables referenced without a default and not set (they became empty). */
  missing: string[];
  /**
   * Where those variables were used: the path of each value (in the interpolated tree) that
   * referenced one, with the variables. A value that came out empty was removed, so its path is
   * where it would have been. Lets a validation error at that path name the variable.
   */
  unset: UnsetReference[];
  /** Values with a `${` that starts no reference (`${UNTERMINATED`, `${1X}`): a typo, or a `$${` meant. */
  malformed: MalformedReference[];
}

export interface MalformedReference {
  path: (string | number)[];
  text: string;
}

export interface UnsetReference {
  path: (string | number)[];
  names: string[];
}

export function interpolate(tree: unknown, env: NodeJS.ProcessEnv): InterpolationResult {
  const missing = new Set<string>();
  const unset: UnsetReference[] = [];
  const malformed: MalformedReference[] = [];
  const walk = (node: unknown, path: (string | number)[]): unknown => {
    if (typeof node === 'string') {
      const names = new Set<string>();
      const value = interpolateString(node, env, names);
      if (value === MALFORMED) {
        malformed.push({ path, text: node });
        return node;
      }
      if (names.size > 0) {
        for (const name of names) missing.add(name);
        unset.push({ path, names: [...names] });
      }
      return value;
    }
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      for (const item of node) {
        const replaced = walk(item, [...path, out.length]);
        if (replaced !== undefined) out.push(replaced);
      }
      return out;
    }
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const replaced = walk(value, [...path, key]);
        if (replaced !== undefined) out[key] = replaced;
      }
      return out;
    }
    return node;
  };
  return { value: walk(tree, []), missing: [...missing], unset, malformed };
}

const MALFORMED = Symbol('malformed');
const NAME = /[A-Za-z_][A-Za-z0-9_]*/y;

/** A string that interpolates to nothing at all becomes undefined: the key counts as unset. */
function interpolateString(text: string, env: NodeJS.ProcessEnv, missing: Set<string>): string | undefined | typeof MALFORMED {
  if (!text.includes('$')) return text;
  const expanded = expand(text, 0, env, missing, false);
  if (expanded === undefined) return MALFORMED;
  return expanded.text === '' && text !== '' ? undefined : expanded.text;
}

/**
 * Expands `text` from `start` to its end, or, for a default (`inDefault`), to the `}` that closes
 * it: a default may hold references of its own (`${PRIMARY:-${BACKUP}}`) and `$$`. Undefined when
 * a `${` starts no reference or is never closed.
 */
function expand(text: string, start: number, env: NodeJS.ProcessEnv, missing: Set<string>, inDefault: boolean): { text: string; end: number } | undefined {
  let out = '';
  let i = start;
  while (i < text.length) {
    const ch = text[i];
    if (inDefault && ch === '}') return { text: out, end: i };
    if (ch !== '$' || (text[i + 1] !== '$' && text[i + 1] !== '{')) {
      out += ch;
      i++;
      continue;
    }
    if (text[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    NAME.lastIndex = i + 2;
    const name = NAME.exec(text)?.[0];
    if (name === undefined) return undefined;
    let at = i + 2 + name.length;
    // A default's own unset variables count only when the default is used.
    let fallback: { text: string; missing: Set<string> } | undefined;
    if (text.startsWith(':-', at)) {
      const ownMissing = new Set<string>();
      const inner = expand(text, at + 2, env, ownMissing, true);
      if (inner === undefined) return undefined;
      fallback = { text: inner.text, missing: ownMissing };
      at = inner.end;
    }
    if (text[at] !== '}') return undefined;
    const value = env[name];
    if (value !== undefined && value !== '') out += value;
    else if (fallback) {
      out += fallback.text;
      for (const unset of fallback.missing) missing.add(unset);
    } else missing.add(name);
    i = at + 1;
  }
  return inDefault ? undefined : { text: out, end: i };
}
