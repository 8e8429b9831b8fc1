/**
 * What a request says about caching, from `x-switchyard-cache` and `Cache-Control`
 * (docs/caching.md): whether a stored answer may be served, whether the answer may be stored, how
 * old a served answer may be, and whether the request opts in where its group does not cache.
 */
import { GatewayError } from '../gateway/errors.js';

export interface CacheDirective {
  /** A stored answer may be served. */
  read: boolean;
  /** The answer may be stored. */
  write: boolean;
  /** A served answer must be at most this old (ms); Infinity = any age within its TTL. */
  maxAgeMs: number;
  /** `x-switchyard-cache: on`: cache this request even if its group does not. */
  optIn: boolean;
  /** `Cache-Control: only-if-cached`: answer from the cache or not at all (504, as HTTP caches do). */
  onlyIfCached: boolean;
  /** Whether the client said anything about caching (then the response says what was done). */
  explicit: boolean;
}

/** A request that says nothing about caching: the group's settings decide. */
export const NO_DIRECTIVE: CacheDirective = Object.freeze({ read: true, write: true, maxAgeMs: Infinity, optIn: false, onlyIfCached: false, explicit: false });

const SWITCHYARD_VALUES = ['on', 'refresh', 'bypass'] as const;

/**
 * Reads the two headers. `x-switchyard-cache` is ours, so an unknown value is a 400;
 * `Cache-Control` follows HTTP: directive names are case-insensitive, and unknown or malformed
 * directives are ignored. `no-store` / `bypass` neither serve nor store; `no-cache` / `refresh`
 * skip the lookup and store the fresh answer; `max-age=N` serves only answers at most N seconds old;
 * `only-if-cached` answers from the cache or with a 504, never from the upstream.
 */
export function cacheDirective(switchyard: string | string[] | undefined, cacheControl: string | string[] | undefined): CacheDirective {
  if (switchyard === undefined && cacheControl === undefined) return NO_DIRECTIVE;
  const directive: CacheDirective = { read: true, write: true, maxAgeMs: Infinity, optIn: false, onlyIfCached: false, explicit: true };
  if (switchyard !== undefined) {
    const value = (Array.isArray(switchyard) ? switchyard.join(',') : switchyard).trim().toLowerCase();
    switch (value) {
      case 'on':
        directive.optIn = true;
        break;
      case 'refresh':
        directive.read = false;
        break;
      case 'bypass':
        directive.read = false;
        directive.write = false;
        break;
      default:
        throw new GatewayError('invalid_request', `The x-switchyard-cache header must be one of ${SWITCHYARD_VALUES.join(', ')}; got ${JSON.stringify(value.slice(0, 40))}.`);
    }
  }
  if (cacheControl !== undefined) applyCacheControl(directive, Array.isArray(cacheControl) ? cacheControl.join(',') : cacheControl);
  return directive;
}

function applyCacheControl(directive: CacheDirective, header: string): void {
  for (const part of header.split(',')) {
    const [rawName = '', rawValue] = part.split('=', 2);
    const name = rawName.trim().toLowerCase();
    if (name === 'no-store') {
      directive.read = false;
      directive.write = false;
    } else if (name === 'no-cache') {
      directive.read = false;
    } else if (name === 'only-if-cached') {
      directive.onlyIfCached = true;
    } else if (name === 'max-age' && rawValue !== undefined) {
      const value = rawValue.trim().replace(/^"(.*)"$/, '$1');
      if (/^\d+$/.test(value)) directive.maxAgeMs = Math.min(directive.maxAgeMs, Number(value) * 1000);
    }
  }
}

/** What `x-switchyard-cache` says when no stored answer was served. */
export function missStatus(directive: CacheDirective): 'MISS' | 'REFRESH' | 'BYPASS' {
  if (!directive.write) return 'BYPASS';
  return directive.read ? 'MISS' : 'REFRESH';
}
