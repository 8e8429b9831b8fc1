import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LogStream } from './log-stream.js';

let dir: string;
let file: string;
let fd: number;
const streams: LogStream[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-log-stream-'));
  file = join(dir, 'out.log');
  fd = openSync(file, 'a');
});

afterEach(async () => {
  for (const stream of streams.splice(0)) await stream.end();
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
});

function stream(options: ConstructorParameters<typeof LogStream>[0] = {}): LogStream {
  const created = new LogStream({ fd, ...options });
  streams.push(created);
  return created;
}

const written = (): string => readFileSync(file, 'utf8');

describe('LogStream', () => {
  it('holds lines until a chunk is full, then writes them in order', async () => {
    const log = stream({ chunkChars: 100, flushIntervalMs: 60_000 });
    log.write('{"n":1}\n');
    log.write('{"n":2}\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written()).toBe('');
    const lines = Array.from({ length: 20 }, (_, i) => `{"n":${i + 3},"text":"ünïcødé ✓"}\n`);
    for (const line of lines) log.write(line);
    await vi.waitFor(() => expect(written().length).toBeGreaterThan(100));
    await new Promise((resolve) => log.flush(resolve));
    expect(written()).toBe(['{"n":1}\n', '{"n":2}\n', ...lines].join(''));
  });

  it('writes what waits within the flush interval, however little', async () => {
    const log = stream({ flushIntervalMs: 30 });
    log.write('{"alone":true}\n');
    await vi.waitFor(() => expect(written()).toBe('{"alone":true}\n'), { timeout: 2_000 });
  });

  it('has written everything when end() resolves, as at shutdown, in order', async () => {
    const log = stream({ flushIntervalMs: 60_000 });
    const lines = Array.from({ length: 5_000 }, (_, i) => `{"i":${i},"msg":"${'x'.repeat(i % 300)}"}\n`);
    for (const line of lines) log.write(line);
    await log.end();
    expect(written()).toBe(lines.join(''));
    // After end(), a line is written at once (a last word before exit).
    log.write('{"last":true}\n');
    await vi.waitFor(() => expect(written().endsWith('{"last":true}\n')).toBe(true));
  });

  it("is pino's destination: every line arrives whole, once, in order", async () => {
    const log = stream({ chunkChars: 1_000, flushIntervalMs: 60_000 });
    const logger = pino({ base: null }, log);
    for (let i = 0; i < 1_000; i++) logger.info({ i }, 'served');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    const got = written()
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { i: number }).i);
    expect(got).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
  });
});
