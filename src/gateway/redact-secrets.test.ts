import { describe, expect, it } from 'vitest';
import { redactSecrets, secret, secretHeaders, upstreamAddress } from './redact-secrets.js';

describe('redactSecrets', () => {
  it('masks key-shaped words without being told about them', () => {
    expect(redactSecrets('bad key sk-live-abcdef123456.')).toBe('bad key [redacted].');
    expect(redactSecrets('key AIzaSyA1234567890abcdefghijklmnop here')).toBe('key [redacted] here');
    expect(redactSecrets('id AKIAIOSFODNN7EXAMPLE')).toBe('id [redacted]');
    expect(redactSecrets('Incorrect API key provided: gsk***********************MNOP.')).toBe('Incorrect API key provided: [redacted].');
    expect(redactSecrets('a **bold** word and ***')).toBe('a **bold** word and ***');
  });

  it('takes time in proportion to the text: a megabyte of letters (an upstream echoing a huge field) is no stall', () => {
    // The masked-echo search was quadratic: 100,000 letters took ~10 s, a megabyte would take hours.
    const letters = 'x'.repeat(1_000_000);
    const started = performance.now();
    expect(redactSecrets(`unknown tool ${letters}`)).toBe(`unknown tool ${letters}`);
    expect(redactSecrets(`${letters}****${letters}`)).toBe('[redacted]');
    // A key shape followed by a long run of dots and then a letter (each match's trailing dots were found by a regex).
    const dots = '.'.repeat(200_000);
    expect(redactSecrets(`sk_${dots}x and key-abcd${dots}`)).toBe(`[redacted] and [redacted]${dots}`);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('masks a registered key that has no known shape (Groq, Together, a password), wherever it appears', () => {
    const groq = secret('gsk_ABCDEFghijkl1234567890MNOP');
    const together = secret('3f1a9c0e5b7d2468ace13579bdf02468ace13579bdf02468ace13579bdf0246a');
    const password = secret('hunter2secret');
    expect(redactSecrets(`Invalid key '${groq}' for this org.`)).toBe("Invalid key '[redacted]' for this org.");
    expect(redactSecrets(`token=${together}&x=1`)).toBe('token=[redacted]&x=1');
    expect(redactSecrets(`auth failed for ${password}`)).toBe('auth failed for [redacted]');
  });

  it("masks a provider's masked echo of a registered key, which keeps its first characters", () => {
    secret('gsk_QRSTUVwxyz0987654321ABCD');
    expect(redactSecrets('Incorrect API key provided: gsk_QR************ABCD. See docs.')).toBe('Incorrect API key provided: [redacted]. See docs.');
  });

  it('leaves the prefix alone inside a longer word, and short values unregistered', () => {
    secret('zyxwvu0123456789abcdef');
    expect(redactSecrets('azyxwvu0 stays')).toBe('azyxwvu0 stays');
    secret('short');
    expect(redactSecrets('a short note')).toBe('a short note');
  });

  it('registers the values of credential headers only', () => {
    secretHeaders({ 'x-portkey-api-key': 'pk_verylongheaderkey_998877', 'anthropic-beta': 'tools-2024-05-16' });
    expect(redactSecrets('got pk_verylongheaderkey_998877')).toBe('got [redacted]');
    expect(redactSecrets('beta tools-2024-05-16 is not available')).toBe('beta tools-2024-05-16 is not available');
  });

  it('masks a key with regular-expression characters in it', () => {
    secret('a+b*c?d(e)[f]{g}|h^i$j.k\\l');
    expect(redactSecrets('x a+b*c?d(e)[f]{g}|h^i$j.k\\l y')).toBe('x [redacted] y');
  });

  it("masks a registered upstream's address: its URL with the path that follows, and its host:port", () => {
    upstreamAddress('http://10.9.8.7:47201/v1');
    expect(redactSecrets('Bad request at http://10.9.8.7:47201/v1/chat/completions (see docs).')).toBe('Bad request at [upstream] (see docs).');
    expect(redactSecrets('connect ECONNREFUSED 10.9.8.7:47201')).toBe('connect ECONNREFUSED [upstream]');
    // Other hosts, and a longer host that merely contains it, stay.
    expect(redactSecrets('see https://platform.openai.com/docs and 110.9.8.7:47201x')).toBe('see https://platform.openai.com/docs and 110.9.8.7:47201x');
    upstreamAddress('not a url');
    upstreamAddress(undefined);
  });
});
