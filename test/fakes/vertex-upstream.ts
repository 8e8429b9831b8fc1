/**
 * A fake Vertex AI (Gemini on Google Cloud) on 127.0.0.1, with its own OAuth token endpoint, for
 * unit, e2e and conformance tests (it implements test/conformance/contract.ts). The Gemini wire
 * format and the scripted answers are the fake Gemini API's (gemini-upstream.ts, extended here).
 *
 * - `POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`,
 *   `:streamGenerateContent` (`?alt=sse`) and `:predict` (text embeddings: `instances[].content`,
 *   `parameters.outputDimensionality`; one instance per request for gemini-embedding models, at
 *   most 250 for the others).
 * - `POST /token`: Google's JWT bearer grant. The assertion's RS256 signature is verified (jose)
 *   against the service account's public key, with its claims (iss = client_email, aud = this
 *   token URL, scope cloud-platform, exp - iat ≤ 3600); a good one gets
 *   `{"access_token", "expires_in", "token_type": "Bearer"}`, a bad one Google's 400 `invalid_grant`.
 * - Model calls need `Authorization: Bearer <a token it issued, not expired>`: none → 401
 *   CREDENTIALS_MISSING, unknown or revoked → 401 ACCESS_TOKEN_TYPE_UNSUPPORTED, expired → 401
 *   ACCESS_TOKEN_EXPIRED; another project → 403 PERMISSION_DENIED; unknown model → 404.
 * - Error bodies as Vertex sends them: a 429 RESOURCE_EXHAUSTED carries no RetryInfo (unlike the
 *   Gemini API's), refused credentials are 401 UNAUTHENTICATED.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { ErrorClass } from '../conformance/contract.js';
import { FakeGemini, sendError, sendJson, type GoogleError } from './gemini-upstream.js';
import { embeddingValues } from './gemini-wire.js';

export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

export interface FakeVertexOptions {
  project?: string;
  location?: string;
  models?: string[];
  /** `expires_in` of the tokens it issues (default 3599, as Google sends). */
  tokenLifetimeSeconds?: number;
}

/** One call of the token endpoint, as received and judged. */
export interface TokenRequest {
  status: number;
  grantType: string | null;
  assertion: string | null;
  header?: Record<string, unknown>;
  claims?: JWTPayload;
  /** The token issued, when status is 200. */
  token?: string;
}

function googleError(code: number, status: string, message: string, details?: Record<string, unknown>[]): GoogleError {
  return { status: code, body: { error: { code, message, status, ...(details ? { details } : {}) } } };
}

const INVALID_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';

const errorInfo = (reason: string, method: string): Record<string, unknown> => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
  metadata: { service: 'aiplatform.googleapis.com', method: `google.cloud.aiplatform.v1.PredictionService.${method}` },
});

/** Error bodies as Vertex AI sends them. */
export const VERTEX_ERRORS = {
  invalidArgument: (message: string): GoogleError => googleError(400, 'INVALID_ARGUMENT', message),
  missingCredentials: (method: string): GoogleError =>
    googleError(401, 'UNAUTHENTICATED', INVALID_CREDENTIALS.replace('Request had invalid authentication credentials.', 'Request is missing required authentication credential.'), [errorInfo('CREDENTIALS_MISSING', method)]),
  invalidToken: (method: string): GoogleError => googleError(401, 'UNAUTHENTICATED', INVALID_CREDENTIALS, [errorInfo('ACCESS_TOKEN_TYPE_UNSUPPORTED', method)]),
  expiredToken: (method: string): GoogleError => googleError(401, 'UNAUTHENTICATED', INVALID_CREDENTIALS, [errorInfo('ACCESS_TOKEN_EXPIRED', method)]),
  unauthenticated: (message: string): GoogleError => googleError(401, 'UNAUTHENTICATED', message),
  permissionDenied: (message: string): GoogleError => googleError(403, 'PERMISSION_DENIED', message),
  notFound: (message: string): GoogleError => googleError(404, 'NOT_FOUND', message),
  /** Vertex's 429 says nothing about when to retry. */
  resourceExhausted: (message = 'Resource exhausted. Please try again later. Please refer to https://cloud.google.com/vertex-ai/generative-ai/docs/error-code-429 for more details.'): GoogleError =>
    googleError(429, 'RESOURCE_EXHAUSTED', message),
  internal: (message = 'Internal error encountered.'): GoogleError => googleError(500, 'INTERNAL', message),
  unavailable: (message = 'The service is currently unavailable.'): GoogleError => googleError(503, 'UNAVAILABLE', message),
} as const;

const ROUTE = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):([A-Za-z]+)$/;
const METHODS = new Set(['generateContent', 'streamGenerateContent', 'predict']);
const RPC_METHODS: Record<string, string> = { generateContent: 'GenerateContent', streamGenerateContent: 'StreamGenerateContent', predict: 'Predict' };

export class FakeVertex extends FakeGemini {
  readonly project: string;
  readonly location: string;
  readonly clientEmail: string;
  readonly privateKeyId = '0123456789abcdef0123456789abcdef01234567';
  readonly privateKeyPem: string;
  readonly tokenRequests: TokenRequest[] = [];
  tokenLifetimeSeconds: number;
  /** Delay before the token endpoint answers (concurrency tests). */
  tokenDelayMs = 0;
  readonly #publicKey: KeyObject;
  /** token → expiry (ms since the epoch). */
  readonly #issued = new Map<string, number>();
  readonly #tokenFailures: { status: number; body: string }[] = [];
  #tokenSequence = 0;

  protected constructor(server: Server, options: FakeVertexOptions) {
    super(server, { models: options.models ?? ['gemini-2.5-flash', 'gemini-3-pro-preview', 'gemini-embedding-001', 'text-embedding-005'] });
    this.project = options.project ?? 'switchyard-test';
    this.location = options.location ?? 'us-central1';
    this.tokenLifetimeSeconds = options.tokenLifetimeSeconds ?? 3599;
    this.clientEmail = `gateway@${this.project}.iam.gserviceaccount.com`;
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.#publicKey = publicKey;
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  }

  static override async start(options: FakeVertexOptions = {}): Promise<FakeVertex> {
    return FakeGemini.listen((server) => new FakeVertex(server, options));
  }

  get tokenUrl(): string {
    return `${this.url}/token`;
  }

  /** The service-account key as Google's JSON key file holds it. */
  get keyJson(): string {
    return JSON.stringify(this.serviceAccountKey(), null, 2);
  }

  /** A service-account key in Google's JSON key file format, for this fake's account. */
  serviceAccountKey(): Record<string, string> {
    return {
      type: 'service_account',
      project_id: this.project,
      private_key_id: this.privateKeyId,
      private_key: this.privateKeyPem,
      client_email: this.clientEmail,
      client_id: '104857600000000000001',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: this.tokenUrl,
      auth_provider_x509_cert_url: 'https://www.googleapis.com/oauth2/v1/certs',
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${encodeURIComponent(this.clientEmail)}`,
      universe_domain: 'googleapis.com',
    };
  }

  override providerConfig(): Record<string, unknown> {
    return { type: 'vertex', project: this.project, location: this.location, base_url: this.url, credentials_json: this.keyJson };
  }

  /** The token endpoint's next answers fail with these (FIFO). */
  failNextToken(status: number, body: string): void {
    this.#tokenFailures.push({ status, body });
  }

  /** Every token issued so far is refused from now on (401), as after a revocation. */
  revokeTokens(): void {
    this.#issued.clear();
  }

  /** Bearer tokens of the model calls, in order. */
  bearerTokens(): string[] {
    return this.calls.filter((c) => c.url !== '/token').map((c) => String(c.headers.authorization ?? '').replace(/^Bearer /, ''));
  }

  override reset(): void {
    super.reset();
    this.tokenRequests.length = 0;
    this.#tokenFailures.length = 0;
  }

  protected override async serveOther(req: IncomingMessage, url: URL, body: string, res: ServerResponse): Promise<boolean> {
    if (url.pathname !== '/token') return false;
    if (this.tokenDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.tokenDelayMs));
    const form = new URLSearchParams(body);
    const record: TokenRequest = { status: 400, grantType: form.get('grant_type'), assertion: form.get('assertion') };
    this.tokenRequests.push(record);
    const answer = (status: number, value: unknown): true => {
      record.status = status;
      sendJson(res, status, value);
      return true;
    };
    const failure = this.#tokenFailures.shift();
    if (failure) {
      record.status = failure.status;
      res.writeHead(failure.status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(failure.body);
      return true;
    }
    if (req.method !== 'POST' || !String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return answer(400, { error: 'invalid_request', error_description: 'Invalid Content-Type' });
    }
    if (record.grantType !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return answer(400, { error: 'unsupported_grant_type', error_description: `Invalid grant_type: ${record.grantType ?? ''}` });
    }
    try {
      record.header = decodeProtectedHeader(record.assertion ?? '') as Record<string, unknown>;
      const { payload } = await jwtVerify(record.assertion ?? '', this.#publicKey, { algorithms: ['RS256'], issuer: this.clientEmail, audience: this.tokenUrl, clockTolerance: 60 });
      record.claims = payload;
    } catch {
      return answer(400, { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' });
    }
    const { iat, exp, scope } = record.claims;
    if (typeof iat !== 'number' || typeof exp !== 'number' || exp - iat > 3600 || exp <= iat) {
      return answer(400, {
        error: 'invalid_grant',
        error_description: 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
      });
    }
    if (scope !== CLOUD_PLATFORM) return answer(400, { error: 'invalid_scope', error_description: 'Invalid OAuth scope or ID token audience provided.' });
    const token = `ya29.c.fake-vertex-${++this.#tokenSequence}-${Math.random().toString(36).slice(2, 10)}`;
    this.#issued.set(token, Date.now() + this.tokenLifetimeSeconds * 1000);
    record.token = token;
    return answer(200, { access_token: token, expires_in: this.tokenLifetimeSeconds, token_type: 'Bearer' });
  }

  protected override route(method: string, url: URL): { model: string; method: string } | undefined {
    const match = ROUTE.exec(url.pathname);
    if (method !== 'POST' || !match || !METHODS.has(match[4]!)) return undefined;
    return { model: decodeURIComponent(match[3]!), method: match[4]! };
  }

  protected override authenticate(req: IncomingMessage, url: URL): GoogleError | undefined {
    const match = ROUTE.exec(url.pathname)!;
    const rpc = RPC_METHODS[match[4]!]!;
    const header = req.headers.authorization;
    if (!header) return VERTEX_ERRORS.missingCredentials(rpc);
    const token = /^Bearer (\S+)$/.exec(header)?.[1];
    const expiry = token === undefined ? undefined : this.#issued.get(token);
    if (expiry === undefined) return VERTEX_ERRORS.invalidToken(rpc);
    if (Date.now() >= expiry) return VERTEX_ERRORS.expiredToken(rpc);
    const [project, location] = [decodeURIComponent(match[1]!), decodeURIComponent(match[2]!)];
    if (project !== this.project || location !== this.location) {
      return VERTEX_ERRORS.permissionDenied(
        `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${project}/locations/${location}/publishers/google/models/${match[3]}' (or it may not exist).`,
      );
    }
    return undefined;
  }

  protected override modelNotFound(model: string): GoogleError {
    return VERTEX_ERRORS.notFound(
      `Publisher Model \`projects/${this.project}/locations/${this.location}/publishers/google/models/${model}\` was not found or your project does not have access to it. Please ensure you are using a valid model version. For more information, see: https://cloud.google.com/vertex-ai/generative-ai/docs/learn/model-versions`,
    );
  }

  protected override classError(errorClass: ErrorClass, message: string): GoogleError {
    switch (errorClass) {
      case 'invalid_request':
        return VERTEX_ERRORS.invalidArgument(message);
      case 'auth':
        return VERTEX_ERRORS.unauthenticated(message);
      case 'permission':
        return VERTEX_ERRORS.permissionDenied(message);
      case 'not_found':
        return VERTEX_ERRORS.notFound(message);
      case 'rate_limit':
      case 'quota':
        return VERTEX_ERRORS.resourceExhausted(message);
      case 'server':
        return VERTEX_ERRORS.internal(message);
      case 'overloaded':
        return VERTEX_ERRORS.unavailable(message);
    }
  }

  /** `:predict` with text-embedding instances. */
  protected override embed(method: string, model: string, body: Record<string, unknown>, res: ServerResponse): void {
    if (method !== 'predict') return sendError(res, VERTEX_ERRORS.notFound(`Method ${method} not found.`));
    const instances = body.instances;
    if (!Array.isArray(instances) || instances.length === 0) return sendError(res, VERTEX_ERRORS.invalidArgument('Instances are required.'));
    const limit = model.startsWith('gemini-embedding') ? 1 : 250;
    if (instances.length > limit) {
      return sendError(res, VERTEX_ERRORS.invalidArgument(`The model ${model} supports at most ${limit} instance(s) per request; got ${instances.length}.`));
    }
    const parameters = (body.parameters ?? {}) as { outputDimensionality?: unknown };
    const dimensions = typeof parameters.outputDimensionality === 'number' ? parameters.outputDimensionality : 8;
    const predictions: Record<string, unknown>[] = [];
    let characters = 0;
    for (const instance of instances as { content?: unknown }[]) {
      if (typeof instance?.content !== 'string') return sendError(res, VERTEX_ERRORS.invalidArgument('Each instance needs "content" (a string).'));
      characters += instance.content.replace(/\s/g, '').length;
      const tokens = instance.content.split(/\s+/).filter(Boolean).length;
      predictions.push({ embeddings: { statistics: { truncated: false, token_count: tokens }, values: embeddingValues(instance.content, dimensions) } });
    }
    sendJson(res, 200, { predictions, metadata: { billableCharacterCount: characters } });
  }
}
