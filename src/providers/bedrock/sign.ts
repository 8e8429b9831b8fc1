/**
 * AWS Signature Version 4 for Bedrock Runtime requests (signing name `bedrock`), on node:crypto.
 * What is signed is exactly what transport.ts sends: the method, the `host` header, the
 * already-encoded URL path (encoded a second time for the canonical URI, as SigV4 requires for
 * every service but S3), every header sent, and the body's SHA-256. A request is signed per
 * attempt: the signature carries a timestamp.
 *
 * Written here rather than taken from @smithy/signature-v4 (which DESIGN.md names) for a measured
 * reason: the library's signing, a chain of promises around each hash, cost 40–70 µs of gateway
 * CPU per request under load, a third of a Bedrock request's CPU; this costs ~10 µs in a tight loop. The tests
 * check it against @smithy/signature-v4 itself and against AWS's published test vector.
 */
import { createHash, createHmac } from 'node:crypto';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SignableRequest {
  method: 'POST' | 'GET';
  url: string;
  /** Headers to send (lower-case names); `host` and the signature headers are added. */
  headers: Record<string, string>;
  body: string;
}

export const SIGNING_SERVICE = 'bedrock';
const ALGORITHM = 'AWS4-HMAC-SHA256';

export class BedrockSigner {
  readonly #credentials: AwsCredentials;
  readonly #region: string;
  /** The signing key of the current UTC day (it depends only on the day, region and service). */
  #key: { day: string; key: Buffer } | undefined;
  /** Provider URLs are few and fixed: their host and canonical path are worked out once. */
  readonly #targets = new Map<string, { host: string; canonicalUri: string }>();

  constructor(credentials: AwsCredentials, region: string) {
    this.#credentials = credentials;
    this.#region = region;
  }

  /** The headers to send: the given ones plus host, x-amz-date, x-amz-content-sha256, (x-amz-security-token,) authorization. */
  sign(request: SignableRequest, signingDate: Date = new Date()): Record<string, string> {
    const { host, canonicalUri } = this.#target(request.url);
    const amzDate = signingDate.toISOString().replace(/[-:]|\.\d{3}/g, ''); // 20150830T123600Z
    const day = amzDate.slice(0, 8);
    const headers: Record<string, string> = {
      ...request.headers,
      host,
      'x-amz-date': amzDate,
      'x-amz-content-sha256': sha256Hex(request.body),
    };
    if (this.#credentials.sessionToken) headers['x-amz-security-token'] = this.#credentials.sessionToken;

    const names = Object.keys(headers).sort();
    let canonicalHeaders = '';
    for (const name of names) canonicalHeaders += `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`;
    const signedHeaders = names.join(';');
    const canonicalRequest = `${request.method}\n${canonicalUri}\n\n${canonicalHeaders}\n${signedHeaders}\n${headers['x-amz-content-sha256']}`;
    const scope = `${day}/${this.#region}/${SIGNING_SERVICE}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
    const signature = createHmac('sha256', this.#signingKey(day)).update(stringToSign).digest('hex');
    headers.authorization = `${ALGORITHM} Credential=${this.#credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  #signingKey(day: string): Buffer {
    if (this.#key?.day !== day) {
      const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
      const key = hmac(hmac(hmac(hmac(`AWS4${this.#credentials.secretAccessKey}`, day), this.#region), SIGNING_SERVICE), 'aws4_request');
      this.#key = { day, key };
    }
    return this.#key.key;
  }

  #target(url: string): { host: string; canonicalUri: string } {
    let target = this.#targets.get(url);
    if (!target) {
      const parsed = new URL(url);
      target = { host: parsed.host, canonicalUri: canonicalUri(parsed.pathname) };
      if (this.#targets.size < 1000) this.#targets.set(url, target);
    }
    return target;
  }
}

const sha256Hex = (data: string): string => createHash('sha256').update(data).digest('hex');

/**
 * SigV4's canonical URI for services other than S3: the path normalised (empty and `.` segments
 * dropped, `..` applied) and each segment of the already-encoded path URI-encoded once more, so a
 * model id's `%3A` is signed as `%253A` (what AWS computes on its side).
 */
export function canonicalUri(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${segments.map(encodePathSegment).join('/')}${trailing}`;
}

/**
 * A path segment encoded the way the AWS SDKs encode a non-greedy URI label (Smithy's
 * `extendedEncodeURIComponent`): encodeURIComponent plus `!'()*`. A model id's `:` becomes `%3A`
 * and an ARN's `/` becomes `%2F`, so an ARN stays one segment.
 */
export function encodePathSegment(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
