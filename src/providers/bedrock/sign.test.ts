import { createHash, createHmac } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { BedrockSigner, canonicalUri, encodePathSegment } from './sign.js';

/**
 * An independent SigV4 written from the specification (AWS General Reference, "Create a signed AWS
 * API request"), checked first against AWS's published test-suite vector, then used to check the
 * signer on Bedrock paths: non-S3 services URI-encode each path segment of the (already encoded)
 * path once more, so a model id's `%3A` is signed as `%253A`.
 */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function referenceSignature(args: {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  secret: string;
  date: string; // 20150830T123600Z
  region: string;
  service: string;
}): { signature: string; canonicalRequest: string } {
  const canonicalUri = args.path.split('/').map(rfc3986).join('/');
  const names = Object.keys(args.headers).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(args.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((n) => `${n}:${lower[n]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = createHash('sha256').update(args.body).digest('hex');
  const canonicalRequest = [args.method, canonicalUri, '', canonicalHeaders, names.join(';'), payloadHash].join('\n');
  const day = args.date.slice(0, 8);
  const scope = `${day}/${args.region}/${args.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', args.date, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join('\n');
  const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
  const key = hmac(hmac(hmac(hmac(`AWS4${args.secret}`, day), args.region), args.service), 'aws4_request');
  return { signature: createHmac('sha256', key).update(stringToSign).digest('hex'), canonicalRequest };
}

const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const DATE = new Date('2015-08-30T12:36:00Z');

describe('the reference signer', () => {
  it('reproduces AWS\'s published get-vanilla vector', () => {
    const { signature } = referenceSignature({
      method: 'GET',
      path: '/',
      headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
      body: '',
      secret: EXAMPLE_SECRET,
      date: '20150830T123600Z',
      region: 'us-east-1',
      service: 'service',
    });
    expect(signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });
});

describe('encodePathSegment', () => {
  it('encodes a model id the way the AWS SDKs put it into the path', () => {
    expect(encodePathSegment('anthropic.claude-3-haiku-20240307-v1:0')).toBe('anthropic.claude-3-haiku-20240307-v1%3A0');
    expect(encodePathSegment('arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0')).toBe(
      'arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20241022-v2%3A0',
    );
    expect(encodePathSegment("a!b'c(d)e*f g")).toBe('a%21b%27c%28d%29e%2Af%20g');
    expect(encodePathSegment('amazon.titan-embed-text-v2:0')).toBe('amazon.titan-embed-text-v2%3A0');
  });
});

describe('BedrockSigner', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: EXAMPLE_SECRET };
  const body = '{"messages":[{"role":"user","content":[{"text":"hi"}]}]}';

  function signedFor(modelId: string, extra: { sessionToken?: string; base?: string } = {}) {
    const signer = new BedrockSigner({ ...credentials, sessionToken: extra.sessionToken }, 'us-east-1');
    const path = `/model/${encodePathSegment(modelId)}/converse`;
    const base = extra.base ?? 'https://bedrock-runtime.us-east-1.amazonaws.com';
    const headers = signer.sign({ method: 'POST', url: `${base}${path}`, headers: { 'content-type': 'application/json', accept: 'application/json' }, body }, DATE);
    return { headers, path };
  }

  it.each([
    'anthropic.claude-3-haiku-20240307-v1:0',
    'arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123',
  ])('signs the double-encoded canonical URI of %s', (modelId) => {
    const { headers, path } = signedFor(modelId);
    const sent = { accept: 'application/json', 'content-type': 'application/json', host: headers.host!, 'x-amz-content-sha256': headers['x-amz-content-sha256']!, 'x-amz-date': headers['x-amz-date']! };
    const reference = referenceSignature({ method: 'POST', path, headers: sent, body, secret: EXAMPLE_SECRET, date: '20150830T123600Z', region: 'us-east-1', service: 'bedrock' });
    expect(reference.canonicalRequest.split('\n')[1]).toContain('%253A');
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date, Signature=${reference.signature}`,
    );
    // Signing the once-encoded path (the classic mistake) gives another signature: AWS would answer 403.
    const canonicalOnce = referenceSignature({ method: 'POST', path: decodeURIComponent(path), headers: sent, body, secret: EXAMPLE_SECRET, date: '20150830T123600Z', region: 'us-east-1', service: 'bedrock' });
    expect(headers.authorization).not.toContain(canonicalOnce.signature);
  });

  it('adds host, the date and the body hash, and signs a session token', () => {
    const { headers } = signedFor('amazon.nova-lite-v1:0', { sessionToken: 'FwoGZXIvYXdzEXAMPLETOKEN' });
    expect(headers.host).toBe('bedrock-runtime.us-east-1.amazonaws.com');
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers['x-amz-content-sha256']).toBe(createHash('sha256').update(body).digest('hex'));
    expect(headers['x-amz-security-token']).toBe('FwoGZXIvYXdzEXAMPLETOKEN');
    expect(headers.authorization).toContain('SignedHeaders=accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
  });

  it('keeps a non-default port in the signed host (a VPC endpoint or a local fake)', () => {
    const { headers } = signedFor('amazon.nova-lite-v1:0', { base: 'http://127.0.0.1:4010' });
    expect(headers.host).toBe('127.0.0.1:4010');
  });

  it('signs each attempt anew: another time, another signature', () => {
    const signer = new BedrockSigner(credentials, 'us-east-1');
    const request = { method: 'POST' as const, url: 'https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse', headers: {}, body };
    const first = signer.sign(request, new Date('2025-01-01T00:00:00Z'));
    const second = signer.sign(request, new Date('2025-01-01T00:00:01Z'));
    expect(first.authorization).not.toBe(second.authorization);
    expect(second['x-amz-date']).toBe('20250101T000001Z');
  });
});

describe('BedrockSigner against @smithy/signature-v4', () => {
  /** What the AWS SDKs' signer makes of the same request, headers and time. */
  async function smithySigned(credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }, region: string, url: string, headers: Record<string, string>, body: string, date: Date): Promise<Record<string, string>> {
    const parsed = new URL(url);
    const signer = new SignatureV4({ service: 'bedrock', region, credentials, sha256: Sha256 });
    const signed = await signer.sign(
      {
        method: 'POST',
        protocol: parsed.protocol,
        hostname: parsed.hostname,
        port: parsed.port ? Number(parsed.port) : undefined,
        path: parsed.pathname,
        query: {},
        headers: { ...headers, host: parsed.host, 'x-amz-content-sha256': createHash('sha256').update(body).digest('hex') },
        body,
      },
      { signingDate: date },
    );
    return signed.headers;
  }

  const cases: { what: string; model: string; operation: string; headers: Record<string, string> }[] = [
    { what: 'a model id', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', operation: 'converse', headers: { 'content-type': 'application/json' } },
    { what: 'an inference profile ARN', model: 'arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0', operation: 'converse-stream', headers: { 'content-type': 'application/json' } },
    { what: 'configured headers with spaces', model: 'amazon.titan-embed-text-v2:0', operation: 'invoke', headers: { 'content-type': 'application/json', 'x-custom-tag': '  two   spaces  ', accept: '*/*' } },
    { what: "a model id with !'()*", model: "weird!'()*model", operation: 'converse', headers: { 'content-type': 'application/json' } },
  ];
  const bodies = ['', '{"messages":[{"role":"user","content":[{"text":"héllo ✓"}]}]}'];
  const dates = [new Date('2026-11-23T23:59:59Z'), new Date('2026-11-24T00:00:00Z')];

  for (const sessionToken of [undefined, 'FwoGZXIvYXdzEXAMPLE//token+with/chars=']) {
    for (const c of cases) {
      it(`signs ${c.what}${sessionToken ? ' with a session token' : ''} exactly as the AWS SDK does`, async () => {
        const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: EXAMPLE_SECRET, ...(sessionToken ? { sessionToken } : {}) };
        const signer = new BedrockSigner(credentials, 'eu-west-1');
        for (const base of ['https://bedrock-runtime.eu-west-1.amazonaws.com', 'http://127.0.0.1:4010']) {
          const url = `${base}/model/${encodePathSegment(c.model)}/${c.operation}`;
          for (const body of bodies) {
            for (const date of dates) {
              const ours = signer.sign({ method: 'POST', url, headers: c.headers, body }, date);
              const theirs = await smithySigned(credentials, 'eu-west-1', url, c.headers, body, date);
              expect(ours).toEqual(theirs);
            }
          }
        }
      });
    }
  }

  it('normalises the canonical path like the SDK (empty and dot segments)', () => {
    expect(canonicalUri('/model/a%3Ab/converse')).toBe('/model/a%253Ab/converse');
    expect(canonicalUri('/a//b/./c/../d/')).toBe('/a/b/d/');
    expect(canonicalUri('/')).toBe('/');
  });
});
