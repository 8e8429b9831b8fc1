/**
 * V8 heap settings for a gateway, applied before any other module loads (main.ts imports this
 * first). A gateway allocates mostly short-lived objects per request, so:
 *
 * - Allocation-site pretenuring is off. V8 starts allocating an object literal straight into the
 *   old generation once most of its objects have survived a scavenge; under load that happens to
 *   per-request literals (a request in flight survives every scavenge), which then die in the old
 *   generation and, until the next full GC, keep the young objects they point to alive. Measured
 *   on the core benchmark: half the bytes promoted per scavenge, scavenge pauses 5.2 -> 2.7 ms,
 *   9–15% more throughput, peak RSS 25–40 MB lower (docs/benchmarks.md, "Heap tuning").
 *
 * A pretenuring flag given to node (command line or NODE_OPTIONS) wins over this default.
 */
import { setFlagsFromString } from 'node:v8';

/** The V8 flags to set at start-up, given node's own flags: none the user already chose. */
export function heapFlags(execArgv: readonly string[], nodeOptions: string | undefined): string[] {
  // Each flag's name alone, in one spelling: `--no-x_y=1` and `--x-y` both name `--x-y`.
  const given = [...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((flag) => flag.replaceAll('_', '-').replace(/^--no-/, '--').split('=')[0]);
  return given.includes('--allocation-site-pretenuring') ? [] : ['--no-allocation-site-pretenuring'];
}

for (const flag of heapFlags(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(flag);
