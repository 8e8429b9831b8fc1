/**
 * CORS for browser clients (`server.cors.origins`; off when empty): the allowed origins get
 * `Access-Control-Allow-Origin` on every answer, errors included, and preflight `OPTIONS` requests
 * are answered 204 before authentication (a preflight carries no key). Credentials are keys in
 * headers, never cookies, so no `Access-Control-Allow-Credentials`; every response header may be
 * read (`Access-Control-Expose-Headers: *`: x-request-id, x-switchyard-*, x-ratelimit-*).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** How long a browser may keep a preflight's answer. */
const PREFLIGHT_MAX_AGE_S = 600;
const METHODS = 'GET, POST, PUT, PATCH, DELETE, OPTIONS';
/** Header names as a preflight lists them: tokens separated by commas. */
const HEADER_LIST = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$/;

export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const any = origins.includes('*');
  // Browsers send the scheme and host in lower case.
  const allowed = new Set(origins.map((origin) => origin.toLowerCase()));
  /** The Access-Control-Allow-Origin value for this origin, or undefined when it is not allowed. */
  const allowOrigin = (origin: string): string | undefined => (any ? '*' : allowed.has(origin) ? origin : undefined);

  app.addHook('onRequest', (request, reply, done) => {
    const origin = request.headers.origin;
    if (origin !== undefined) {
      // The answer depends on the Origin when only some origins are allowed: caches must know.
      if (!any) reply.header('vary', 'Origin');
      const allow = allowOrigin(origin);
      if (allow !== undefined) {
        reply.header('access-control-allow-origin', allow);
        reply.header('access-control-expose-headers', '*');
      }
    }
    done();
  });

  app.options('*', (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    const method = request.headers['access-control-request-method'];
    if (origin === undefined || method === undefined || allowOrigin(origin) === undefined) {
      // Not a preflight this gateway allows: what any other unknown route gets.
      return reply.callNotFound();
    }
    const asked = request.headers['access-control-request-headers'];
    reply.header('access-control-allow-methods', METHODS);
    if (typeof asked === 'string' && HEADER_LIST.test(asked.trim())) reply.header('access-control-allow-headers', asked.trim());
    reply.header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S));
    return reply.code(204).send();
  });
}

/**
 * Whether a request that changes something comes from a web page of another origin that CORS does
 * not allow. A browser sends such a page's `text/plain` POST without a preflight (and without a
 * key, which would need one): harmless where a key is needed, but on a gateway without auth any
 * web site could spend its provider keys. Clients that are not browsers send no Origin.
 *
 * A page of the gateway's own origin (same host name, or the browser's `Sec-Fetch-Site:
 * same-origin`) is let through only when the request's Host is this machine (`localhost`, a
 * loopback address) or `server.host`: a site whose name an attacker re-points at 127.0.0.1 (DNS
 * rebinding) is "same-origin" to the browser, but its Host names the attacker's domain.
 */
export function isForeignOrigin(request: FastifyRequest, origins: readonly string[], serverHost: string): boolean {
  const origin = request.headers.origin;
  if (origin === undefined || request.method === 'GET' || request.method === 'HEAD' || request.method === 'OPTIONS') return false;
  const lower = origin.toLowerCase();
  if (origins.includes('*') || origins.some((allowed) => allowed.toLowerCase() === lower)) return false;
  const host = (request.headers.host ?? '').toLowerCase();
  let sameOrigin = request.headers['sec-fetch-site'] === 'same-origin';
  try {
    sameOrigin ||= new URL(lower).host === host;
  } catch {
    return true;
  }
  return !(sameOrigin && isOwnHost(host, serverHost));
}

/** A Host header naming this machine: localhost, a loopback address, or the configured listen host. */
function isOwnHost(host: string, serverHost: string): boolean {
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(name) || name === '[::1]' || (serverHost !== '0.0.0.0' && serverHost !== '::' && name === serverHost.toLowerCase());
}
