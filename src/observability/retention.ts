/**
 * Request-log retention: rows older than request_log.retention_days are deleted shortly after
 * start and then hourly, a few thousand at a time (storage/request-log.ts), so the table is never
 * held long and request-log writes go on in between.
 */
export interface RetentionStore {
  deleteRequestsBefore(before: number): Promise<number>;
}

interface RetentionLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

const FIRST_RUN_MS = 60_000;
const INTERVAL_MS = 3_600_000;

/** Starts the hourly clean-up; the returned function stops it. Failures are logged and retried next hour. */
export function startRetention(store: RetentionStore, days: number, logger: RetentionLogger, timing = { firstRunMs: FIRST_RUN_MS, intervalMs: INTERVAL_MS }): () => void {
  let running = false;
  const run = (): void => {
    if (running) return;
    running = true;
    const before = Date.now() - days * 86_400_000;
    store
      .deleteRequestsBefore(before)
      .then((deleted) => {
        if (deleted > 0) logger.info({ deleted, before: new Date(before).toISOString() }, 'request log: deleted rows past retention');
      })
      .catch((err: unknown) => logger.warn({ err }, 'request log: could not delete rows past retention; trying again in an hour'))
      .finally(() => (running = false));
  };
  const first = setTimeout(run, timing.firstRunMs);
  const interval = setInterval(run, timing.intervalMs);
  first.unref();
  interval.unref();
  return () => {
    clearTimeout(first);
    clearInterval(interval);
  };
}
