/**
 * Starts a gateway from a loaded config: wires providers → registry → executor → pipeline → app,
 * listens, prints the banner, and shuts down gracefully on SIGTERM / SIGINT.
 */
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type LoadedConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { withEnvOverrides } from './config/env-overrides.js';
import { changesNeedingRestart, reloadedConfig, type ReloadOutcome } from './config/reload-scope.js';
import { createResponseCache } from './cache/setup.js';
import { embedThrough } from './gateway/embed-call.js';
import { Pipeline } from './gateway/pipeline.js';
import { SharedCalls } from './gateway/shared-calls.js';
import { createGovernance, DEFAULT_STORAGE_URL, type Governance } from './governance/setup.js';
import { buildApp } from './http/app.js';
import { BusyPoll } from './busy-poll.js';
import type { Readiness } from './http/routes/ops.js';
import { Metrics } from './observability/metrics.js';
import type { Observers } from './observability/observers.js';
import { LogStream } from './observability/log-stream.js';
import { isoTimeField } from './observability/log-time.js';
import { ReloadMetrics } from './observability/reload-metrics.js';
import { RequestRecorder } from './observability/request-recorder.js';
import { startRetention } from './observability/retention.js';
import { throttledLog } from './observability/throttled-log.js';
import { SlaMonitor } from './observability/sla/monitor.js';
import { createTracing } from './observability/tracing.js';
import { buildProviders } from './providers/registry.js';
import { closeTransport, configureTransport } from './providers/transport.js';
import { shutdownStep } from './shutdown-step.js';
import { preloadCatalogue } from './routing/catalog.js';
import { RoutingMetrics } from './routing/events.js';
import { Executor } from './routing/executor.js';
import { startHealthProbes } from './routing/health/probes.js';
import { ModelRegistry } from './routing/models.js';
import { Router } from './routing/router.js';

/** After the grace period, how long shutdown waits for cut requests to be settled before flushing. */
const SETTLE_WAIT_MS = 5_000;
/** How long each later step of shutdown (closing a store, exporting the last spans) may take. */
const TEARDOWN_STEP_MS = 3_000;
/** Governance's step: the spend writer's 5 s for the database, then its own bounded closes. */
const GOVERNANCE_CLOSE_MS = 12_000;

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  /**
   * Reads the configuration file again and applies its providers, models and routing (SIGHUP,
   * POST /admin/config/reload); nothing is applied without a file, from an invalid one, or when
   * its providers cannot be built.
   */
  reload(): Promise<ReloadOutcome>;
  /** Stops accepting, lets in-flight requests finish up to the grace period, then closes. */
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** Loads the configuration again for a reload; absent when the gateway runs on the embedded default. */
  reloadConfig?: () => Promise<LoadedConfig>;
}

export async function startGateway(loaded: LoadedConfig, env: NodeJS.ProcessEnv = process.env, options: GatewayOptions = {}): Promise<RunningGateway> {
  const config = withEnvOverrides(loaded.config, env);
  // Asynchronous, buffered stdout: lines go out in ~16 KB writes, flushed at least every 200 ms.
  const logStream = new LogStream();
  const logger = pino({ level: config.logging.level, base: { service: 'switchyard' }, timestamp: isoTimeField }, logStream);
  for (const warning of loaded.warnings) logger.warn(warning);

  configureTransport({
    connectTimeoutMs: config.upstream.timeouts.connect_ms,
    keepAliveTimeoutMs: config.upstream.keep_alive_timeout_ms,
    maxConnectionsPerOrigin: config.upstream.max_connections_per_origin,
    maxResponseBytes: config.upstream.max_response_bytes,
  });
  const metrics = new Metrics({ enabled: config.metrics.enabled, teamLabels: config.metrics.team_labels, maxTeams: config.metrics.max_teams });
  const routingEvents = new RoutingMetrics(metrics.registry);
  const buildModels = async (source: Config): Promise<ModelRegistry> => {
    // Direct <provider>/<model> requests look models up in the catalogue: load it before the first one.
    if (Object.values(source.providers).some((p) => p.type !== 'mock')) preloadCatalogue();
    const registry: ModelRegistry = new ModelRegistry(source, await buildProviders(source, env, loaded.source), {
      onBreakerTransition: (target, from, to) => {
        // A call still running on a registry a reload replaced: its target is no longer served,
        // and its state series must not come back (an open breaker would alert for ever).
        if (pipeline.models !== registry) return;
        routingEvents.breakerTransition(target, from, to);
        logger.warn({ provider: target.providerId, model: target.model, from, to }, 'circuit breaker state changed');
      },
      onQueueWait: (target, ms) => routingEvents.queueWait(target, ms),
    });
    routingEvents.registerTargets(registry.configuredTargets());
    return registry;
  };
  const models = await buildModels(config);
  // Model embedders of the semantic cache call the pipeline itself (only ever after it exists).
  const cache = await createResponseCache(config, { registry: metrics.registry, logger, embedWith: (model) => embedThrough(() => pipeline, model) });
  const shared = new SharedCalls(() => cache.metrics.coalesced());
  const storageUrl = config.storage.url ?? DEFAULT_STORAGE_URL;
  const governance = await createGovernance(config, storageUrl, { models: () => pipeline.models, registry: metrics.registry, logger });
  const exportFailed = throttledLog(logger, 'warn');
  const tracing = await createTracing(config.tracing, env, { onExportError: (err) => exportFailed('traces', err, 'could not export traces to the OpenTelemetry collector; spans of that batch are dropped') });
  const sla = new SlaMonitor(config.sla, { registry: metrics.registry, logger });
  sla.start();
  const recorder = new RequestRecorder(governance.rows, { enabled: config.request_log.enabled, bodies: config.request_log.bodies, maxBodyBytes: config.request_log.max_body_bytes });
  const stopRetention = config.request_log.retention_days > 0 ? startRetention(governance.store, config.request_log.retention_days, logger) : undefined;
  const observers: Observers = { metrics, recorder, sla, tracing };
  const pipeline = new Pipeline(new Router(models, config.routing.rules), new Executor(routingEvents), { cache, shared, admission: governance.admission });
  const probe = (source: Config, registry: ModelRegistry): (() => void) | undefined => {
    const checks = source.routing.health_checks;
    return checks.enabled ? startHealthProbes(registry, { intervalMs: checks.interval_ms, timeoutMs: checks.timeout_ms }, logger) : undefined;
  };
  let stopProbes = probe(config, models);
  let closing: Promise<void> | undefined;
  // The configuration in force: the file's reloadable sections change with each reload.
  let running = config;
  const reloads = new ReloadMetrics(metrics.registry);
  const applyReload = async (): Promise<ReloadOutcome> => {
    if (!options.reloadConfig) {
      logger.warn('configuration reload asked for, but the gateway runs on the embedded default: there is no file to read');
      return { applied: false, problems: ['the gateway runs on the embedded default: there is no configuration file to reload'] };
    }
    try {
      const reread = await options.reloadConfig();
      for (const warning of reread.warnings) logger.warn(warning);
      const next = withEnvOverrides(reread.config, env);
      const unchanged = changesNeedingRestart(running, next);
      const applied = reloadedConfig(running, next);
      const registry = await buildModels(applied);
      // A file caught half-written (truncated, then filled) reads as an empty configuration:
      // serving nothing at all is a restart's decision, never a reload's.
      if (registry.groupNames().length === 0 && registry.providerIds().length === 0) {
        throw new Error('the file configures no providers and no models (is it empty, or still being written?): to serve nothing, restart with it');
      }
      // Shutting down (its probes stopped): nothing new starts.
      if (closing) return { applied: false, problems: ['the gateway is shutting down'] };
      pipeline.useRouter(new Router(registry, applied.routing.rules));
      stopProbes?.();
      stopProbes = probe(applied, registry);
      running = applied;
      if (unchanged.length > 0) logger.warn({ unchanged }, `configuration reloaded without ${unchanged.join(', ')}: ${unchanged.length === 1 ? 'that change takes' : 'those changes take'} effect at the next restart`);
      const outcome = { applied: true as const, models: registry.groupNames(), providers: registry.providerIds(), unchanged };
      logger.info({ models: outcome.models, providers: outcome.providers }, 'configuration reloaded');
      reloads.applied();
      return outcome;
    } catch (err) {
      // An invalid file, or providers that cannot be built from it (a credentials file missing).
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      logger.error({ problems }, 'configuration reload failed: the configuration in force is kept');
      reloads.failed();
      return { applied: false, problems };
    }
  };
  // One reload at a time, in the order they were asked for (signals, the admin API).
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<ReloadOutcome> => {
    const outcome = reloading.then(applyReload);
    reloading = outcome;
    return outcome;
  };

  const readiness: Readiness = { ready: false };
  const { authenticator } = governance;
  const admin = { store: governance.store, directory: governance.directory, authenticator, rotationGraceSeconds: config.governance.rotation_grace, reload: options.reloadConfig ? reload : undefined };
  const app = buildApp({ config, pipeline, cache, shared, observers, logger, readiness, authenticator, admin });

  const busyPoll = config.server.busy_poll_us > 0 ? new BusyPoll(config.server.busy_poll_us) : undefined;
  busyPoll?.watch(app.server);
  await app.listen({ host: config.server.host, port: config.server.port });
  readiness.ready = true;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const shownHost = config.server.host === '0.0.0.0' || config.server.host === '::' ? 'localhost' : config.server.host;
  const url = `http://${shownHost}:${port}`;
  printBanner(url, loaded.source, config, models, governance, tracing !== undefined);
  logger.info({ url, models: models.groupNames(), providers: models.providerIds(), auth: !authenticator.open, storage: governance.storageUrl }, 'switchyard listening');
  if (authenticator.open) logger.warn('no master key and no virtual keys: the gateway is OPEN, any client may use it (set auth.master_key)');

  const close = (): Promise<void> => {
    closing ??= (async () => {
      readiness.ready = false;
      stopProbes?.();
      const grace = config.server.shutdown_grace_ms;
      const graceEndsAt = performance.now() + grace;
      const force = setTimeout(() => {
        logger.warn({ grace_ms: grace }, 'shutdown grace period over: closing remaining connections');
        governance.admission.drains.endAll();
        app.server.closeAllConnections();
      }, grace);
      force.unref();
      // server.close() only closes the keep-alive connections idle at that moment; one whose last
      // response ends later would hold the process until the grace period is over. Close them too.
      const idle = setInterval(() => app.server.closeIdleConnections(), 100);
      idle.unref();
      await app.close();
      busyPoll?.stop();
      clearTimeout(force);
      clearInterval(idle);
      // Every connection is closed, but a billed request whose client left may still be reading its
      // upstream for the usage (a drain): the rest of the grace period is its too, then it ends.
      const left = graceEndsAt - performance.now();
      if (left > 0) await observers.metrics.whenSettled(left);
      governance.admission.drains.endAll();
      // Connections cut at the end of the grace period settle a moment later: their spend rows and
      // log entries must reach the writers below.
      await observers.metrics.whenSettled(SETTLE_WAIT_MS);
      // Each step bounded: a store that stopped answering must not keep the process from exiting.
      const warn = (what: string, ms: number): void => logger.warn({ step: what, waited_ms: ms }, 'shutdown: a step did not finish in time; going on without it');
      await shutdownStep('upstream connections', closeTransport, TEARDOWN_STEP_MS, warn);
      await shutdownStep('cache', () => cache.close(), TEARDOWN_STEP_MS, warn);
      stopRetention?.();
      await shutdownStep('SLA monitor', () => sla.stop(), TEARDOWN_STEP_MS, warn);
      // Its spend writer gives up on the database after 5 s and keeps what is left in the spill file.
      await shutdownStep('governance', () => governance.close(warn), GOVERNANCE_CLOSE_MS, warn);
      if (tracing) await shutdownStep('tracing', () => tracing.shutdown(), TEARDOWN_STEP_MS, warn);
      logger.info('switchyard stopped');
      await logStream.end();
    })();
    return closing;
  };
  return { app, url, reload, close };
}

/** Runs until SIGTERM / SIGINT, then shuts down gracefully and exits 0. */
export function exitOnSignals(gateway: RunningGateway): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal, of either kind, meets Node's default: the process ends at once (130 / 143).
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    gateway.app.log.info({ signal }, 'shutting down: no new requests, waiting for in-flight ones');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        gateway.app.log.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  // SIGHUP reloads the configuration file (without a handler it would end the process abruptly).
  process.on('SIGHUP', () => {
    gateway.app.log.info({ signal: 'SIGHUP' }, 'reloading the configuration file');
    void gateway.reload();
  });
}

function printBanner(url: string, source: string, config: Config, models: ModelRegistry, governance: Governance, tracing: boolean): void {
  const direct = Object.keys(config.providers).map((id) => `${id}/<model>`).join(', ');
  const lines = [
    '',
    `  Switchyard is listening on ${url}`,
    `    OpenAI base URL  ${url}/v1`,
    `    Anthropic URL    ${url}  (Messages API, any model)`,
    `    config           ${source}`,
    `    models           ${models.groupNames().join(', ') || '(none configured)'}`,
    `    direct           ${direct || '(no providers)'}`,
    `    data             ${governance.storageUrl}${config.redis.url ? `, redis ${redactUrl(config.redis.url)}` : ''}`,
    `    cache            ${cacheSummary(config)}`,
    `    limits           ${governance.limiterBackend === 'redis' ? 'shared through Redis' : 'in memory (this instance)'}`,
    `    auth             ${authSummary(config, governance)}`,
    `    metrics          ${config.metrics.enabled ? `${url}/metrics` : 'off'}`,
    `    tracing          ${tracing ? 'on (OpenTelemetry, OTLP/HTTP)' : 'off'}`,
    `    request log      ${config.request_log.enabled ? `on${config.request_log.bodies ? ', with redacted bodies' : ''}${config.request_log.retention_days > 0 ? `, kept ${config.request_log.retention_days} days` : ''}` : 'off'}`,
    ...(config.server.busy_poll_us > 0 ? [`    busy polling     ${config.server.busy_poll_us} µs after each request and reply (a busy core while requests come)`] : []),
    '',
  ];
  process.stderr.write(lines.join('\n') + '\n');
}

function authSummary(config: Config, governance: Governance): string {
  if (governance.authenticator.open) return 'OFF: open to any client (set auth.master_key)';
  const admin = config.auth.master_key ? 'admin API at /admin' : 'no master key: admin API off';
  return governance.directory.hasKeys ? `on (virtual keys; ${admin})` : `on (master key required; ${admin})`;
}

function cacheSummary(config: Config): string {
  const store = config.cache.store ?? (config.redis.url ? 'redis' : 'memory');
  const cached = Object.entries(config.models).filter(([, group]) => group.cache?.exact || group.cache?.semantic).map(([name, group]) => (group.cache?.semantic ? `${name} (semantic)` : name));
  return `${store} store; ${cached.length > 0 ? `caching ${cached.join(', ')}` : 'no group caches (per request: x-switchyard-cache: on)'}`;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
