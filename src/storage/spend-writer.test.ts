import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SpendRow } from '../governance/types.js';
import { SpendWriter, type SpendWriterOptions } from './spend-writer.js';

const row = (n: number | string): SpendRow => ({
  request_id: `r${n}`,
  at: 1_700_000_000_000,
  key_id: 'key-1',
  team_id: 'team-1',
  org_id: null,
  end_user: null,
  model: 'gpt',
  provider: 'openai',
  upstream_model: 'gpt-4o-mini',
  prompt_tokens: 12,
  completion_tokens: 3,
  cost_usd: 0.0001,
  latency_ms: 42,
  status: 200,
  cache: null,
  tags: ['env:test'],
});
const ids = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `r${from + i}`);
const line = (r: SpendRow): string => `${JSON.stringify(r)}\n`;

/** The database side of the contract: records what it accepted, fails while `down`. */
class TestSink {
  batches: SpendRow[][] = [];
  /** Every call, failed ones too: the rows' ids and the batch id. */
  calls: { ids: string[]; batchId: string }[] = [];
  down = false;
  failures = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** Runs inside each successful write, before it returns: traffic arriving meanwhile. */
  during?: () => void;

  readonly write = async (rows: SpendRow[], batchId: string): Promise<void> => {
    this.calls.push({ ids: rows.map((r) => r.request_id), batchId });
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((resolve) => setImmediate(resolve)); // a database answers later
      if (this.down || this.failures > 0) {
        this.failures = Math.max(0, this.failures - 1);
        throw new Error('database unavailable');
      }
      this.batches.push(rows);
      this.during?.();
    } finally {
      this.inFlight--;
    }
  };

  get ids(): string[] {
    return this.batches.flat().map((r) => r.request_id);
  }
}

let dir: string;
let spillPath: string;
let writers: SpendWriter[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (err: unknown): void => {
  unhandled.push(err);
};

function writer(sink: TestSink | SpendWriterOptions['write'], options: Partial<SpendWriterOptions> = {}): SpendWriter {
  const w = new SpendWriter({
    write: sink instanceof TestSink ? sink.write : sink,
    spillPath,
    flushIntervalMs: 60_000,
    retry: { initialMs: 1, maxMs: 4 },
    ...options,
  });
  writers.push(w);
  return w;
}

async function spilledIds(path = spillPath): Promise<string[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as SpendRow).request_id);
}

function spillFilesGone(): boolean {
  return [spillPath, `${spillPath}.ingesting`, `${spillPath}.ingesting.offset`].every((p) => !existsSync(p));
}

beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'spend-writer-'));
  spillPath = join(dir, 'data', 'spend-spill.jsonl');
});
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(writers.map((w) => w.close(100)));
  writers = [];
  await rm(dir, { recursive: true, force: true });
  expect(unhandled).toEqual([]);
});

describe('SpendWriter batching', () => {
  it('writes in batches of batchSize, in arrival order', async () => {
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 3 });
    for (let i = 0; i < 7; i++) w.enqueue(row(i));
    expect(w.stats().queued).toBe(7);
    await w.flush();
    expect(sink.batches.map((b) => b.length)).toEqual([3, 3, 1]);
    expect(sink.ids).toEqual(ids(0, 7));
    expect(w.stats()).toEqual({ queued: 0, spilled: 0, written: 7, failures: 0 });
  });

  it('starts a write soon once batchSize rows are queued, not inside enqueue', async () => {
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 3 });
    for (let i = 0; i < 3; i++) w.enqueue(row(i));
    expect(sink.inFlight + sink.batches.length).toBe(0);
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 3)));
  });

  it('writes a partial batch on the interval', async () => {
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 100, flushIntervalMs: 10 });
    w.enqueue(row(0));
    w.enqueue(row(1));
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 2)));
  });

  it('leaves the rows that arrived during a write for a full batch or the interval, not a small batch of their own', async () => {
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 4 });
    let arriving = 2;
    sink.during = () => {
      while (arriving > 0) w.enqueue(row(6 - arriving--));
    };
    for (let i = 0; i < 4; i++) w.enqueue(row(i));
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 4)));
    // Rows 4 and 5 arrived while the first batch was being written; they wait.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sink.calls).toHaveLength(1);
    expect(w.stats().queued).toBe(2);
    w.enqueue(row(6));
    w.enqueue(row(7));
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 8)));
    expect(sink.batches.map((b) => b.length)).toEqual([4, 4]);
    // flush() writes a partial batch at once.
    w.enqueue(row(8));
    await w.flush();
    expect(sink.batches.map((b) => b.length)).toEqual([4, 4, 1]);
  });

  it('keeps one write in flight, however many flushes are asked for', async () => {
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 2, flushIntervalMs: 1 });
    const flushes: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      w.enqueue(row(i));
      if (i % 10 === 0) flushes.push(w.flush());
    }
    await Promise.all(flushes);
    await w.flush();
    expect(sink.maxInFlight).toBe(1);
    expect(sink.ids).toEqual(ids(0, 40));
  });
});

describe('SpendWriter when the sink fails', () => {
  it('keeps the rows, retries, and writes each row exactly once', async () => {
    const sink = new TestSink();
    sink.failures = 3;
    const errors: unknown[] = [];
    // The fifth row is a partial batch: the interval writes it.
    const w = writer(sink, { batchSize: 2, flushIntervalMs: 10, onError: (err) => errors.push(err) });
    for (let i = 0; i < 5; i++) w.enqueue(row(i));
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 5)));
    expect(w.stats()).toEqual({ queued: 0, spilled: 0, written: 5, failures: 3 });
    expect(errors.map((e) => (e as Error).message)).toEqual(Array(3).fill('database unavailable'));
  });

  it('writes a batch the database refuses for its data row by row, dropping only the refused rows, so the rows behind are not held', async () => {
    const written: { ids: string[]; batchId: string }[] = [];
    let outage = 1; // one outage midway through the row-by-row writes: retried, nothing applied twice
    const appliedBatchIds = new Set<string>();
    const sink = async (rows: SpendRow[], batchId: string): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      if (rows.some((r) => r.request_id === 'r2')) throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
      if (batchId.endsWith('/3') && outage-- > 0) throw new Error('connection terminated unexpectedly');
      if (appliedBatchIds.has(batchId)) return; // the sink's own once-only rule
      appliedBatchIds.add(batchId);
      written.push({ ids: rows.map((r) => r.request_id), batchId });
    };
    const dropped: number[] = [];
    const w = writer(sink, { batchSize: 5, flushIntervalMs: 10, isDataError: (err) => (err as { code?: string }).code === '22021', onDrop: (n) => dropped.push(n) });
    for (let i = 0; i < 7; i++) w.enqueue(row(i));
    await vi.waitFor(() => expect(written.flatMap((b) => b.ids)).toEqual(['r0', 'r1', 'r3', 'r4', 'r5', 'r6']));
    expect(dropped).toEqual([1]);
    // Row by row under ids derived from the batch's; the next batch as a batch again.
    const [first] = written;
    expect(first!.batchId).toMatch(/\/0$/);
    expect(written.at(-1)!.ids).toEqual(['r5', 'r6']);
    expect(w.stats()).toMatchObject({ queued: 0, written: 6 });
  });

  it('retries a batch as it was, under the same id, though more rows arrived meanwhile; every batch has its own id', async () => {
    const sink = new TestSink();
    sink.failures = 2;
    const w = writer(sink, { batchSize: 3, flushIntervalMs: 10 });
    w.enqueue(row(0));
    w.enqueue(row(1));
    await expect(w.flush()).rejects.toThrow('database unavailable');
    w.enqueue(row(2));
    w.enqueue(row(3));
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 4)));
    expect(sink.calls.map((call) => call.ids)).toEqual([ids(0, 2), ids(0, 2), ids(0, 2), ids(2, 4)]);
    const [first, second, third, fourth] = sink.calls.map((call) => call.batchId);
    expect(second).toBe(first);
    expect(third).toBe(first);
    expect(fourth).not.toBe(first);
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('flush() rejects with the sink error and leaves the rows queued', async () => {
    const sink = new TestSink();
    sink.down = true;
    const w = writer(sink, { retry: { initialMs: 60_000, maxMs: 60_000 } });
    w.enqueue(row(0));
    await expect(w.flush()).rejects.toThrow('database unavailable');
    expect(w.stats().queued).toBe(1);
    sink.down = false;
    await w.flush();
    expect(sink.ids).toEqual(['r0']);
  });

  it('backs off exponentially, jittered between half and all of each step, capped at maxMs', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    let calls = 0;
    const w = writer(
      () => {
        calls++;
        return Promise.reject(new Error('database unavailable'));
      },
      { retry: { initialMs: 1_000, maxMs: 4_000 } },
    );
    w.enqueue(row(0));
    await expect(w.flush()).rejects.toThrow();
    expect(calls).toBe(1);
    // Steps of 1 s, 2 s, 4 s, then capped at 4 s; each wait is step × (0.5 + random / 2).
    const jitters = [0, 0, 0.5, 0, 0.5];
    const waits = [500, 1_000, 3_000, 2_000, 3_000];
    for (const [n, waitMs] of waits.entries()) {
      await vi.advanceTimersByTimeAsync(waitMs - 1);
      await settle();
      expect(calls).toBe(n + 1);
      random.mockReturnValue(jitters[n + 1] ?? 0); // for the wait that follows this attempt
      await vi.advanceTimersByTimeAsync(1);
      await settle();
      expect(calls).toBe(n + 2);
    }
    expect(w.stats()).toMatchObject({ queued: 1, failures: waits.length + 1 });
    random.mockRestore();
  });
});

describe('SpendWriter spill file', () => {
  it('spills when the queue is full and writes everything back once the sink recovers', async () => {
    const sink = new TestSink();
    sink.down = true;
    let spilled = 0;
    let writtenBack = 0;
    const w = writer(sink, { maxQueue: 4, batchSize: 2, flushIntervalMs: 5, onSpill: (n) => (spilled += n), onWrittenBack: (n) => (writtenBack += n) });
    for (let i = 0; i < 20; i++) w.enqueue(row(i));
    await vi.waitFor(async () => expect(await spilledIds()).toEqual(ids(4, 20)));
    expect(spilled).toBe(16);
    expect(w.stats()).toMatchObject({ queued: 4, spilled: 16, written: 0 });

    sink.down = false;
    await vi.waitFor(() => expect(sink.ids).toEqual(ids(0, 20)));
    await w.flush();
    expect(sink.ids).toEqual(ids(0, 20));
    // Said as they reach the database (budgets read the recorded spend again then).
    expect(writtenBack).toBe(16);
    expect(spillFilesGone()).toBe(true);
    expect(w.stats()).toMatchObject({ queued: 0, spilled: 0, written: 20 });

    // Back to normal: new rows are held in memory, not spilled.
    w.enqueue(row(20));
    expect(w.stats()).toMatchObject({ queued: 1, spilled: 0 });
    await w.flush();
    expect(sink.ids).toEqual(ids(0, 21));
    expect(spilled).toBe(16);
  });

  it('keeps rows that arrive while the spill file is being written back, in order', async () => {
    const sink = new TestSink();
    sink.down = true;
    const w = writer(sink, { maxQueue: 3, batchSize: 2 });
    const sent: string[] = [];
    const send = (r: SpendRow): void => {
      sent.push(r.request_id);
      w.enqueue(r);
    };
    for (let i = 0; i < 12; i++) send(row(i));
    await vi.waitFor(async () => expect(await spilledIds()).toEqual(ids(3, 12)));
    let extra = 100;
    sink.during = () => {
      if (extra < 115) send(row(extra++));
    };
    sink.down = false;
    await w.flush();
    expect(extra).toBe(115);
    expect(sink.ids).toEqual(sent);
    expect(spillFilesGone()).toBe(true);
  });

  it('picks up a spill file left by an earlier process, ahead of new rows', async () => {
    await mkdirFor(spillPath);
    await writeFile(spillPath, [row('old0'), row('old1'), row('old2')].map(line).join(''));
    const sink = new TestSink();
    sink.down = true;
    const w = writer(sink, { batchSize: 2 });
    w.enqueue(row(0));
    await vi.waitFor(() => expect(w.stats().spilled).toBe(4));
    sink.down = false;
    await vi.waitFor(() => expect(sink.ids).toEqual(['rold0', 'rold1', 'rold2', 'r0']));
    await w.flush();
    expect(spillFilesGone()).toBe(true);
    expect(w.stats().spilled).toBe(0);
  });

  it('resumes a write-back cut short by a crash after the last saved offset', async () => {
    await mkdirFor(spillPath);
    const done = line(row('a0')) + line(row('a1'));
    await writeFile(`${spillPath}.ingesting`, done + line(row('a2')) + line(row('a3')));
    await writeFile(`${spillPath}.ingesting.offset`, String(Buffer.byteLength(done)));
    await writeFile(spillPath, line(row('b0')));
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 2 });
    await w.flush();
    expect(sink.ids).toEqual(['ra2', 'ra3', 'rb0']);
    expect(spillFilesGone()).toBe(true);
  });

  it('ignores an offset file whose write-back had finished, even across a crash', async () => {
    await mkdirFor(spillPath);
    await writeFile(`${spillPath}.ingesting.offset`, '999');
    await writeFile(spillPath, line(row('c0')) + line(row('c1')));
    const down = new TestSink();
    down.down = true;
    const first = writer(down);
    await expect(first.flush()).rejects.toThrow('database unavailable'); // renamed, not written
    await first.close(100);

    const sink = new TestSink();
    await writer(sink).flush();
    expect(sink.ids).toEqual(['rc0', 'rc1']);
    expect(spillFilesGone()).toBe(true);
  });

  it('after a crash mid write-back, writes only the batches not yet acknowledged', async () => {
    await mkdirFor(spillPath);
    await writeFile(spillPath, Array.from({ length: 6 }, (_, i) => line(row(i))).join(''));
    const accepted: string[] = [];
    let calls = 0;
    writer(
      (rows) => {
        calls++;
        if (calls > 2) return new Promise<void>(() => undefined); // the process dies during the third batch
        accepted.push(...rows.map((r) => r.request_id));
        return Promise.resolve();
      },
      { batchSize: 2 },
    );
    await vi.waitFor(() => expect(calls).toBe(3));
    expect(accepted).toEqual(ids(0, 4));

    const sink = new TestSink();
    await writer(sink, { batchSize: 2 }).flush();
    expect(sink.ids).toEqual(ids(4, 6));
    expect(spillFilesGone()).toBe(true);
  });

  it('re-sends a spill batch whose commit was not acknowledged before a crash under the same id', async () => {
    await mkdirFor(spillPath);
    await writeFile(spillPath, Array.from({ length: 4 }, (_, i) => line(row(i))).join(''));
    const sent: { ids: string[]; batchId: string }[] = [];
    writer(
      (rows, batchId) => {
        sent.push({ ids: rows.map((r) => r.request_id), batchId });
        // The second batch commits, and the process dies before its answer arrives.
        return sent.length > 1 ? new Promise<void>(() => undefined) : Promise.resolve();
      },
      { batchSize: 2 },
    );
    await vi.waitFor(() => expect(sent).toHaveLength(2));

    const sink = new TestSink();
    await writer(sink, { batchSize: 2 }).flush();
    expect(sink.calls).toEqual([sent[1]]);
    expect(sent[0]?.batchId).not.toBe(sent[1]?.batchId);
    expect(sent[1]?.batchId).toMatch(/^spill-[\w-]{43}$/);
  });

  it('skips and reports corrupt lines, including a half-written last one', async () => {
    await mkdirFor(spillPath);
    await writeFile(spillPath, `${line(row(0))}not json\n\n${line(row(1))}{"foo":1}\n{"request_id":"r2","at":17`);
    const sink = new TestSink();
    const errors: string[] = [];
    const w = writer(sink, { onError: (err) => errors.push((err as Error).message) });
    await w.flush();
    expect(sink.ids).toEqual(['r0', 'r1']);
    expect(errors).toHaveLength(3);
    expect(errors.every((m) => m.includes('corrupt spend row'))).toBe(true);
    expect(spillFilesGone()).toBe(true);
  });

  it('starts its own line after a half-written one instead of running into it', async () => {
    await mkdirFor(spillPath);
    await writeFile(spillPath, `${line(row(0))}{"request_id":"r1","at":`);
    const sink = new TestSink();
    sink.down = true;
    const w = writer(sink);
    w.enqueue(row(5));
    await vi.waitFor(() => expect(w.stats().failures).toBeGreaterThan(0));
    sink.down = false;
    await w.flush();
    expect(sink.ids).toEqual(['r0', 'r5']);
  });
});

describe('SpendWriter close()', () => {
  it('writes what is queued', async () => {
    const sink = new TestSink();
    const w = writer(sink, { batchSize: 2 });
    for (let i = 0; i < 5; i++) w.enqueue(row(i));
    await w.close();
    expect(sink.ids).toEqual(ids(0, 5));
    expect(existsSync(spillPath)).toBe(false);
  });

  it('spills the rest when the sink fails, for the next process to write', async () => {
    const sink = new TestSink();
    sink.down = true;
    const w = writer(sink);
    for (let i = 0; i < 5; i++) w.enqueue(row(i));
    await w.close(1_000);
    expect(await spilledIds()).toEqual(ids(0, 5));
    expect(w.stats()).toMatchObject({ queued: 0, spilled: 5, written: 0 });

    const next = new TestSink();
    await writer(next).flush();
    expect(next.ids).toEqual(ids(0, 5));
    expect(spillFilesGone()).toBe(true);
  });

  it('spills a batch whose write does not answer in time, and ignores the late answer', async () => {
    let answer = (): void => undefined;
    let calls = 0;
    const w = writer(() => {
      calls++;
      return new Promise<void>((resolve) => (answer = resolve));
    });
    for (let i = 0; i < 3; i++) w.enqueue(row(i));
    await w.close(20);
    expect(await spilledIds()).toEqual(ids(0, 3));
    answer(); // the database committed after all: those rows will arrive twice, never zero times
    await settle();
    w.enqueue(row(3));
    await w.flush();
    expect(w.stats()).toMatchObject({ queued: 0, spilled: 4 });
    expect(await spilledIds()).toEqual(ids(0, 4));
    expect(calls).toBe(1);
  });
});

describe('SpendWriter.enqueue', () => {
  it('sends rows to the spill file after close()', async () => {
    const sink = new TestSink();
    const w = writer(sink);
    await w.close();
    expect(() => w.enqueue(row(0))).not.toThrow();
    await w.flush();
    expect(await spilledIds()).toEqual(['r0']);
    expect(sink.ids).toEqual([]);
  });

  it('never throws: unwritable spill file, unserializable row, throwing hooks; drops are reported', async () => {
    await writeFile(join(dir, 'a-file'), '');
    spillPath = join(dir, 'a-file', 'spend-spill.jsonl'); // its directory is a file: appends fail
    const sink = new TestSink();
    sink.down = true;
    let dropped = 0;
    const errors: unknown[] = [];
    const w = writer(sink, {
      maxQueue: 1,
      onDrop: (n) => {
        dropped += n;
        throw new Error('metrics broke');
      },
      onError: (err) => {
        errors.push(err);
        throw new Error('logger broke');
      },
    });
    const unserializable = { ...row(2), cost_usd: 1n } as unknown as SpendRow;
    expect(() => {
      w.enqueue(row(0));
      w.enqueue(row(1));
      w.enqueue(unserializable);
    }).not.toThrow();
    await vi.waitFor(() => expect(dropped).toBe(2));
    expect(w.stats()).toMatchObject({ queued: 1, spilled: 0 });
    expect(errors.length).toBeGreaterThanOrEqual(2);
  });
});

/** Lets the promise chains started by a fake timer run (real setImmediate, not faked). */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function mkdirFor(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
}
