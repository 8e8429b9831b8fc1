/**
 * `${VAR}` and `${VAR:-default}` interpolation over a parsed YAML tree. Working on parsed values
 * (not the file text) means an env value can never inject YAML structure.
 */

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$/g;

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
      if (node.replace(PATTERN, '').includes('${')) malformed.push({ path, text: node });
      const names = new Set<string>();
      const value = interpolateString(node, env, names);
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

/** A string that interpolates to nothing at all becomes undefined: the key counts as unset. */
function interpolateString(text: string, env: NodeJS.ProcessEnv, missing: Set<string>): string | undefined {
  if (!text.includes('$')) return text;
  const result = text.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (match === '$$') return '$';
    const value = env[name!];
    if (value !== undefined && value !== '') return value;
    if (fallback !== undefined) return fallback;
    missing.add(name!);
    return '';
  });
  return result === '' && text !== '' ? undefined : result;
}
