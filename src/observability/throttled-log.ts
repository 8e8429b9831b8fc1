/** Failure logging that stays loud through an outage without flooding: each topic at most once a minute. */
import type { FastifyBaseLogger } from 'fastify';

export type ThrottledReport = (topic: string, err: unknown, message: string) => void;

const EVERY_MS = 60_000;

export function throttledLog(logger: Pick<FastifyBaseLogger, 'error' | 'warn'>, level: 'error' | 'warn' = 'error'): ThrottledReport {
  const last = new Map<string, number>();
  return (topic, err, message) => {
    const now = Date.now();
    if ((last.get(topic) ?? -Infinity) > now - EVERY_MS) return;
    last.set(topic, now);
    logger[level]({ err }, message);
  };
}
