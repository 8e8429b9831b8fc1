import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { STRATEGIES } from '../config/routing-schema.js';
import { GatewayError } from '../gateway/errors.js';
import { parseMetadata, routeHints } from './route-hints.js';

/** The GatewayError `run` throws (fails the test if it returns). */
function thrown(run: () => unknown): GatewayError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error('expected a GatewayError');
}

describe('routeHints', () => {
  it('narrows nothing without routing headers, sharing one empty result', () => {
    const first = routeHints({ 'content-type': 'application/json' }, false);
    const second = routeHints({}, true);
    expect(first.constraints).toEqual({});
    expect(first.metadata).toEqual({});
    expect(second.constraints).toBe(first.constraints);
    expect(second.metadata).toBe(first.metadata);
    expect(Object.isFrozen(first.metadata)).toBe(true);
  });

  it('reads a comma-separated region list, trimming spaces and empty items', () => {
    const hints = routeHints({ 'x-switchyard-region': ' eu ,us-east-1,, europe-west4 ' }, false);
    expect(hints.constraints).toEqual({ regions: ['eu', 'us-east-1', 'europe-west4'] });
  });

  it('honours regions without client overrides: they only narrow', () => {
    expect(routeHints({ 'x-switchyard-region': 'eu' }, false).constraints).toEqual({ regions: ['eu'] });
  });

  it('joins a repeated region header', () => {
    expect(routeHints({ 'x-switchyard-region': ['eu', 'us-east-1'] }, false).constraints.regions).toEqual(['eu', 'us-east-1']);
  });

  it('rejects an empty region list', () => {
    const error = thrown(() => routeHints({ 'x-switchyard-region': ' , ' }, false));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.message).toBe('x-switchyard-region: expected a comma-separated list, got an empty value.');
  });

  it.each(['x-switchyard-provider', 'x-switchyard-exclude-providers', 'x-switchyard-strategy'])('refuses %s unless client overrides are allowed', (name) => {
    const error = thrown(() => routeHints({ [name]: 'fallback' }, false));
    expect(error.code).toBe('routing_override_not_allowed');
    expect(error.status).toBe(403);
    expect(error.message).toContain(name);
    expect(error.message).toContain('routing.allow_client_overrides');
  });

  it('names every override header given in the refusal', () => {
    const error = thrown(() => routeHints({ 'x-switchyard-provider': 'a', 'x-switchyard-strategy': 'cost', 'x-switchyard-region': 'eu' }, false));
    expect(error.message).toMatch(/^x-switchyard-provider, x-switchyard-strategy: /);
  });

  it('parses pin, exclusions and strategy when overrides are allowed', () => {
    const hints = routeHints({ 'x-switchyard-provider': ' openai ', 'x-switchyard-exclude-providers': 'azure, bedrock', 'x-switchyard-strategy': ' least-busy ' }, true);
    expect(hints.constraints.pinProvider).toBe('openai');
    expect(hints.constraints.excludeProviders).toEqual(['azure', 'bedrock']);
    expect(hints.constraints.strategy?.name).toBe('least-busy');
  });

  it('shares one strategy instance per name across requests', () => {
    const first = routeHints({ 'x-switchyard-strategy': 'round-robin' }, true).constraints.strategy;
    const second = routeHints({ 'x-switchyard-strategy': 'round-robin' }, true).constraints.strategy;
    expect(first).toBeDefined();
    expect(second).toBe(first);
    expect(routeHints({ 'x-switchyard-strategy': 'cost' }, true).constraints.strategy).not.toBe(first);
  });

  it('rejects an unknown strategy, naming the known ones', () => {
    const error = thrown(() => routeHints({ 'x-switchyard-strategy': 'fastest' }, true));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.message).toBe(`x-switchyard-strategy: unknown strategy "fastest" (one of ${STRATEGIES.join(', ')}).`);
  });

  it('rejects an empty provider pin', () => {
    const error = thrown(() => routeHints({ 'x-switchyard-provider': '' }, true));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toContain('x-switchyard-provider');
  });

  it('compares regions case-insensitively (tags are lower-cased in config too)', () => {
    expect(routeHints({ 'x-switchyard-region': 'EU, US-East-1' }, false).constraints.regions).toEqual(['eu', 'us-east-1']);
  });

  it('rejects a pin of more than one provider, pointing at the exclusion header', () => {
    const error = thrown(() => routeHints({ 'x-switchyard-provider': 'a, b' }, true));
    expect(error.status).toBe(400);
    expect(error.message).toBe('x-switchyard-provider: pins one provider, got 2 (a, b); use x-switchyard-exclude-providers to leave some out.');
  });

  it('parses metadata without client overrides', () => {
    const hints = routeHints({ 'x-switchyard-metadata': '{"tier":"free"}' }, false);
    expect(hints.constraints).toEqual({});
    expect(hints.metadata).toEqual({ tier: 'free' });
  });

  it('reads other headers by lower-case name, joining repeated ones', () => {
    const headers: IncomingHttpHeaders = { 'x-team': 'search', 'x-tags': ['a', 'b'], 'x-switchyard-region': 'eu' };
    const hints = routeHints(headers, false);
    expect(hints.header('x-team')).toBe('search');
    expect(hints.header('x-tags')).toBe('a, b');
    expect(hints.header('x-missing')).toBeUndefined();
    // Also without routing headers (rules may test any header).
    expect(routeHints({ 'x-team': 'search' }, false).header('x-team')).toBe('search');
  });
});

describe('parseMetadata', () => {
  it('keeps string tags', () => {
    expect(parseMetadata('{"tier":"free","feature":"search"}')).toEqual({ tier: 'free', feature: 'search' });
  });

  it('keeps numbers and booleans as text', () => {
    expect(parseMetadata('{"priority":3,"ratio":0.5,"beta":true,"paid":false}')).toEqual({ priority: '3', ratio: '0.5', beta: 'true', paid: 'false' });
  });

  it('accepts an empty object', () => {
    expect(parseMetadata('{}')).toEqual({});
  });

  it.each([
    ['an object', '{"tier":{"name":"free"}}', 'tier'],
    ['a list', '{"tags":["a","b"]}', 'tags'],
    ['null', '{"owner":null}', 'owner'],
  ])('rejects a tag holding %s, naming it', (_what, text, key) => {
    const error = thrown(() => parseMetadata(text));
    expect(error.code).toBe('invalid_request');
    expect(error.status).toBe(400);
    expect(error.message).toBe(`x-switchyard-metadata: tag "${key}" must be a string, number or boolean.`);
  });

  it.each(['["free"]', '"free"', '42', 'null'])('rejects %s: not a JSON object', (text) => {
    expect(thrown(() => parseMetadata(text)).message).toBe('x-switchyard-metadata: expected a JSON object of tags.');
  });

  it.each(['tier=free', '{"tier":', "{'tier':'free'}", ''])('rejects invalid JSON %j with an example', (text) => {
    const error = thrown(() => parseMetadata(text));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('x-switchyard-metadata: expected a JSON object such as {"tier":"free","feature":"search"}.');
  });

  it('accepts 4096 bytes and rejects more, counting bytes rather than characters', () => {
    const frame = '{"t":""}'.length;
    expect(parseMetadata(`{"t":"${'a'.repeat(4096 - frame)}"}`).t).toHaveLength(4096 - frame);
    const error = thrown(() => parseMetadata(`{"t":"${'a'.repeat(4097 - frame)}"}`));
    expect(error.code).toBe('invalid_request');
    expect(error.message).toBe('x-switchyard-metadata: at most 4096 bytes.');
    // 2,100 characters, 4,200 bytes in UTF-8.
    expect(thrown(() => parseMetadata(`{"t":"${'é'.repeat(2100)}"}`)).message).toBe('x-switchyard-metadata: at most 4096 bytes.');
  });

  it('checks metadata given in a header', () => {
    expect(thrown(() => routeHints({ 'x-switchyard-metadata': '{"a":[1]}' }, false)).code).toBe('invalid_request');
  });
});
