import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isoTimeField } from './log-time.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('isoTimeField', () => {
  it("writes what pino's isoTime writes, following the clock", () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    for (const at of [Date.UTC(2026, 11, 6, 9, 30, 0, 5), Date.UTC(2026, 11, 6, 9, 30, 0, 5), Date.UTC(2026, 11, 6, 9, 30, 0, 6), Date.UTC(2027, 0, 1)]) {
      vi.setSystemTime(at);
      expect(isoTimeField()).toBe(pino.stdTimeFunctions.isoTime());
      expect(isoTimeField()).toBe(`,"time":"${new Date(at).toISOString()}"`);
    }
  });

  it('makes log lines that parse, with the time of the line', () => {
    const lines: string[] = [];
    const logger = pino({ timestamp: isoTimeField }, { write: (line: string) => lines.push(line) });
    const before = Date.now();
    logger.info('hello');
    const time = Date.parse((JSON.parse(lines[0]!) as { time: string }).time);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});
