/**
 * Delivers SLO alerts to the configured webhooks. Each webhook has a queue of its own, so its
 * alerts arrive in order (a recovery never overtakes its violation) and a slow or dead endpoint
 * holds up no other. A failed call is retried after 1 s, 2 s, 4 s, ... (`alerts.retries` times);
 * failures are logged at most once a minute per webhook and never thrown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';
import type { WebhookSettings } from '../../config/sla-schema.js';
import { jsonPayload, slackPayload, type SloAlert } from './alert-payloads.js';

/** Sends one body to one webhook; rejects when the call failed (network, timeout, non-2xx). */
export type WebhookSend = (webhook: WebhookSettings, body: string) => Promise<void>;

export type DeliveryOutcome = 'sent' | 'failed';

export interface AlertLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface DispatcherOptions {
  webhooks: readonly WebhookSettings[];
  retries: number;
  logger: AlertLogger;
  send?: WebhookSend;
  /** The first retry's delay; each later one doubles it. */
  retryDelayMs?: number;
  /** Called once per alert and webhook with the delivery's outcome. */
  onOutcome(alert: SloAlert, outcome: DeliveryOutcome): void;
}

/** Alerts waiting per webhook beyond this are dropped (counted failed): the endpoint is not keeping up. */
const MAX_QUEUED = 100;
const LOG_EVERY_MS = 60_000;

interface Queue {
  webhook: WebhookSettings;
  /** Where it is logged: the URL's origin only (a Slack webhook's path is its secret). */
  origin: string;
  tail: Promise<void>;
  queued: number;
  lastLoggedAt: number;
  unlogged: number;
}

export class AlertDispatcher {
  readonly #queues: Queue[];
  readonly #send: WebhookSend;
  readonly #retryDelayMs: number;
  /** Cuts retry waits short at shutdown. */
  readonly #closing = new AbortController();

  constructor(private readonly options: DispatcherOptions) {
    this.#send = options.send ?? postWebhook;
    this.#retryDelayMs = options.retryDelayMs ?? 1_000;
    this.#queues = options.webhooks.map((webhook) => ({ webhook, origin: originOf(webhook.url), tail: Promise.resolve(), queued: 0, lastLoggedAt: -Infinity, unlogged: 0 }));
  }

  /** Queues the alert for every webhook; resolves once each delivery succeeded or gave up. */
  dispatch(alert: SloAlert): Promise<void> {
    const deliveries = this.#queues.map((queue) => {
      if (queue.queued >= MAX_QUEUED) {
        this.#failed(queue, alert, new Error(`more than ${MAX_QUEUED} alerts are waiting for this webhook`));
        return Promise.resolve();
      }
      queue.queued += 1;
      queue.tail = queue.tail.then(() => this.#deliver(queue, alert)).finally(() => void (queue.queued -= 1));
      return queue.tail;
    });
    return Promise.all(deliveries).then(() => undefined);
  }

  /** Stops retrying and waits for the deliveries under way. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.all(this.#queues.map((queue) => queue.tail));
  }

  async #deliver(queue: Queue, alert: SloAlert): Promise<void> {
    const body = JSON.stringify(queue.webhook.format === 'slack' ? slackPayload(alert) : jsonPayload(alert));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#send(queue.webhook, body);
        this.options.onOutcome(alert, 'sent');
        return;
      } catch (err) {
        if (attempt >= this.options.retries || this.#closing.signal.aborted) {
          this.#failed(queue, alert, err);
          return;
        }
      }
      try {
        await sleep(this.#retryDelayMs * 2 ** attempt, undefined, { signal: this.#closing.signal, ref: false });
      } catch {
        // Shutting down: one more attempt, no more waiting.
      }
    }
  }

  #failed(queue: Queue, alert: SloAlert, err: unknown): void {
    this.options.onOutcome(alert, 'failed');
    const now = Date.now();
    if (now - queue.lastLoggedAt < LOG_EVERY_MS) {
      queue.unlogged += 1;
      return;
    }
    this.options.logger.warn(
      { webhook: queue.origin, slo: alert.slo, indicator: alert.indicator, kind: alert.kind, err: err instanceof Error ? err.message : String(err), failures_not_logged: queue.unlogged },
      'SLO alert webhook failed',
    );
    queue.lastLoggedAt = now;
    queue.unlogged = 0;
  }
}

/** POSTs the JSON body with undici; any status outside 2xx is a failure. */
export async function postWebhook(webhook: WebhookSettings, body: string): Promise<void> {
  const response = await request(webhook.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...webhook.headers },
    body,
    signal: AbortSignal.timeout(webhook.timeout_ms),
  });
  await response.body.dump();
  if (response.statusCode < 200 || response.statusCode >= 300) throw new Error(`HTTP ${response.statusCode}`);
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid URL';
  }
}
