import { describe, expect, it, vi } from 'vitest';
import { shutdownStep } from './shutdown-step.js';

describe('shutdownStep', () => {
  it('waits for a step that finishes in time, without a warning', async () => {
    const warn = vi.fn();
    let done = false;
    await shutdownStep('cache', async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      done = true;
    }, 1000, warn);
    expect(done).toBe(true);
    expect(warn).not.toHaveBeenCalled();
  });

  it('goes on after the bound when a step never ends, and says which', async () => {
    const warn = vi.fn();
    const started = performance.now();
    await shutdownStep('database', () => new Promise(() => undefined), 30, warn);
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(warn).toHaveBeenCalledWith('database', 30);
  });

  it("passes a step's failure on", async () => {
    await expect(shutdownStep('tracing', () => Promise.reject(new Error('export failed')), 1000, () => undefined)).rejects.toThrow('export failed');
  });
});
