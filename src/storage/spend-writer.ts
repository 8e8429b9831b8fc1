/**
 * Between the request path and the database: spend rows are queued in memory and written in
 * batches by one background loop, so a request never waits on the database and an outage never
 * fails a request or loses a row.
 *
 * - One write in flight at a time, rows in arrival order. A failed write leaves its rows at the
 *   head of the queue and the loop retries the same batch, under the same batch id, with
 *   exponential backoff (with jitter). The sink records the id in the batch's transaction, so a
 *   write that committed but whose answer was lost (a connection cut at the wrong moment) is not
 *   applied twice when it is retried.
 * - When the queue is full, rows go to a JSON-lines spill file instead (appends batched, async).
 *   From then on every new row follows them there until the spill has been written back, so the
 *   arrival order holds across an outage too. Rows left by close() join the end of the file.
 * - Writing back works through `<spill>.ingesting` and a saved offset (spill-files.ts): a crash
 *   between the database commit and the offset's save re-sends that one batch on the next start,
 *   under the same id (a hash of its lines), so it is not applied twice either.
 * - The one case left that can write rows twice: close() gave up waiting on a batch whose write
 *   then committed. Those rows go to the spill file and come back in a batch of another id.
 * - Spill files left by an earlier process are picked up at construction.
 */
import { randomUUID } from 'node:crypto';
import type { SpendRow } from '../governance/types.js';
import { RetryTimer } from './retry-timer.js';
import { RowQueue } from './row-queue.js';
import { RowByRow } from './row-by-row.js';
import { SpillFiles, spillLines, type SpillBatch } from './spill-files.js';

export interface SpendWriterOptions {
  /**
   * The database sink: one transaction per call. May reject; the same rows are retried later
   * with the same batchId, which the sink records so that a batch is applied at most once.
   */
  write: (rows: SpendRow[], batchId: string) => Promise<void>;
  /** JSON-lines file for the rows that do not fit in memory, e.g. ./data/spend-spill.jsonl. */
  spillPath: string;
  /** Rows held in memory before new ones go to the spill file. */
  maxQueue?: number;
  /** Rows per write. */
  batchSize?: number;
  flushIntervalMs?: number;
  /** Backoff while the sink fails: initialMs doubling up to maxMs, each wait jittered to 50–100%. */
  retry?: { initialMs?: number; maxMs?: number };
  /** Every failure (sink, spill file, corrupt spill line). Called as often as they happen. */
  onError?: (err: unknown) => void;
  /** Rows that reached the spill file (onSpill), and rows of it written back to the database (onWrittenBack). */
  onSpill?: (rows: number) => void;
  onWrittenBack?: (rows: number) => void;
  /** Rows lost: only when the spill file could not be written either (or a row is not JSON), or the database refuses the row itself. */
  onDrop?: (rows: number) => void;
  /** Whether a failed write was refused for its values, which no retry cures: then the batch goes row by row (row-by-row.ts). */
  isDataError?: (err: unknown) => boolean;
}

export interface SpendWriterStats {
  /** Rows in memory waiting for the database. */
  queued: number;
  /** Rows in the spill file or on their way to it. */
  spilled: number;
  /** Rows the sink accepted. */
  written: number;
  /** Sink calls that failed. */
  failures: number;
}

export class SpendWriter {
  private readonly sink: SpendWriterOptions['write'];
  private readonly files: SpillFiles;
  private readonly maxQueue: number;
  private readonly batchSize: number;
  private readonly options: SpendWriterOptions;

  /** With isDataError: how a batch the database refused for its values is written instead. */
  private readonly rowByRow: RowByRow | undefined;
  /**
   * Rows become due (written even as a partial batch) at each tick of the interval, flush() and
   * close(); the rest wait for a full batch, so that steady load does not commit a few dozen rows
   * at a time, each commit's fixed cost and rewritten pages paid again.
   */
  private readonly queue = new RowQueue<SpendRow>();
  /** The batch at the head of the queue once sent: retried as it is, under its id, until accepted. */
  private pendingQueued: { id: string; rows: SpendRow[] } | null = null;
  /** True while any row waits on the spill side: new rows then go there too, keeping the order. */
  private spillActive: boolean;
  /** Rows waiting for the next batched append. */
  private spillBuffer: SpendRow[] = [];
  private appendScheduled = false;
  private appending = 0;
  private onDisk = 0;
  /** The file may end in a half-written line (earlier crash, failed append): start with a newline. */
  private needsNewline = true;
  /** Byte offset reached in the .ingesting file; null until it is opened. */
  private ingestOffset: number | null = null;
  /** A batch read back but not yet accepted by the sink: retried as it is. */
  private pendingIngest: SpillBatch | null = null;
  /** Every spill-file operation runs on this chain, one at a time. Never rejects. */
  private fileChain: Promise<unknown> = Promise.resolve();

  private current: Promise<void> | null = null;
  private readonly retry: RetryTimer;
  private soon: NodeJS.Immediate | null = null;
  private readonly interval: NodeJS.Timeout;
  private closeStarted = false;
  private closed: Promise<void> | null = null;
  /** close() is over: nothing more is written to the sink, every row goes to the spill file. */
  private stopped = false;
  private written = 0;
  private failures = 0;

  constructor(options: SpendWriterOptions) {
    this.options = options;
    this.sink = options.write;
    this.files = new SpillFiles(options.spillPath, (err) => this.report(err));
    this.maxQueue = Math.max(1, options.maxQueue ?? 10_000);
    this.batchSize = Math.max(1, options.batchSize ?? 500);
    const isDataError = options.isDataError;
    this.rowByRow = isDataError && new RowByRow({ write: this.sink, isDataError, onWritten: () => this.written++, onRefused: (err) => this.dropped(1, err) });
    this.retry = new RetryTimer(options.retry?.initialMs ?? 500, options.retry?.maxMs ?? 30_000, () => this.kick());
    this.interval = setInterval(() => this.kick(true), options.flushIntervalMs ?? 1_000);
    this.interval.unref();
    // Startup, not the request path: knowing now keeps new rows behind the older spilled ones.
    this.spillActive = this.files.leftBehind();
    if (this.spillActive) {
      this.fileOp(async () => {
        const left = await this.files.countRows();
        this.onDisk += left;
      }).catch((err: unknown) => this.report(err));
      this.kickSoon();
    }
  }

  /** Synchronous and O(1); never throws, never waits. */
  enqueue(row: SpendRow): void {
    try {
      if (this.stopped || this.spillActive || this.queued >= this.maxQueue) {
        this.spill([row]);
        return;
      }
      this.queue.push(row);
      if (this.queued >= this.batchSize) this.kickSoon();
    } catch (err) {
      this.report(err);
    }
  }

  /**
   * Writes everything held now: the queue, then the spill file. Tries at once even during a
   * backoff; rejects with the sink's error when a write fails (the rows stay, retries go on).
   * After close() it only waits for pending spill appends.
   */
  async flush(): Promise<void> {
    this.retry.cancel();
    while (!this.stopped && this.hasWork()) await this.drain(true);
    await this.fileChain;
  }

  /**
   * Stops the timers and writes the queue within timeoutMs (one attempt, no backoff); what is
   * left, including a batch whose write has not answered yet, goes to the spill file, so that
   * batch may arrive twice but is never lost. The spill file itself stays for the next start.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.closed ??= this.shutdown(timeoutMs);
    return this.closed;
  }

  stats(): SpendWriterStats {
    return {
      queued: this.queued,
      spilled: this.onDisk + this.appending + this.spillBuffer.length,
      written: this.written,
      failures: this.failures,
    };
  }

  private get queued(): number {
    return this.queue.length;
  }

  private hasWork(): boolean {
    return this.queued > 0 || (this.spillActive && !this.closeStarted);
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.closeStarted = true;
    clearInterval(this.interval);
    this.retry.cancel();
    if (this.soon) clearImmediate(this.soon);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    await Promise.race([this.drainQueue(), expired]);
    clearTimeout(timer);
    this.stopped = true;
    const left = this.queue.takeAll();
    this.pendingQueued = null;
    if (left.length > 0) this.spill(left);
    await this.fileChain;
  }

  private async drainQueue(): Promise<void> {
    try {
      // The first round joins a loop already running (it stops after its current batch).
      do {
        await this.drain(true);
      } while (!this.stopped && this.queued > 0);
    } catch {
      // Reported inside drain(); what is left goes to the spill file.
    }
  }

  private kickSoon(): void {
    if (this.soon || this.closeStarted) return;
    this.soon = setImmediate(() => {
      this.soon = null;
      this.kick();
    });
    this.soon.unref();
  }

  /** `due`: what is queued now is written, even as a partial batch. */
  private kick(due = false): void {
    if (due) this.queue.markDue();
    if (this.closeStarted || this.retry.pending || this.current || !this.hasWork()) return;
    this.drain().catch(() => undefined); // reported and rescheduled inside drain()
  }

  /** The one write loop: joins the running one if there is one. `due`: what is queued now is written. */
  private drain(due = false): Promise<void> {
    if (due) this.queue.markDue();
    if (!this.current) {
      // Deferred a microtask, so `current` is set before the sink can be called.
      this.current = Promise.resolve()
        .then(() => this.drainLoop())
        .then(
          () => {
            this.current = null;
          },
          (err: unknown) => {
            this.current = null;
            this.report(err);
            if (!this.closeStarted) this.retry.schedule();
            throw err;
          },
        );
    }
    return this.current;
  }

  private async drainLoop(): Promise<void> {
    while (!this.stopped) {
      // Queued rows are older than any spilled ones: with a spill waiting they all go first.
      if (this.pendingQueued || this.queued >= this.batchSize || (this.queued > 0 && (this.queue.due || this.spillActive))) await this.writeQueued();
      else if (this.spillActive && !this.closeStarted) await this.writeSpilled();
      else return;
    }
  }

  private async writeQueued(): Promise<void> {
    // Rows only join the queue's tail and leave its head here, so the pinned batch stays its head.
    this.pendingQueued ??= { id: randomUUID(), rows: this.queue.peek(this.batchSize) };
    const { id, rows } = this.pendingQueued;
    await this.send(rows, id);
    if (this.stopped) return; // close() gave up waiting and already spilled these rows
    this.pendingQueued = null;
    this.queue.drop(rows.length);
  }

  private async writeSpilled(): Promise<void> {
    if (!this.pendingIngest) {
      this.pendingIngest = await this.fileOp(() => this.nextSpillBatch());
      if (!this.pendingIngest) return;
    }
    const batch = this.pendingIngest;
    await this.send(batch.rows, batch.id);
    if (this.stopped) return; // not acknowledged: the next start writes this batch again
    this.pendingIngest = null;
    this.onDisk = Math.max(0, this.onDisk - batch.lines);
    this.ingestOffset = batch.end;
    this.hook(this.options.onWrittenBack, batch.rows.length);
    await this.fileOp(() => this.files.saveOffset(batch.end)).catch((err: unknown) => this.report(err));
  }

  private async send(rows: SpendRow[], batchId: string): Promise<void> {
    try {
      await this.sink(rows, batchId);
    } catch (err) {
      this.failures++;
      if (!this.rowByRow) throw err;
      this.report(err);
      await this.rowByRow.write(rows, batchId);
      this.retry.succeeded();
      return;
    }
    this.written += rows.length;
    this.retry.succeeded();
  }

  private fileOp<T>(op: () => Promise<T>): Promise<T> {
    const result = this.fileChain.then(op);
    this.fileChain = result.catch(() => undefined);
    return result;
  }

  private spill(rows: SpendRow[]): void {
    this.spillActive = true;
    for (const row of rows) this.spillBuffer.push(row);
    this.scheduleAppend();
  }

  /** One append per turn of the file chain, carrying every row that arrived meanwhile. */
  private scheduleAppend(): void {
    if (this.appendScheduled) return;
    this.appendScheduled = true;
    this.fileOp(async () => {
      try {
        await this.appendBuffered();
      } finally {
        this.appendScheduled = false;
        if (this.spillBuffer.length > 0) this.scheduleAppend();
      }
    }).catch((err: unknown) => this.report(err));
  }

  /** On the file chain. A failed append is the one place rows are dropped. */
  private async appendBuffered(): Promise<void> {
    const rows = this.spillBuffer;
    if (rows.length === 0) return;
    this.spillBuffer = [];
    const lines = spillLines(rows, (err) => this.dropped(1, err));
    const count = lines.count;
    if (count === 0) return;
    const text = (this.needsNewline ? '\n' : '') + lines.text;
    this.appending = count;
    try {
      await this.files.append(text);
      this.needsNewline = false;
      this.onDisk += count;
      this.hook(this.options.onSpill, count);
    } catch (err) {
      // Part of the text may have landed: the next append starts on a line of its own.
      this.needsNewline = true;
      this.dropped(count, err);
    } finally {
      this.appending = 0;
    }
  }

  /** On the file chain: the next rows to write back, or null when nothing is left on disk. */
  private async nextSpillBatch(): Promise<SpillBatch | null> {
    for (;;) {
      if (this.ingestOffset === null) {
        if (await this.files.ingesting()) {
          this.ingestOffset = await this.files.savedOffset();
        } else if (!(await this.files.spilled()) && this.queued + this.spillBuffer.length <= this.maxQueue) {
          // Disk is empty and the rows still in memory are the newest: they join the queue and
          // new rows use the queue again. No await since the check, so none can slip past.
          for (const row of this.spillBuffer) this.queue.push(row);
          this.queue.markDue();
          this.spillBuffer = [];
          this.spillActive = false;
          this.onDisk = 0;
          return null;
        } else {
          await this.appendBuffered();
          if (!(await this.files.spilled())) return null;
          await this.files.startIngesting();
          this.ingestOffset = 0;
        }
      }
      const batch = await this.files.readBatch(this.ingestOffset, this.batchSize);
      if (batch.rows.length > 0) return batch;
      // Only blank or corrupt lines were left.
      await this.files.finishIngesting();
      this.onDisk = Math.max(0, this.onDisk - batch.lines);
      this.ingestOffset = null;
    }
  }

  private dropped(rows: number, err: unknown): void {
    this.report(err);
    this.hook(this.options.onDrop, rows);
  }

  private hook(hook: ((rows: number) => void) | undefined, rows: number): void {
    try {
      hook?.(rows);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    try {
      this.options.onError?.(err);
    } catch {
      // The caller's logger failed: there is nobody left to tell.
    }
  }
}
