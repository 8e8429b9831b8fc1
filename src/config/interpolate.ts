/**
 * `${VAR}` and `${VAR:-default}` interpolation over a parsed YAML tree. Working on parsed values
 * (not the file text) means an env value can never inject YAML structure.
 */

const PATTERN = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\$/g;

export interface InterpolationResult {
  value: unknown;
  /** Variables referenced without a default and not set (they became empty). */
  missing: string[];
}

export function interpolate(tree: unknown, env: NodeJS.ProcessEnv): InterpolationResult {
  const missing = new Set<string>();
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return interpolateString(node, env, missing);
    if (Array.isArray(node)) return node.map(walk).filter((item) => item !== undefined);
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const replaced = walk(value);
        if (replaced !== undefined) out[key] = replaced;
      }
      return out;
    }
    return node;
  };
  return { value: walk(tree), missing: [...missing] };
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
