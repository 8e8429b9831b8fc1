import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, formatIssue, formatPath, loadConfigFile, parseConfigText } from './load.js';

/** The problems of the ConfigError that parsing `text` throws (fails the test if none is thrown). */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfigText(text, 'test.yaml', env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

describe('parseConfigText: YAML', () => {
  it('reports YAML syntax errors with their line and column, and names the source', () => {
    let error: unknown;
    try {
      parseConfigText('server:\n  port: 8080\n  host: [unclosed\n', 'switchyard.yaml', {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.source).toBe('switchyard.yaml');
    expect(configError.problems.length).toBeGreaterThan(0);
    expect(configError.problems[0]).toMatch(/^YAML: .*line \d+, column \d+/);
    expect(configError.message).toMatch(/^switchyard\.yaml: invalid configuration\n {2}- YAML: /);
  });

  it('rejects duplicate keys, naming the key, where it is and its line', () => {
    expect(problemsOf('server:\n  port: 1\n  port: 2\n')).toEqual(['YAML: duplicate key "port" in server at line 3, column 3 (first given at line 2); a key may appear once in a mapping']);
  });

  it.each([
    ['a list', '- a\n- b\n'],
    ['a string', 'just text\n'],
    ['a number', '42\n'],
  ])('rejects %s at the top level', (_what, text) => {
    expect(problemsOf(text)).toEqual(['the file must hold a mapping (key: value pairs) at the top level']);
  });

  it('merges `<<: *anchor` mappings, and ignores top-level x- keys (where anchors can live)', () => {
    const text = ['x-defaults: &mock { type: mock, latency_ms: 5 }', 'providers:', '  a: { <<: *mock }', '  b:', '    <<: *mock', '    latency_ms: 7', ''].join('\n');
    const { config } = parseConfigText(text, 'merge.yaml', {});
    expect(config.providers).toMatchObject({ a: { type: 'mock', latency_ms: 5 }, b: { type: 'mock', latency_ms: 7 } });
    expect(Object.keys(config)).not.toContain('x-defaults');
  });

  it('refuses an alias bomb as a YAML problem of the file', () => {
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    const names = 'abcdefghi';
    for (let i = 1; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array.from({ length: 9 }, () => `*${names[i - 1]}`).join(',')}]`);
    expect(problemsOf(lines.join('\n'))).toEqual(['YAML: Excessive alias count indicates a resource exhaustion attack']);
  });

  it('accepts an empty file and a file of comments as the all-defaults configuration', () => {
    for (const text of ['', '# nothing configured yet\n']) {
      const { config, warnings } = parseConfigText(text, 'empty.yaml', {});
      expect(config.server).toEqual({ host: '0.0.0.0', port: 8080, body_limit: 10 * 1024 * 1024, shutdown_grace_ms: 10_000, request_timeout_ms: 300_000, busy_poll_us: 0, cors: { origins: [] } });
      expect(config.providers).toEqual({});
      expect(config.models).toEqual({});
      expect(warnings).toEqual([]);
    }
  });
});

describe('parseConfigText: defaults', () => {
  it('applies every documented default', () => {
    const { config, source } = parseConfigText('{}', 'defaults.yaml', {});
    expect(source).toBe('defaults.yaml');
    expect(config).toEqual({
      server: { host: '0.0.0.0', port: 8080, body_limit: 10_485_760, shutdown_grace_ms: 10_000, request_timeout_ms: 300_000, busy_poll_us: 0, cors: { origins: [] } },
      auth: {},
      // Unset: DATABASE_URL at start-up, else sqlite://./data/switchyard.db (governance/setup.ts).
      storage: {},
      redis: {},
      logging: { level: 'info' },
      upstream: {
        timeouts: { connect_ms: 10_000, first_byte_ms: 120_000, total_ms: 600_000 },
        max_connections_per_origin: 256,
        keep_alive_timeout_ms: 30_000,
        max_response_bytes: 256 * 1024 * 1024,
      },
      providers: {},
      models: {},
      routing: {
        rules: [],
        allow_client_overrides: false,
        retry: { max_retries: 2, initial_backoff_ms: 250, max_backoff_ms: 8000, deadline_ms: 300000, max_retry_after_ms: 10000 },
        circuit_breaker: { enabled: true, failure_rate: 0.5, minimum_requests: 10, window_ms: 30000, cooldown_ms: 30000, half_open_probes: 3 },
        health_checks: { enabled: false, interval_ms: 30000, timeout_ms: 10000 },
        stats_window_ms: 60000,
      },
      cache: {
        max_bytes: 268_435_456,
        max_entry_bytes: 4_194_304,
        default_ttl: 3600,
        namespace: 'shared',
        near_ttl: 0,
        key_prefix: 'switchyard:cache:',
        semantic: { embedder: 'local', local_dimensions: 384, max_entries: 100_000, embedding_cache_entries: 10_000 },
      },
      governance: {
        refresh_interval_ms: 5000,
        spend_refresh_interval_ms: 30000,
        limits: { on_redis_error: 'open', redis_timeout_ms: 250 },
        unpriced_models: 'deny',
        default_max_tokens: 4096,
        drain_timeout_ms: 30_000,
        rotation_grace: 86_400,
        spend: { max_queue: 10_000, batch_size: 500, flush_interval_ms: 1000, spill_path: './data/spend-spill.jsonl' },
      },
      metrics: { enabled: true, team_labels: false, max_teams: 100 },
      request_log: { enabled: true, bodies: false, max_body_bytes: 16_384, retention_days: 30 },
      tracing: { headers: {}, sample_ratio: 1, export_timeout_ms: 10_000 },
      sla: { evaluation_interval_ms: 10_000, objectives: [], alerts: { cooldown_ms: 600_000, retries: 2, webhooks: [] } },
    });
  });

  it('fills the defaults of a partly given section', () => {
    const { config } = parseConfigText('server:\n  port: 9000\nupstream:\n  timeouts:\n    total_ms: 0\n', 't.yaml', {});
    expect(config.server).toEqual({ host: '0.0.0.0', port: 9000, body_limit: 10_485_760, shutdown_grace_ms: 10_000, request_timeout_ms: 300_000, busy_poll_us: 0, cors: { origins: [] } });
    expect(config.upstream.timeouts).toEqual({ connect_ms: 10_000, first_byte_ms: 120_000, total_ms: 0 });
  });

  it.each([
    ['512kb', 512 * 1024],
    ['"512KB"', 512 * 1024],
    ['10mb', 10 * 1024 * 1024],
    ['1.5 MB', 1.5 * 1024 * 1024],
    ['1gb', 1024 ** 3],
    ['2048b', 2048],
    ['"2048"', 2048],
    ['4096', 4096],
  ])('reads body_limit %s as %d bytes', (given, bytes) => {
    expect(parseConfigText(`server:\n  body_limit: ${given}\n`, 't.yaml', {}).config.server.body_limit).toBe(bytes);
  });

  it.each(['10 megabytes', '-5', '1tb', 'lots'])('rejects body_limit %s, naming the field and the expected form', (given) => {
    const problems = problemsOf(`server:\n  body_limit: ${given}\n`);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^server\.body_limit: /);
  });

  it('explains the byte size format when a string does not parse', () => {
    expect(problemsOf('server:\n  body_limit: huge\n')).toEqual([
      'server.body_limit: expected a byte size such as 10485760, "512kb" or "10mb"',
    ]);
  });

  it('reads server.busy_poll_us in µs, 0 (off) by default, and rejects what is not a whole number of µs from 0 to 100000', () => {
    expect(parseConfigText('server:\n  busy_poll_us: 300\n', 't.yaml', {}).config.server.busy_poll_us).toBe(300);
    expect(parseConfigText('server:\n  busy_poll_us: "${BP:-250}"\n', 't.yaml', {}).config.server.busy_poll_us).toBe(250);
    for (const given of ['-1', '1.5', '100001', 'fast']) {
      const problems = problemsOf(`server:\n  busy_poll_us: ${given}\n`);
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/^server\.busy_poll_us: /);
    }
  });

  it('accepts numeric strings for numbers (what interpolation produces)', () => {
    const { config } = parseConfigText('server:\n  port: ${PORT}\nupstream:\n  timeouts:\n    first_byte_ms: "${FB:-5000}"\n', 't.yaml', { PORT: '9090' });
    expect(config.server.port).toBe(9090);
    expect(config.upstream.timeouts.first_byte_ms).toBe(5000);
  });

  it('rejects an out-of-range port and a non-numeric timeout', () => {
    expect(problemsOf('server:\n  port: 70000\n')).toEqual([expect.stringMatching(/^server\.port: /)]);
    expect(problemsOf('upstream:\n  timeouts:\n    connect_ms: soon\n')).toEqual([expect.stringMatching(/^upstream\.timeouts\.connect_ms: /)]);
  });

  it('rejects an empty or null number instead of reading it as 0', () => {
    expect(problemsOf('server:\n  port:\n')).toEqual([expect.stringMatching(/^server\.port: .*number/)]);
    expect(problemsOf('upstream:\n  timeouts: { connect_ms: "" }\n')).toEqual([expect.stringMatching(/^upstream\.timeouts\.connect_ms: /)]);
  });

  it('says a word where a number belongs is a string, not NaN', () => {
    expect(problemsOf('server: { port: eighty }\n')).toEqual(['server.port: expected a number, got "eighty"']);
  });

  it('reads "true" / "false" strings (what interpolation produces) as booleans', () => {
    const text = 'providers:\n  local: { type: openai-compatible, base_url: "http://127.0.0.1:1/v1", stream_usage: ${USAGE:-false} }\n';
    const provider = parseConfigText(text, 'test.yaml', {}).config.providers.local;
    expect(provider).toMatchObject({ stream_usage: false });
    expect(problemsOf(text.replace('${USAGE:-false}', 'maybe'))).toEqual([expect.stringMatching(/^providers\.local\.stream_usage: /)]);
  });

  it('applies provider and model group defaults', () => {
    const { config } = parseConfigText(
      'providers:\n  demo: { type: mock }\nmodels:\n  m:\n    targets: [ { provider: demo, model: mock } ]\n',
      't.yaml',
      {},
    );
    expect(config.providers.demo).toEqual({ type: 'mock', latency_ms: 0, tokens_per_second: 0 });
    expect(config.models.m).toEqual({
      targets: [{ provider: 'demo', model: 'mock', weight: 1 }],
      strategy: 'fallback',
      fallbacks: [],
      context_window_fallbacks: [],
      content_policy_fallbacks: [],
      coalesce: 'auto',
    });
  });
});

describe('parseConfigText: schema errors name the path', () => {
  it('refuses a CORS origin with a path, or without a scheme', () => {
    expect(problemsOf('server: { cors: { origins: ["https://app.example.com/", "app.example.com"] } }\n')).toEqual([
      'server.cors.origins[0]: an origin is a scheme and a host (https://app.example.com, http://localhost:3000, no path), or *',
      'server.cors.origins[1]: an origin is a scheme and a host (https://app.example.com, http://localhost:3000, no path), or *',
    ]);
  });

  it('refuses a master key no client could send (blank, or with whitespace around it), and a group name with a newline', () => {
    for (const key of ['" "', '""', '" sk-padded"']) expect(problemsOf(`auth: { master_key: ${key} }\n`)).toEqual(['auth.master_key: must not be empty or start or end with whitespace (no client could send it)']);
    expect(problemsOf('providers: { m: { type: mock } }\nmodels:\n  "a\\nb": { targets: [ { provider: m, model: x } ] }\n')).toEqual([
      'models["a\\nb"]: model group names cannot contain control characters (newlines, tabs)',
    ]);
  });

  const providers = 'providers:\n  openai: { type: openai, api_key: sk-test }\n  local: { type: openai-compatible, base_url: "http://127.0.0.1:8000/v1" }\n';

  it('names an unknown target provider with a did-you-mean', () => {
    const text = `${providers}models:\n  smart:\n    targets:\n      - { provider: openai, model: gpt-4o }\n      - { provider: opnai, model: gpt-4o-mini }\n`;
    expect(problemsOf(text)).toEqual(['models.smart.targets[1].provider: unknown provider "opnai" (did you mean "openai"?)']);
  });

  it('reports a provider typo and what needs redis.url together with the file\'s other problems', () => {
    const text = `${providers}server: { port: abc }\ngovernance: { limits: { backend: redis } }\ncache: { store: redis }\nmodels:\n  m:\n    targets: [ { provider: opnai, model: x } ]\n`;
    expect(problemsOf(text)).toEqual([
      expect.stringMatching(/^server\.port: /),
      'models.m.targets[0].provider: unknown provider "opnai" (did you mean "openai"?)',
      'governance.limits.backend: the redis limits backend needs redis.url',
      'cache.store: the redis cache store needs redis.url',
    ]);
  });

  it('lists the known providers when nothing is close', () => {
    const text = `${providers}models:\n  m:\n    targets: [ { provider: anthropic, model: claude } ]\n`;
    expect(problemsOf(text)).toEqual(['models.m.targets[0].provider: unknown provider "anthropic" (known: openai, local)']);
  });

  it('says when no providers are configured at all', () => {
    expect(problemsOf('models:\n  m:\n    targets: [ { provider: openai, model: x } ]\n')).toEqual([
      'models.m.targets[0].provider: unknown provider "openai" (none are configured)',
    ]);
  });

  it('names an unknown fallback group with a did-you-mean', () => {
    const text = `${providers}models:\n  gpt-4o-mini:\n    targets: [ { provider: openai, model: gpt-4o-mini } ]\n  smart:\n    targets: [ { provider: openai, model: gpt-4o } ]\n    fallbacks: [gpt-4o-mni]\n`;
    expect(problemsOf(text)).toEqual(['models.smart.fallbacks[0]: unknown model group "gpt-4o-mni" (did you mean "gpt-4o-mini"?)']);
  });

  it('names an unknown provider type', () => {
    expect(problemsOf('providers:\n  x: { type: opnai }\n')).toEqual([
      'providers.x.type: unknown provider type "opnai" (supported: openai, openai-compatible, anthropic, gemini, vertex, bedrock, azure, mock)',
    ]);
  });

  it('requires base_url or a preset for an openai-compatible provider', () => {
    expect(problemsOf('providers:\n  local: { type: openai-compatible }\n')).toEqual([
      'providers.local.base_url: an openai-compatible provider needs base_url (or a preset)',
    ]);
    expect(parseConfigText('providers:\n  local: { type: openai-compatible, preset: ollama }\n', 't.yaml', {}).config.providers.local).toMatchObject({
      preset: 'ollama',
    });
  });

  it('rejects a model group without targets', () => {
    expect(problemsOf('models:\n  empty:\n    targets: []\n')).toEqual(['models.empty.targets: a model group needs at least one target']);
  });

  it('reports unknown keys at the top level and inside sections', () => {
    const problems = problemsOf('server:\n  prot: 8080\nsevrer: {}\nproviders:\n  demo: { type: mock, latency: 5 }\n');
    expect(problems).toEqual(expect.arrayContaining(['server: unknown key "prot"', 'unknown key "sevrer"', 'providers.demo: unknown key "latency"']));
    expect(problems).toHaveLength(3);
  });

  it('lists several unknown keys of one object in one problem', () => {
    expect(problemsOf('server:\n  a: 1\n  b: 2\n')).toEqual(['server: unknown keys "a", "b"']);
  });

  it('reports every problem of a file, not only the first', () => {
    const problems = problemsOf('server:\n  port: -1\nlogging:\n  level: loud\n');
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^server\.port: /);
    expect(problems[1]).toMatch(/^logging\.level: /);
  });

  it('rejects provider ids with characters outside letters, digits, "_", "-", "."', () => {
    expect(problemsOf('providers:\n  "my provider": { type: mock }\n')).toEqual([
      'providers["my provider"]: provider ids use letters, digits, "_", "-" and "."',
    ]);
  });
});

describe('parseConfigText: interpolation', () => {
  it('refuses a ${ that starts no reference, inside flow mappings too, quoting the value unless it is a credential', () => {
    expect(problemsOf('providers:\n  o: { type: openai-compatible, base_url: "http://h/${HOST", api_key: "${KEY" }\n')).toEqual([
      'providers.o.base_url: "http://h/${HOST" has a ${ that starts no ${NAME} or ${NAME:-default} reference (write $${ for a literal ${)',
      'providers.o.api_key: the value has a ${ that starts no ${NAME} or ${NAME:-default} reference (write $${ for a literal ${)',
    ]);
    expect(problemsOf('logging: { level: "${1LEVEL}" }\n')[0]).toMatch(/^logging\.level: "\$\{1LEVEL\}" has a \$\{ that starts no/);
    // $${ is a literal ${.
    expect(parseConfigText('providers:\n  o: { type: openai, api_key: "a$${b" }\n', 'x.yaml', {}).config.providers.o).toMatchObject({ api_key: 'a${b' });
  });

  it("reports the file's other problems beside a ${ that starts no reference", () => {
    const text = 'auth: { master_key: "${KEY" }\nproviders: { openai: { type: openai } }\nmodels: { m: { targets: [ { provider: opnai, model: x } ] } }\n';
    expect(problemsOf(text)).toEqual([
      'auth.master_key: the value has a ${ that starts no ${NAME} or ${NAME:-default} reference (write $${ for a literal ${)',
      'models.m.targets[0].provider: unknown provider "opnai" (did you mean "openai"?)',
    ]);
  });

  it("never quotes a header's value back: headers carry credentials", () => {
    expect(problemsOf('providers:\n  o: { type: openai, headers: { x-secret: 555666777888 } }\ntracing: { headers: { authorization: 777888999 } }\n')).toEqual([
      'providers.o.headers.x-secret: expected a string, got a number',
      'tracing.headers.authorization: expected a string, got a number',
    ]);
  });

  it('interpolates ${VAR} inside YAML flow mappings, as in the documented example config', () => {
    const text = [
      'server: { host: 0.0.0.0, port: 8080 }',
      'auth:   { master_key: ${SWITCHYARD_MASTER_KEY} }      # admin API; also a valid client key',
      'storage: { url: ${DATABASE_URL:-sqlite://./data/switchyard.db} }',
      'redis:   { url: ${REDIS_URL:-} }',
      'providers:',
      '  openai:    { type: openai, api_key: ${OPENAI_API_KEY} }',
      '  local:     { type: openai-compatible, base_url: http://127.0.0.1:8000/v1 }',
      '  demo:      { type: mock }',
      'models:',
      '  gpt-4o-mini:',
      '    targets: [ { provider: openai, model: gpt-4o-mini } ]',
      '  smart:',
      '    strategy: fallback',
      '    targets:',
      '      - { provider: local, model: qwen }',
      '      - { provider: openai, model: gpt-4o, weight: 2 }',
      '    fallbacks: [gpt-4o-mini]',
      '',
    ].join('\n');
    const { config, warnings } = parseConfigText(text, 'switchyard.yaml', { SWITCHYARD_MASTER_KEY: 'sk-master', OPENAI_API_KEY: 'sk-openai' });
    expect(config.auth.master_key).toBe('sk-master');
    expect(config.storage.url).toBe('sqlite://./data/switchyard.db');
    expect(config.redis.url).toBeUndefined();
    expect(config.providers.openai).toEqual({ type: 'openai', api_key: 'sk-openai' });
    expect(config.models.smart!.targets[1]).toMatchObject({ provider: 'openai', model: 'gpt-4o', weight: 2 });
    expect(warnings).toEqual([]);
  });

  it('interpolates references in flow sequences and inside longer flow scalars', () => {
    const text = 'providers:\n  p: { type: openai-compatible, base_url: "http://${HOST}:8000/v1", headers: { x-team: ${TEAM} } }\nmodels:\n  m: { targets: [ { provider: p, model: ${MODEL:-llama} } ] }\n';
    const { config } = parseConfigText(text, 't.yaml', { HOST: 'gpu-box', TEAM: 'search' });
    expect(config.providers.p).toEqual({ type: 'openai-compatible', base_url: 'http://gpu-box:8000/v1', headers: { 'x-team': 'search' } });
    expect(config.models.m!.targets[0]!.model).toBe('llama');
  });

  it('keeps an escaped $${VAR} literal, also inside a flow mapping', () => {
    const { config } = parseConfigText('providers:\n  p: { type: openai, api_key: $${NOT_EXPANDED} }\n', 't.yaml', { NOT_EXPANDED: 'x' });
    expect(config.providers.p).toMatchObject({ api_key: '${NOT_EXPANDED}' });
  });

  it('keeps YAML error positions right on a line with references', () => {
    // "trailing" starts in column 65 of line 2, after two references.
    const line = 'auth: { master_key: ${A_LONG_VARIABLE_NAME}, x: ${B:-default} } trailing';
    expect(line.indexOf('trailing') + 1).toBe(65);
    expect(problemsOf(`server: {}\n${line}\n`)).toEqual(['YAML: Unexpected scalar at node end at line 2, column 65']);
  });

  it('warns about unset variables without a default, and a key left empty takes its default', () => {
    const { config, warnings } = parseConfigText('auth:\n  master_key: ${SWITCHYARD_MASTER_KEY}\nserver:\n  port: ${PORT}\n', 't.yaml', {});
    expect(config.auth.master_key).toBeUndefined();
    expect(config.server.port).toBe(8080);
    expect([...warnings].sort()).toEqual([
      'environment variable PORT is not set; its value is empty',
      'environment variable SWITCHYARD_MASTER_KEY is not set; its value is empty',
    ]);
  });

  it('does not let an env value inject configuration structure', () => {
    const injected = 'x\nproviders:\n  evil: { type: openai, base_url: "http://attacker.example" }';
    const { config } = parseConfigText('auth:\n  master_key: ${KEY}\n', 't.yaml', { KEY: injected });
    expect(config.auth.master_key).toBe(injected);
    expect(config.providers).toEqual({});
  });

  it('reads process.env when no env is given', () => {
    const name = 'SWITCHYARD_TEST_ONLY_VAR_FOR_LOAD';
    process.env[name] = 'from-process-env';
    try {
      expect(parseConfigText(`auth:\n  master_key: \${${name}}\n`, 't.yaml').config.auth.master_key).toBe('from-process-env');
    } finally {
      delete process.env[name];
    }
  });
});

describe('parseConfigText: keys accepted but not in effect yet', () => {
  it('takes cache settings without a warning', () => {
    const text = 'providers:\n  demo: { type: mock }\nmodels:\n  m:\n    strategy: least-latency\n    targets: [ { provider: demo, model: mock } ]\n    cache: { exact: true, ttl: 3600 }\n';
    const { config, warnings } = parseConfigText(text, 't.yaml', {});
    expect(config.models.m!.strategy).toBe('least-latency');
    expect(config.models.m!.cache).toEqual({ exact: true, ttl: 3600 });
    expect(warnings).toEqual([]);
  });

  it('warns that a provider-level connect_ms is not applied (connect timeouts are gateway-wide)', () => {
    const text = 'providers:\n  demo: { type: openai, api_key: sk-x, timeouts: { connect_ms: 500 } }\n';
    expect(parseConfigText(text, 't.yaml', {}).warnings).toEqual(['providers.demo.timeouts.connect_ms: connect timeouts are gateway-wide (upstream.timeouts.connect_ms); ignored here']);
  });

  it('rejects an unknown strategy', () => {
    const text = 'providers:\n  demo: { type: mock }\nmodels:\n  m:\n    strategy: fastest\n    targets: [ { provider: demo, model: mock } ]\n';
    expect(problemsOf(text)).toEqual([expect.stringMatching(/^models\.m\.strategy: /)]);
  });
});

describe('parseConfigText: caching', () => {
  const group = (cache: string, extra = '') => `providers:\n  demo: { type: mock }\n${extra}models:\n  m:\n    targets: [ { provider: demo, model: mock } ]\n    cache: ${cache}\n`;

  it('has defaults: memory store, 1 h TTL, the shared namespace, coalescing on auto', () => {
    const { config } = parseConfigText('providers:\n  demo: { type: mock }\nmodels:\n  m:\n    targets: [ { provider: demo, model: mock } ]\n', 't.yaml', {});
    expect(config.cache.store).toBeUndefined();
    expect(config.cache).toMatchObject({ default_ttl: 3600, namespace: 'shared', max_bytes: 256 * 1024 * 1024 });
    expect(config.cache.semantic).toMatchObject({ embedder: 'local', local_dimensions: 384, max_entries: 100_000 });
    expect(config.models.m!.cache).toBeUndefined();
    expect(config.models.m!.coalesce).toBe('auto');
  });

  it('reads TTLs in seconds or with a unit', () => {
    expect(parseConfigText(group('{ exact: true, ttl: "5m" }'), 't.yaml', {}).config.models.m!.cache!.ttl).toBe(300);
    expect(parseConfigText(group('{ exact: true, ttl: "2h" }'), 't.yaml', {}).config.models.m!.cache!.ttl).toBe(7200);
    expect(problemsOf(group('{ exact: true, ttl: 0 }'))).toEqual([expect.stringMatching(/^models\.m\.cache\.ttl: /)]);
    expect(problemsOf(group('{ exact: true, ttl: "soon" }'))).toEqual([expect.stringMatching(/^models\.m\.cache\.ttl: expected a number of seconds/)]);
  });

  it('takes `semantic: true` as the default semantic settings', () => {
    const cache = parseConfigText(group('{ semantic: true }'), 't.yaml', {}).config.models.m!.cache!;
    expect(cache.exact).toBe(false);
    expect(cache.semantic).toEqual({ threshold: 0.95, max_messages: 4 });
    expect(parseConfigText(group('{ semantic: false }'), 't.yaml', {}).config.models.m!.cache!.semantic).toBeUndefined();
    expect(problemsOf(group('{ semantic: { threshold: 1.5 } }'))).toEqual([expect.stringMatching(/^models\.m\.cache\.semantic/)]);
  });

  it('checks the embedder names a group or a provider', () => {
    expect(problemsOf(group('{ semantic: { embedder: embedz } }'))).toEqual([expect.stringMatching(/^models\.m\.cache\.semantic\.embedder: unknown model group "embedz"/)]);
    expect(parseConfigText(group('{ semantic: { embedder: demo/mock-embed } }'), 't.yaml', {}).config.models.m!.cache!.semantic!.embedder).toBe('demo/mock-embed');
    expect(parseConfigText(group('{ semantic: { embedder: m } }'), 't.yaml', {}).config.models.m!.cache!.semantic!.embedder).toBe('m');
  });

  it('needs redis.url for the redis store, and rejects a namespace with a colon', () => {
    expect(problemsOf(group('{ exact: true }', 'cache: { store: redis }\n'))).toEqual(['cache.store: the redis cache store needs redis.url']);
    expect(problemsOf(group('{ exact: true, namespace: "a:b" }'))).toEqual([expect.stringMatching(/^models\.m\.cache\.namespace: /)]);
  });

  it('rejects an unknown coalesce mode and unknown cache keys', () => {
    expect(problemsOf('providers:\n  demo: { type: mock }\nmodels:\n  m:\n    targets: [ { provider: demo, model: mock } ]\n    coalesce: sometimes\n')).toEqual([expect.stringMatching(/^models\.m\.coalesce: /)]);
    expect(problemsOf(group('{ exact: true, tll: 5 }'))).toEqual([expect.stringMatching(/^models\.m\.cache: .*tll/)]);
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'switchyard-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads and interpolates a file', async () => {
    const path = join(dir, 'ok.yaml');
    await writeFile(path, 'server:\n  port: ${PORT:-9999}\n');
    const loaded = await loadConfigFile(path, {});
    expect(loaded.source).toBe(path);
    expect(loaded.config.server.port).toBe(9999);
  });

  it('reports a missing file as a ConfigError saying so', async () => {
    const path = join(dir, 'does-not-exist.yaml');
    await expect(loadConfigFile(path, {})).rejects.toMatchObject({ name: 'ConfigError', source: path, problems: ['file not found'] });
  });

  it('says a directory given as the config file is a directory', async () => {
    await expect(loadConfigFile(dir, {})).rejects.toMatchObject({ name: 'ConfigError', source: dir, problems: [`${dir} is a directory, not a config file`] });
  });
});

describe('formatPath', () => {
  it('quotes a key with whitespace or control characters in it', () => {
    expect(formatPath(['models', 'a\nb', 'targets', 0])).toBe('models["a\\nb"].targets[0]');
    expect(formatPath(['models', 'my group'])).toBe('models["my group"]');
  });

  it('joins keys with dots and puts indexes in brackets', () => {
    expect(formatPath(['models', 'smart', 'targets', 1, 'provider'])).toBe('models.smart.targets[1].provider');
    expect(formatPath(['messages', 0, 'content', 2, 'type'])).toBe('messages[0].content[2].type');
    expect(formatPath([])).toBe('');
  });
});

describe('parseConfigText: sizes and durations that must be positive', () => {
  it.each([
    ['server.body_limit', 'server: { body_limit: 0mb }'],
    ['server.body_limit', 'server: { body_limit: "0.1b" }'],
    ['server.body_limit', 'server: { body_limit: "0.4" }'],
    ['upstream.max_response_bytes', 'upstream: { max_response_bytes: 0kb }'],
    ['request_log.max_body_bytes', 'request_log: { max_body_bytes: 0gb }'],
    ['cache.max_bytes', 'cache: { max_bytes: "0 MB" }'],
  ])('rejects a size string that comes out below 1 byte (%s)', (path, text) => {
    expect(problemsOf(text)).toEqual([expect.stringMatching(new RegExp(`^${path.replace('.', '\\.')}: must be at least 1 byte, got ".+" \\(0 bytes\\)$`))]);
  });

  it('still floors a fractional size that is at least 1 byte', () => {
    expect(parseConfigText('server: { body_limit: "1.9b" }', 't.yaml', {}).config.server.body_limit).toBe(1);
    expect(parseConfigText('server: { body_limit: 0.5kb }', 't.yaml', {}).config.server.body_limit).toBe(512);
  });

  it.each([
    ['upstream.keep_alive_timeout_ms', 'upstream: { keep_alive_timeout_ms: 0 }'],
    ['governance.refresh_interval_ms', 'governance: { refresh_interval_ms: 0 }'],
    ['governance.spend.flush_interval_ms', 'governance: { spend: { flush_interval_ms: "0" } }'],
    ['governance.limits.redis_timeout_ms', 'governance: { limits: { redis_timeout_ms: 0 } }'],
    ['routing.health_checks.timeout_ms', 'routing: { health_checks: { timeout_ms: 0 } }'],
    ['routing.circuit_breaker.window_ms', 'routing: { circuit_breaker: { window_ms: 0 } }'],
  ])('rejects 0 for %s (an interval that would spin, a timeout that always fails)', (path, text) => {
    expect(problemsOf(text)).toEqual([`${path}: must be more than 0, got 0`]);
  });

  it('keeps 0 where it means something (no limit, at once)', () => {
    const text = 'server: { shutdown_grace_ms: 0 }\nupstream: { timeouts: { first_byte_ms: 0, total_ms: 0 } }\ngovernance: { drain_timeout_ms: 0 }\nrouting: { retry: { deadline_ms: 0 } }\n';
    expect(() => parseConfigText(text, 't.yaml', {})).not.toThrow();
  });
});

describe('parseConfigText: a problem caused by an unset variable names it', () => {
  it('names the variable at the path its empty value left a problem', () => {
    expect(problemsOf('providers: { az: { type: azure, base_url: ${SY_UNSET}, api_key: k } }')).toEqual([
      'providers.az.base_url: is required (expected a string) (SY_UNSET is not set)',
    ]);
    expect(problemsOf('providers: { demo: { type: mock, latency_ms: "${SY_LAT}ms" } }')).toEqual([
      'providers.demo.latency_ms: expected a number, got "ms" (SY_LAT is not set)',
    ]);
  });

  it('names a variable that is set nowhere it matters only after the problems', () => {
    expect(problemsOf('governance: { limits: { backend: redis } }\nredis: { url: ${REDIS_URL} }\n')).toEqual([
      'governance.limits.backend: the redis limits backend needs redis.url',
      'also, these environment variables are not set (their values came out empty): REDIS_URL (redis.url)',
    ]);
  });

  it('says nothing of variables that are set', () => {
    expect(problemsOf('providers: { demo: { type: mock, latency_ms: "${SY_LAT}ms" } }', { SY_LAT: '5' })).toEqual([
      'providers.demo.latency_ms: expected a number, got "5ms"',
    ]);
  });
});

describe('parseConfigText: problems in words', () => {
  it.each([
    ['a missing required field', 'providers: { az: { type: azure } }', 'providers.az.base_url: is required (expected a string)'],
    ['a provider without a type', 'providers: { x: { api_key: k } }', 'providers.x.type: is required (one of: openai, openai-compatible, anthropic, gemini, vertex, bedrock, azure, mock)'],
    ['a fraction where a whole number belongs', 'server: { shutdown_grace_ms: 1.5 }', 'server.shutdown_grace_ms: expected a whole number, got 1.5'],
    ['a negative duration', 'providers: { demo: { type: mock, latency_ms: -5 } }', 'providers.demo.latency_ms: must be 0 or more, got -5'],
    ['a word from a default where a number belongs', 'server: { port: ${X:-abc} }', 'server.port: expected a number, got "abc"'],
    ['a port out of range', 'server: { port: 70000 }', 'server.port: must be 65535 or less, got 70000'],
    ['an empty value', 'server:\n  port:\n', 'server.port: expected a number, got an empty value'],
    ['an unknown option', 'logging: { level: loud }', 'logging.level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"'],
    ['a union of a literal and a number', 'providers: { p: { type: mock } }\nmodels: { m: { targets: [ { provider: p, model: x } ], hedge: { delay_ms: soon } } }', 'models.m.hedge.delay_ms: expected "p95" or a number, got "soon"'],
    ['a value of neither accepted type', 'server: { body_limit: true }', 'server.body_limit: expected a number or a string, got true'],
    ['a bad URL', 'providers: { p: { type: openai, base_url: nope } }', 'providers.p.base_url: expected an http(s) URL such as https://api.example.com/v1, got "nope"'],
    // "localhost:8000/v1" parses as a URL of scheme "localhost:", which no request can use.
    ['a URL without its scheme', 'providers: { p: { type: openai-compatible, base_url: "localhost:8000/v1" } }', 'providers.p.base_url: expected an http(s) URL, got "localhost:8000/v1" (did you mean "http://localhost:8000/v1"?)'],
    ['a URL of another scheme', 'providers: { p: { type: anthropic, base_url: "ftp://10.0.0.1/v1" } }', 'providers.p.base_url: expected an http(s) URL such as https://api.example.com/v1, got "ftp://10.0.0.1/v1"'],
    ['a key with a secret file\'s trailing newline', 'providers: { p: { type: openai, api_key: "sk-abc\\n" } }', 'providers.p.api_key: contains a line break, which an HTTP header cannot carry (a trailing newline from a secret file?)'],
    ['a header value with a control character', 'providers: { p: { type: gemini, headers: { x-a: "a\\u0001b" } } }', 'providers.p.headers.x-a: contains a control or non-Latin-1 character, which an HTTP header cannot carry'],
    ['a header name with a space', 'providers: { p: { type: openai, headers: { "x a": b } } }', 'providers.p.headers["x a"]: is not a valid HTTP header name (letters, digits and !#$%&\'*+-.^_`|~ only)'],
    ['a region that is not one', 'providers: { p: { type: bedrock, region: "us east 1" } }', 'providers.p.region: expected an AWS region such as us-east-1 or eu-central-1'],
    ['a list where a mapping belongs', 'server: [1, 2]', 'server: expected a mapping (key: value pairs), got a list'],
    ['a list where a mapping of names belongs', 'models: [a, b]', 'models: expected a mapping (key: value pairs), got a list'],
    ['a number in hexadecimal', 'server: { port: "0x50" }', 'server.port: expected a number, got "0x50"'],
    ['a number with an exponent', 'governance: { default_max_tokens: "1e3" }', 'governance.default_max_tokens: expected a number, got "1e3"'],
  ])('%s', (_what, text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });

  it('never quotes a secret back', () => {
    expect(problemsOf('providers: { p: { type: openai, api_key: 1234567 } }')).toEqual(['providers.p.api_key: expected a string, got a number']);
  });

  it('keeps the messages the schema gives itself', () => {
    expect(problemsOf('server:\n  body_limit: huge\n')).toEqual(['server.body_limit: expected a byte size such as 10485760, "512kb" or "10mb"']);
    expect(problemsOf('providers:\n  x: { type: opnai }\n')).toEqual([expect.stringMatching(/^providers\.x\.type: unknown provider type "opnai" \(supported: /)]);
  });

  it('says a file of several YAML documents holds several', () => {
    expect(problemsOf('server: { port: 1 }\n---\nserver: { port: 2 }\n')).toEqual(['YAML: the file holds several YAML documents (--- at line 2); Switchyard reads one']);
  });

  it('names a duplicate top-level key and one in a flow mapping or a list item', () => {
    expect(problemsOf('server: {}\nserver: {}\n')).toEqual(['YAML: duplicate key "server" at line 2, column 1 (first given at line 1); a key may appear once in a mapping']);
    expect(problemsOf('models:\n  m:\n    targets:\n      - { provider: a, model: x, model: y }\n')).toEqual([
      'YAML: duplicate key "model" in models.m.targets[0] at line 4, column 34 (first given at line 4); a key may appear once in a mapping',
    ]);
  });

  it('leaves no dangling colon on other YAML errors', () => {
    expect(problemsOf('server:\n  host: [unclosed\n')[0]).toMatch(/^YAML: .*line \d+, column \d+$/);
  });

  it('words issues without the value received, as the admin API parses them', () => {
    const schema = z.strictObject({ name: z.string(), rpm: z.number().int().positive(), period: z.enum(['daily', 'monthly']) });
    const result = schema.safeParse({ rpm: 0, period: 'yearly' });
    expect(result.success).toBe(false);
    expect(result.error!.issues.map(formatIssue)).toEqual(['name: is required (expected a string)', 'rpm: must be more than 0', 'period: expected one of "daily", "monthly"']);
  });
});

describe('parseConfigText: every kind of problem at once', () => {
  const file = 'server: { port: abc }\nproviders: { openai: { type: openai } }\nmodels:\n  m: { targets: [ { provider: opnai, model: x } ], fallbacks: [m2] }\n';

  it('reports unknown providers and groups along with the problems of the base schema', () => {
    expect(problemsOf(file)).toEqual([
      'server.port: expected a number, got "abc"',
      'models.m.targets[0].provider: unknown provider "opnai" (did you mean "openai"?)',
      'models.m.fallbacks[0]: unknown model group "m2" (did you mean "m"?)',
    ]);
  });

  it('counts a provider that is configured but invalid as configured', () => {
    expect(problemsOf('server: { port: abc }\nproviders: { az: { type: azure } }\nmodels: { m: { targets: [ { provider: az, model: x } ] } }\n')).toEqual([
      'server.port: expected a number, got "abc"',
      'providers.az.base_url: is required (expected a string)',
    ]);
  });

  it('reports each reference problem once when the rest is valid', () => {
    expect(problemsOf(file.replace('port: abc', 'port: 1'))).toEqual([
      'models.m.targets[0].provider: unknown provider "opnai" (did you mean "openai"?)',
      'models.m.fallbacks[0]: unknown model group "m2" (did you mean "m"?)',
    ]);
  });
});

describe('parseConfigText: redis.url', () => {
  it.each([
    'redis://localhost:6379',
    'redis://cache',
    'redis://:s3cret@cache:6379/2',
    'redis://user:pw@[::1]:6379/0',
    'rediss://cache.example.com:6380',
    'REDIS://cache:6379',
    '/run/redis/redis.sock',
    '/tmp/redis.sock?db=2',
  ])('accepts %s', (url) => {
    expect(parseConfigText(`redis: { url: "${url}" }`, 't.yaml', {}).config.redis.url).toBe(url);
  });

  it('takes an empty url as not set', () => {
    expect(parseConfigText('redis: { url: "" }', 't.yaml', {}).config.redis.url).toBeUndefined();
    expect(parseConfigText('redis: { url: ${REDIS_URL:-} }', 't.yaml', {}).config.redis.url).toBeUndefined();
  });

  it.each(['not-a-url', 'cache:6379', 'http://cache:6379', 'redis://', 'redis://cache/zero', '//cache:6379', 'unix:///run/redis.sock'])('rejects %s', (url) => {
    expect(problemsOf(`redis: { url: "${url}" }`)).toEqual([expect.stringMatching(/^redis\.url: expected redis:\/\/\[user:password@\]host\[:port\]\[\/db\], rediss:\/\/\.\.\. \(TLS\) or a Unix socket path/)]);
  });
});
