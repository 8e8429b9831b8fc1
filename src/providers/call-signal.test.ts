import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallAbort } from './call-signal.js';

describe('CallAbort', () => {
  afterEach(() => vi.restoreAllMocks());

  it('aborts once: the listeners run once, and the first reason stays', () => {
    const abort = new CallAbort();
    const calls: string[] = [];
    abort.signal.addEventListener('abort', () => calls.push(`a:${String(abort.signal.reason)}`));
    abort.signal.addEventListener('abort', () => calls.push('b'));
    expect(abort.signal.aborted).toBe(false);
    expect(abort.signal.reason).toBeUndefined();
    abort.abort('first');
    abort.abort('second');
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe('first');
    expect(calls).toEqual(['a:first', 'b']);
  });

  it('skips a removed listener, registers the same listener once, and never calls one added after the abort', () => {
    const abort = new CallAbort();
    const removed = vi.fn();
    const twice = vi.fn();
    abort.signal.addEventListener('abort', removed);
    abort.signal.addEventListener('abort', twice);
    abort.signal.addEventListener('abort', twice, { once: true });
    abort.signal.removeEventListener('abort', removed);
    abort.signal.removeEventListener('abort', vi.fn()); // not registered: nothing happens
    abort.abort(new Error('gone'));
    const late = vi.fn();
    abort.signal.addEventListener('abort', late);
    expect(removed).not.toHaveBeenCalled();
    expect(twice).toHaveBeenCalledTimes(1);
    expect(late).not.toHaveBeenCalled();
  });

  it("gives AbortController's default reason and throws the reason from throwIfAborted", () => {
    const abort = new CallAbort();
    expect(() => abort.signal.throwIfAborted()).not.toThrow();
    abort.abort();
    const reason = abort.signal.reason;
    expect(reason).toBeInstanceOf(DOMException);
    expect((reason as DOMException).name).toBe('AbortError');
    expect(() => abort.signal.throwIfAborted()).toThrow(reason as DOMException);
  });

  it("runs every listener when one throws, and rethrows that error outside abort() (as EventTarget does)", () => {
    const deferred: Array<() => void> = [];
    vi.spyOn(process, 'nextTick').mockImplementation(((fn: () => void) => void deferred.push(fn)) as typeof process.nextTick);
    const abort = new CallAbort();
    const after = vi.fn();
    abort.signal.addEventListener('abort', () => {
      throw new Error('listener bug');
    });
    abort.signal.addEventListener('abort', after);
    expect(() => abort.abort(new Error('stop'))).not.toThrow();
    expect(after).toHaveBeenCalledTimes(1);
    expect(deferred).toHaveLength(1);
    expect(() => deferred[0]!()).toThrow('listener bug');
  });
});
