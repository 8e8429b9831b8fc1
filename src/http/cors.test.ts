import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { isForeignOrigin } from './cors.js';

const request = (headers: Record<string, string>, method = 'POST') => ({ method, headers }) as unknown as FastifyRequest;

describe('isForeignOrigin (a gateway without auth)', () => {
  it('lets clients that are not browsers through (no Origin), and reads never refused', () => {
    expect(isForeignOrigin(request({ host: 'localhost:8080' }), [], '0.0.0.0')).toBe(false);
    expect(isForeignOrigin(request({ host: 'localhost:8080', origin: 'https://evil.example' }, 'GET'), [], '0.0.0.0')).toBe(false);
  });

  it('refuses another origin, and Origin: null, unless server.cors.origins lists it', () => {
    expect(isForeignOrigin(request({ host: 'localhost:8080', origin: 'https://evil.example' }), [], '0.0.0.0')).toBe(true);
    expect(isForeignOrigin(request({ host: 'localhost:8080', origin: 'null' }), [], '0.0.0.0')).toBe(true);
    expect(isForeignOrigin(request({ host: 'localhost:8080', origin: 'https://App.example.com' }), ['https://app.example.com'], '0.0.0.0')).toBe(false);
    expect(isForeignOrigin(request({ host: 'localhost:8080', origin: 'https://any.example' }), ['*'], '0.0.0.0')).toBe(false);
  });

  it("lets the gateway's own origin through when the Host is this machine, in any case and behind a proxy that says so", () => {
    expect(isForeignOrigin(request({ host: 'LocalHost:8080', origin: 'http://localhost:8080' }), [], '0.0.0.0')).toBe(false);
    expect(isForeignOrigin(request({ host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080' }), [], '0.0.0.0')).toBe(false);
    expect(isForeignOrigin(request({ host: '[::1]:8080', origin: 'http://[::1]:8080' }), [], '0.0.0.0')).toBe(false);
    expect(isForeignOrigin(request({ host: 'gw.internal:8080', origin: 'http://gw.internal:8080' }), [], 'gw.internal')).toBe(false);
    // nginx's default proxy_pass sends Host: 127.0.0.1:<port>; the browser says the page is the gateway's own.
    expect(isForeignOrigin(request({ host: '127.0.0.1:8080', origin: 'https://gw.example.com', 'sec-fetch-site': 'same-origin' }), [], '0.0.0.0')).toBe(false);
  });

  it('refuses a site re-pointed at this machine (DNS rebinding): same-origin to the browser, but its Host is not ours', () => {
    expect(isForeignOrigin(request({ host: 'rebind.attacker.example:8080', origin: 'http://rebind.attacker.example:8080' }), [], '0.0.0.0')).toBe(true);
    expect(isForeignOrigin(request({ host: 'rebind.attacker.example:8080', origin: 'http://rebind.attacker.example:8080', 'sec-fetch-site': 'same-origin' }), [], '0.0.0.0')).toBe(true);
  });
});
