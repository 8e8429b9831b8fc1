/** Response headers that tell the client how the gateway served a request (DESIGN.md §4). */
import type { RequestContext } from '../gateway/context.js';

export function gatewayHeaders(rc: RequestContext): Record<string, string> {
  const headers: Record<string, string> = { 'x-switchyard-attempts': String(rc.attempts) };
  if (rc.providerId !== undefined) headers['x-switchyard-provider'] = rc.providerId;
  if (rc.upstreamModel !== undefined) headers['x-switchyard-model'] = headerSafe(rc.upstreamModel);
  if (rc.fallbackGroup !== undefined) headers['x-switchyard-fallback-group'] = headerSafe(rc.fallbackGroup);
  if (rc.routeRule !== undefined) headers['x-switchyard-route-rule'] = headerSafe(rc.routeRule);
  return headers;
}

/** Model names can come from the client (direct addressing): keep header values printable ASCII. */
function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}
