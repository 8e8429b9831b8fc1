/**
 * What a configuration reload (SIGHUP, POST /admin/config/reload) can apply in a running gateway: `providers`, `models` and
 * `routing` become a new model registry and router. Everything else is wired into long-lived
 * parts (the listener, storage and Redis connections, the cache store, metrics, tracing, the
 * SLA monitor, governance) and changes only with a restart; a reload names what it left as it was.
 */
import { sharesSemanticEntries } from '../cache/semantic-sharing.js';
import type { Config } from './schema.js';

/** What a reload did: what is served now and what waits for a restart, or why nothing changed. */
export type ReloadOutcome =
  | { applied: true; models: string[]; providers: string[]; unchanged: string[] }
  | { applied: false; problems: string[] };

/** The top-level sections a reload applies. */
export const RELOADABLE_SECTIONS = ['providers', 'models', 'routing'] as const;

/** Settings inside the reloadable sections that are still fixed at start-up. */
const FIXED_IN_RELOADABLE: ReadonlyArray<{ path: string; changed: (current: Config, next: Config) => boolean }> = [
  // Read once when the HTTP routes are registered.
  { path: 'routing.allow_client_overrides', changed: (current, next) => current.routing.allow_client_overrides !== next.routing.allow_client_overrides },
  // Semantic entries are shared through Redis only if that was on at start-up (cache/setup.ts).
  { path: 'models.*.cache.semantic (first semantic group)', changed: (current, next) => !sharesSemanticEntries(current) && sharesSemanticEntries(reloadedConfig(current, next)) },
];

/** What the reload leaves as it was, by path (empty: it applies the whole file). */
export function changesNeedingRestart(current: Config, next: Config): string[] {
  const reloadable: ReadonlySet<string> = new Set(RELOADABLE_SECTIONS);
  const sections = Object.keys({ ...current, ...next }) as (keyof Config)[];
  const paths: string[] = sections.filter((section) => !reloadable.has(section) && !sameValue(current[section], next[section]));
  for (const fixed of FIXED_IN_RELOADABLE) if (fixed.changed(current, next)) paths.push(fixed.path);
  return paths;
}

/**
 * The configuration to run after a reload: the next file's reloadable sections on top of the
 * current configuration, with the settings fixed at start-up kept as they are.
 */
export function reloadedConfig(current: Config, next: Config): Config {
  return {
    ...current,
    providers: next.providers,
    models: next.models,
    routing: { ...next.routing, allow_client_overrides: current.routing.allow_client_overrides },
  };
}

/** Validated config values are plain JSON data: equal when their JSON is, key order included (the schema fixes it). */
function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
