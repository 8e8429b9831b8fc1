import { describe, expect, it, vi } from 'vitest';
import { closeClient, createRequestContext, Drains, type RequestContext } from './context.js';

function billed(drains: Drains | undefined, drainMs = 30_000): { rc: RequestContext; aborted: ReturnType<typeof vi.fn> } {
  const rc = createRequestContext('req-1', 'chat', performance.now());
  const aborted = vi.fn();
  rc.drainMs = drainMs;
  rc.drains = drains;
  rc.onClientClose = aborted;
  return { rc, aborted };
}

describe('closeClient', () => {
  it('aborts a request that is not billed at once', () => {
    const { rc, aborted } = billed(undefined, 0);
    closeClient(rc);
    expect(aborted).toHaveBeenCalledWith(rc.clientClosed);
    expect(rc.clientClosed).toMatchObject({ code: 'client_closed_request' });
  });

  it('lets a billed request drain until drain_timeout_ms, then aborts it', () => {
    vi.useFakeTimers();
    try {
      const { rc, aborted } = billed(new Drains(), 1000);
      closeClient(rc);
      expect(aborted).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1000);
      expect(aborted).toHaveBeenCalledOnce();
      expect(rc.drainMs).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends every drain when shutdown ends them, and drains none after', () => {
    const drains = new Drains();
    const first = billed(drains);
    const second = billed(drains);
    closeClient(first.rc);
    closeClient(second.rc);
    drains.endAll();
    expect([first.aborted.mock.calls.length, second.aborted.mock.calls.length]).toEqual([1, 1]);
    expect([first.rc.drainMs, second.rc.drainMs]).toEqual([0, 0]);
    const late = billed(drains);
    closeClient(late.rc);
    expect(late.aborted).toHaveBeenCalledOnce();
    expect(late.rc.drainMs).toBe(0);
  });
});
