/**
 * Routing hints from request headers:
 * - `x-switchyard-region: eu,us-east-1` — data residency: only targets tagged with (or inside) one
 *   of these regions are called. Always honoured: it only narrows.
 * - `x-switchyard-provider: <id>`, `x-switchyard-exclude-providers: a,b`,
 *   `x-switchyard-strategy: <name>` — pin, exclude, or pick a strategy; only when the operator
 *   allows client overrides (`routing.allow_client_overrides`), else 403.
 * - `x-switchyard-metadata: {"tier":"free"}` — string tags for routing rules and attribution.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { STRATEGIES } from '../config/routing-schema.js';
import { GatewayError } from '../gateway/errors.js';
import type { RouteConstraints } from '../routing/plan.js';
import type { RouteHints } from '../routing/router.js';
import { createStrategy, type Strategy, type StrategyName } from '../routing/strategies.js';

const NO_CONSTRAINTS: RouteConstraints = {};
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});
const MAX_METADATA_BYTES = 4096;

/** Strategies picked by a header: one shared instance per name (their state is the gateway's, not a request's). */
const strategies = new Map<StrategyName, Strategy>();

export function routeHints(headers: IncomingHttpHeaders, allowOverrides: boolean): RouteHints {
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const region = headers['x-switchyard-region'];
  const pin = headers['x-switchyard-provider'];
  const exclude = headers['x-switchyard-exclude-providers'];
  const strategy = headers['x-switchyard-strategy'];
  const metadata = headers['x-switchyard-metadata'];
  if (region === undefined && pin === undefined && exclude === undefined && strategy === undefined && metadata === undefined) {
    return { constraints: NO_CONSTRAINTS, metadata: NO_METADATA, header };
  }
  if (!allowOverrides && (pin !== undefined || exclude !== undefined || strategy !== undefined)) {
    const given = ['x-switchyard-provider', 'x-switchyard-exclude-providers', 'x-switchyard-strategy'].filter((name) => headers[name] !== undefined);
    throw new GatewayError('routing_override_not_allowed', `${given.join(', ')}: this gateway does not let clients steer routing (the operator can allow it with routing.allow_client_overrides: true).`);
  }
  const constraints: RouteConstraints = {};
  if (region !== undefined) constraints.regions = list(header('x-switchyard-region')!.toLowerCase(), 'x-switchyard-region');
  if (pin !== undefined) {
    const pinned = list(header('x-switchyard-provider')!, 'x-switchyard-provider');
    if (pinned.length > 1) throw new GatewayError('invalid_request', `x-switchyard-provider: pins one provider, got ${pinned.length} (${pinned.join(', ')}); use x-switchyard-exclude-providers to leave some out.`);
    constraints.pinProvider = pinned[0];
  }
  if (exclude !== undefined) constraints.excludeProviders = list(header('x-switchyard-exclude-providers')!, 'x-switchyard-exclude-providers');
  if (strategy !== undefined) constraints.strategy = strategyNamed(header('x-switchyard-strategy')!.trim());
  return { constraints, metadata: metadata === undefined ? NO_METADATA : parseMetadata(header('x-switchyard-metadata')!), header };
}

function list(value: string, name: string): string[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new GatewayError('invalid_request', `${name}: expected a comma-separated list, got an empty value.`);
  return items;
}

function strategyNamed(name: string): Strategy {
  if (!(STRATEGIES as readonly string[]).includes(name)) {
    throw new GatewayError('invalid_request', `x-switchyard-strategy: unknown strategy ${JSON.stringify(name)} (one of ${STRATEGIES.join(', ')}).`);
  }
  const known = name as StrategyName;
  let strategy = strategies.get(known);
  if (!strategy) strategies.set(known, (strategy = createStrategy(known)));
  return strategy;
}

/** A flat JSON object of string (or number / boolean, kept as text) tags. */
export function parseMetadata(text: string): Record<string, string> {
  if (Buffer.byteLength(text) > MAX_METADATA_BYTES) throw new GatewayError('invalid_request', `x-switchyard-metadata: at most ${MAX_METADATA_BYTES} bytes.`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GatewayError('invalid_request', 'x-switchyard-metadata: expected a JSON object such as {"tier":"free","feature":"search"}.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new GatewayError('invalid_request', 'x-switchyard-metadata: expected a JSON object of tags.');
  const tags: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string') tags[key] = value;
    else if (typeof value === 'number' || typeof value === 'boolean') tags[key] = String(value);
    else throw new GatewayError('invalid_request', `x-switchyard-metadata: tag ${JSON.stringify(key)} must be a string, number or boolean.`);
  }
  return tags;
}
