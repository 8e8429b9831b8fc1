/**
 * The configuration schema (DESIGN.md §4). Every key has a default here, so an empty file is a
 * valid configuration; docs/configuration.md lists them. Errors name the path and the problem.
 */
import { z } from 'zod';
import { cacheSchema } from './cache-schema.js';
import { governanceSchema } from './governance-schema.js';
import { modelGroupSchema, routingSchema } from './routing-schema.js';
import { boolean, byteSize, headersSchema, headerValue, httpUrl, isListenHost, LISTEN_HOST_EXPECTED, millis, numeric, positiveMillis, unsetIfEmpty } from './values.js';
import { metricsSchema, requestLogSchema } from './observability-schema.js';
import { checkSlaReferences, slaSchema } from './sla-schema.js';
import { tracingSchema } from './tracing-schema.js';
export { STRATEGIES } from './routing-schema.js';

export const timeoutsSchema = z.strictObject({
  /** Establishing the TCP/TLS connection to the upstream. */
  connect_ms: millis.optional(),
  /** From sending the request until the upstream's response headers arrive (for streams: the first byte). */
  first_byte_ms: millis.optional(),
  /** The whole attempt, body included; 0 disables. */
  total_ms: millis.optional(),
});

const openaiProvider = z.strictObject({
  type: z.literal('openai'),
  api_key: headerValue.optional(),
  base_url: httpUrl.optional(),
  organization: headerValue.optional(),
  project: headerValue.optional(),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
});

export const OPENAI_COMPATIBLE_PRESETS = ['vllm', 'ollama', 'together', 'groq', 'mistral', 'deepseek', 'fireworks', 'openrouter', 'lmstudio', 'llamacpp'] as const;

const openaiCompatibleProvider = z.strictObject({
  type: z.literal('openai-compatible'),
  preset: z.enum(OPENAI_COMPATIBLE_PRESETS).optional(),
  base_url: httpUrl.optional(),
  api_key: headerValue.optional(),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
  /** Ask the upstream for `stream_options.include_usage` so usage is always captured. */
  stream_usage: boolean().optional(),
});

const mockProvider = z.strictObject({
  type: z.literal('mock'),
  /** Delay before the first token (and before a non-streaming answer). */
  latency_ms: millis.default(0),
  /** Streaming speed; 0 sends every token at once. */
  tokens_per_second: numeric(z.number().nonnegative()).default(0),
});

const anthropicProvider = z.strictObject({
  type: z.literal('anthropic'),
  /** Defaults to the ANTHROPIC_API_KEY env var. */
  api_key: headerValue.optional(),
  base_url: httpUrl.default('https://api.anthropic.com'),
  /** The `anthropic-version` header. */
  anthropic_version: headerValue.default('2023-06-01'),
  /** Sent as `max_tokens` when the client gives none (Anthropic requires it). */
  default_max_tokens: numeric(z.number().int().positive()).default(4096),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
});

const geminiProvider = z.strictObject({
  type: z.literal('gemini'),
  /** Defaults to the GEMINI_API_KEY env var (or GOOGLE_API_KEY). */
  api_key: headerValue.optional(),
  base_url: httpUrl.default('https://generativelanguage.googleapis.com/v1beta'),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
});

const bedrockProvider = z.strictObject({
  type: z.literal('bedrock'),
  /** Defaults to AWS_REGION, then AWS_DEFAULT_REGION. */
  region: unsetIfEmpty(z.string().regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'expected an AWS region such as us-east-1 or eu-central-1').optional()),
  /** Credentials default to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN. */
  access_key_id: headerValue.optional(),
  secret_access_key: headerValue.optional(),
  session_token: headerValue.optional(),
  /** Overrides https://bedrock-runtime.<region>.amazonaws.com (VPC endpoints, tests). */
  base_url: httpUrl.optional(),
  /** Sent as inferenceConfig.maxTokens when the client gives none. */
  default_max_tokens: numeric(z.number().int().positive()).optional(),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
});

/** Vertex AI regions (us-central1, europe-west4, ...), the multi-regions `us` / `eu`, and `global`: the location goes into the host name. */
const VERTEX_LOCATION = /^[a-z]+(?:-[a-z]+[0-9]+)?$/;
/** Project ids (my-project-123), legacy domain-scoped ids (example.com:my-project) and project numbers. */
export const GOOGLE_PROJECT_ID = /^[a-z0-9][a-z0-9.:-]{0,98}[a-z0-9]$/;

const vertexProvider = z.strictObject({
  type: z.literal('vertex'),
  /** Defaults to GOOGLE_CLOUD_PROJECT; an empty value (an unset ${VAR}) counts as not set. */
  project: z.string().optional(),
  location: z.string().regex(VERTEX_LOCATION, 'expected a Vertex AI location such as us-central1, europe-west4, us, eu or global').default('us-central1'),
  /** A service-account JSON key file; defaults to GOOGLE_APPLICATION_CREDENTIALS. */
  credentials_file: z.string().optional(),
  /** The same JSON inline (e.g. ${VERTEX_SA_JSON}). */
  credentials_json: z.string().optional(),
  /** Overrides https://{location}-aiplatform.googleapis.com (private endpoints, proxies, tests). */
  base_url: httpUrl.optional(),
  /** Overrides the key's token_uri (https://oauth2.googleapis.com/token). */
  token_url: httpUrl.optional(),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
});

export const AZURE_API_STYLES = ['deployments', 'v1'] as const;

const azureProvider = z.strictObject({
  type: z.literal('azure'),
  /** The resource endpoint, e.g. https://my-resource.openai.azure.com */
  base_url: httpUrl,
  /** Defaults to the AZURE_OPENAI_API_KEY env var; sent as the `api-key` header. */
  api_key: headerValue.optional(),
  /** `deployments`: /openai/deployments/<target model>/...?api-version=; `v1`: /openai/v1/... */
  api_style: z.enum(AZURE_API_STYLES).default('deployments'),
  api_version: z.string().min(1).default('2024-10-21'),
  headers: headersSchema.optional(),
  timeouts: timeoutsSchema.optional(),
  stream_usage: boolean().optional(),
});

export const PROVIDER_TYPES = ['openai', 'openai-compatible', 'anthropic', 'gemini', 'vertex', 'bedrock', 'azure', 'mock'] as const;

const providerSchema = z.discriminatedUnion('type', [openaiProvider, openaiCompatibleProvider, anthropicProvider, geminiProvider, vertexProvider, bedrockProvider, azureProvider, mockProvider], {
  error: (issue) => {
    if (issue.code !== 'invalid_union') return undefined;
    const type = (issue.input as { type?: unknown } | undefined)?.type;
    if (type === undefined || type === null) return `is required (one of: ${PROVIDER_TYPES.join(', ')})`;
    return `unknown provider type ${JSON.stringify(type)} (supported: ${PROVIDER_TYPES.join(', ')})`;
  },
});

/**
 * What the Redis clients (ioredis: src/cache/redis-store.ts, src/governance/setup.ts) are given:
 * `redis://` or `rediss://` (TLS) with a host and an optional numeric database, or a Unix socket
 * path (`/run/redis.sock`, `?db=2` allowed). ioredis would also take a bare `host:port` or even a
 * bare word as a host name, which is how a typo slips through: those are refused here.
 */
export function isRedisUrl(value: string): boolean {
  if (value.startsWith('/') && !value.startsWith('//')) return value.length > 1;
  if (!/^rediss?:\/\//i.test(value)) return false;
  try {
    const url = new URL(value);
    return url.hostname !== '' && /^(\/\d*)?$/.test(url.pathname);
  } catch {
    return false;
  }
}

const redisUrl = z.preprocess(
  (v) => (v === '' ? undefined : v),
  z
    .string()
    .refine(isRedisUrl, 'expected redis://[user:password@]host[:port][/db], rediss://... (TLS) or a Unix socket path such as /run/redis/redis.sock')
    .optional(),
);

/** The database URLs `storage.url` (and DATABASE_URL) accept. */
export const STORAGE_URL = {
  pattern: /^(sqlite:\/\/.+|sqlite::memory:|postgres(ql)?:\/\/.+)$/,
  expected: 'expected sqlite://./path.db, sqlite:///absolute/path.db, sqlite::memory: or postgres://user:password@host:5432/database',
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const configSchemaBase = z.strictObject({
  server: z
    .strictObject({
      host: z.string().refine(isListenHost, LISTEN_HOST_EXPECTED).default('0.0.0.0'),
      port: numeric(z.number().int().min(0).max(65535)).default(8080),
      /** Largest request body accepted; larger ones get 413. */
      body_limit: byteSize.default(10 * 1024 * 1024),
      /** How long in-flight requests and streams may run after SIGTERM / SIGINT. */
      shutdown_grace_ms: millis.default(10_000),
      /** How long a client may take to send a whole request, headers and body (Node's own default; Fastify turns it off). */
      request_timeout_ms: positiveMillis.default(300_000),
      /** Busy polling: how long (µs) the event loop keeps polling after work instead of sleeping; 0: off (src/busy-poll.ts). */
      busy_poll_us: numeric(z.number().int().min(0).max(100_000)).default(0),
      /** Browser clients: the origins allowed (`https://app.example.com`, or `*` for any); none: CORS off. */
      cors: z
        .strictObject({
          origins: z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, 'an origin is a scheme and a host (https://app.example.com, http://localhost:3000, no path), or *')).default([]),
        })
        .prefault({}),
    })
    .prefault({}),
  auth: z
    .strictObject({
      // HTTP trims header values, so a key that starts or ends with whitespace (or is only that) could never be sent.
      master_key: z
        .string()
        .refine((key) => key !== '' && key.trim() === key, 'must not be empty or start or end with whitespace (no client could send it)')
        .optional(),
    })
    .prefault({}),
  /** Where keys, teams, orgs and spend live; unset: DATABASE_URL, else sqlite://./data/switchyard.db. */
  storage: z
    .strictObject({
      url: z
        .string()
        .regex(STORAGE_URL.pattern, STORAGE_URL.expected)
        .optional(),
    })
    .prefault({}),
  redis: z.strictObject({ url: redisUrl }).prefault({}),
  logging: z
    .strictObject({ level: z.enum(LOG_LEVELS).default('info') })
    .prefault({}),
  upstream: z
    .strictObject({
      timeouts: z
        .strictObject({
          connect_ms: millis.default(10_000),
          first_byte_ms: millis.default(120_000),
          total_ms: millis.default(600_000),
        })
        .prefault({}),
      /** Most connections kept to one upstream origin. */
      max_connections_per_origin: numeric(z.number().int().positive()).default(256),
      /** undici refuses 0 (the gateway would not start). */
      keep_alive_timeout_ms: positiveMillis.default(30_000),
      /** Largest upstream answer (a whole response, or all of a stream) before it is cut off with a 502. */
      max_response_bytes: byteSize.default(256 * 1024 * 1024),
    })
    .prefault({}),
  providers: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'provider ids use letters, digits, "_", "-" and "."'), providerSchema).default({}),
  // A group's name comes back in a response header: no control characters (a newline cannot be sent).
  // eslint-disable-next-line no-control-regex
  models: z.record(z.string().min(1).max(512).regex(/^[^\u0000-\u001f\u007f]+$/, 'model group names cannot contain control characters (newlines, tabs)'), modelGroupSchema).default({}),
  routing: routingSchema,
  cache: cacheSchema,
  governance: governanceSchema,
  metrics: metricsSchema,
  request_log: requestLogSchema,
  tracing: tracingSchema,
  sla: slaSchema,
});

export const configSchema = configSchemaBase.superRefine((config, ctx) => {
  const providerIds = Object.keys(config.providers);
  const checkGroup = (group: string, path: (string | number)[]): void => {
    if (!(group in config.models)) ctx.addIssue({ code: 'custom', path, message: unknownGroup(group, Object.keys(config.models)) });
  };
  for (const issue of referenceProblems(config)) ctx.addIssue({ code: 'custom', ...issue });
  checkCache(config, ctx, checkGroup);
  checkSharedTargets(config, ctx);
  for (const [id, provider] of Object.entries(config.providers)) {
    if (provider.type === 'openai-compatible' && !provider.base_url && !provider.preset) {
      ctx.addIssue({ code: 'custom', path: ['providers', id, 'base_url'], message: 'an openai-compatible provider needs base_url (or a preset)' });
    }
    if (provider.type === 'vertex') {
      if (provider.project && !GOOGLE_PROJECT_ID.test(provider.project)) {
        ctx.addIssue({ code: 'custom', path: ['providers', id, 'project'], message: `${JSON.stringify(provider.project)} is not a Google Cloud project id (lower-case letters, digits and "-", e.g. my-project-123)` });
      }
      if (provider.credentials_file && provider.credentials_json) {
        ctx.addIssue({ code: 'custom', path: ['providers', id, 'credentials_json'], message: 'set credentials_file or credentials_json, not both' });
      }
    }
  }
  for (const issue of checkSlaReferences(config.sla, Object.keys(config.models), providerIds)) ctx.addIssue({ code: 'custom', ...issue });
});

export type Config = z.output<typeof configSchema>;
export type ProviderConfig = Config['providers'][string];
export type ModelGroupConfig = Config['models'][string];
export type TimeoutsConfig = z.output<typeof timeoutsSchema>;

export interface ReferenceProblem {
  path: (string | number)[];
  message: string;
}

/**
 * Targets naming a provider that is not configured, fallbacks / routing rules naming a model
 * group that is not, and a Redis store or limits backend without redis.url. It reads its input defensively, so it serves both the validated config (from
 * the schema's refinement) and the raw file when the schema failed elsewhere (the refinement does
 * not run then, and `config check` would otherwise report a typo in a provider name only once the
 * file's other problems are fixed). A provider or group that is configured but itself invalid still
 * counts as configured: its own problems are reported at its own path.
 */
export function referenceProblems(input: unknown): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const root = asRecord(input);
  if (!root) return problems;
  const providerIds = Object.keys(asRecord(root.providers) ?? {});
  const models = asRecord(root.models) ?? {};
  const groupNames = Object.keys(models);
  const checkGroup = (group: unknown, path: (string | number)[]): void => {
    if (typeof group === 'string' && group !== '' && !groupNames.includes(group)) problems.push({ path, message: unknownGroup(group, groupNames) });
  };
  for (const [name, value] of Object.entries(models)) {
    const group = asRecord(value);
    if (!group) continue;
    asList(group.targets).forEach((item, i) => {
      const provider = asRecord(item)?.provider;
      if (typeof provider === 'string' && provider !== '' && !providerIds.includes(provider)) {
        problems.push({ path: ['models', name, 'targets', i, 'provider'], message: `unknown provider ${JSON.stringify(provider)}${suggest(provider, providerIds)}` });
      }
    });
    for (const list of ['fallbacks', 'context_window_fallbacks', 'content_policy_fallbacks'] as const) {
      asList(group[list]).forEach((fallback, i) => checkGroup(fallback, ['models', name, list, i]));
    }
  }
  asList(asRecord(root.routing)?.rules).forEach((rule, i) => checkGroup(asRecord(rule)?.route_to, ['routing', 'rules', i, 'route_to']));
  // What needs Redis names redis.url (an empty value came out unset, like a missing one).
  const redisUrl = asRecord(root.redis)?.url;
  if (typeof redisUrl !== 'string' || redisUrl === '') {
    if (asRecord(asRecord(root.governance)?.limits)?.backend === 'redis') problems.push({ path: ['governance', 'limits', 'backend'], message: 'the redis limits backend needs redis.url' });
    if (asRecord(root.cache)?.store === 'redis') problems.push({ path: ['cache', 'store'], message: 'the redis cache store needs redis.url' });
  }
  return problems;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function asList(value: unknown): readonly unknown[] {
  return Array.isArray(value) ? value : [];
}

function unknownGroup(group: string, known: string[]): string {
  return `unknown model group ${JSON.stringify(group)}${suggest(group, known)}`;
}

/** Settings that belong to the upstream deployment, not to the group that lists it. */
export const DEPLOYMENT_KEYS = ['region', 'max_concurrency', 'max_queue', 'queue_timeout_ms', 'rpm', 'tpm', 'context_window', 'price', 'capabilities'] as const;

/**
 * Groups listing the same provider + model share one target (its health, breaker and limits:
 * they describe the upstream deployment). A deployment setting given in one group applies to
 * the target in all of them; two groups giving different values is an error.
 */
function checkSharedTargets(config: z.output<typeof configSchemaBase>, ctx: z.RefinementCtx): void {
  const seen = new Map<string, Map<string, { group: string; value: unknown }>>();
  for (const [name, group] of Object.entries(config.models)) {
    group.targets.forEach((target, i) => {
      const id = `${target.provider}/${target.model}`;
      let settings = seen.get(id);
      if (!settings) seen.set(id, (settings = new Map()));
      for (const key of DEPLOYMENT_KEYS) {
        const value = target[key];
        if (value === undefined) continue;
        const first = settings.get(key);
        if (!first) settings.set(key, { group: name, value });
        else if (JSON.stringify(first.value) !== JSON.stringify(value)) {
          ctx.addIssue({ code: 'custom', path: ['models', name, 'targets', i, key], message: `${id} is also a target of "${first.group}" with ${key} ${JSON.stringify(first.value)}: one deployment has one ${key} (set it in one group, or the same in both)` });
        }
      }
    });
  }
}

/** The redis store needs Redis; an embedder is `local`, a model group or `<provider>/<model>`. */
function checkCache(config: z.output<typeof configSchemaBase>, ctx: z.RefinementCtx, checkGroup: (group: string, path: (string | number)[]) => void): void {
  const checkEmbedder = (name: string, path: (string | number)[]): void => {
    if (name === 'local') return;
    const slash = name.indexOf('/');
    if (slash > 0 && name.slice(0, slash) in config.providers) return;
    checkGroup(name, path);
  };
  checkEmbedder(config.cache.semantic.embedder, ['cache', 'semantic', 'embedder']);
  for (const [name, group] of Object.entries(config.models)) {
    const embedder = group.cache?.semantic?.embedder;
    if (embedder !== undefined) checkEmbedder(embedder, ['models', name, 'cache', 'semantic', 'embedder']);
  }
}

/** ` (did you mean "openai"?)` for a near miss, else the list of known names. */
function suggest(name: string, known: string[]): string {
  if (known.length === 0) return ' (none are configured)';
  const close = known.filter((candidate) => editDistance(candidate.toLowerCase(), name.toLowerCase()) <= 2);
  if (close.length > 0) return ` (did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}?)`;
  return ` (known: ${known.join(', ')})`;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}
