/**
 * V8 settings for a gateway, applied before any other module loads (main.ts imports this first).
 * A gateway allocates mostly short-lived objects per request, so:
 *
 * - Allocation-site pretenuring is off. V8 starts allocating an object literal straight into the
 *   old generation once most of its objects have survived a scavenge; under load that happens to
 *   per-request literals (a request in flight survives every scavenge), which then die in the old
 *   generation and, until the next full GC, keep the young objects they point to alive. Measured
 *   on the core benchmark: half the bytes promoted per scavenge, scavenge pauses 5.2 -> 2.7 ms,
 *   9–15% more throughput, peak RSS 25–40 MB lower (docs/benchmarks.md, "Heap tuning").
 * - The old generation may grow by 25% past what the last full GC left (or V8's minimum step,
 *   ~24 MB here) before the next full GC, where V8 would pick 1.1x to 4x from its GC and
 *   allocation speeds and picked 4x under load. Most of what reaches the old generation here
 *   dies soon after (rows queued for the database, for one: a full GC at saturation frees ~17 of
 *   every ~18 MB promoted since the last), so the heap cycled between ~30 and ~90+ MB.
 *   Bounded: a full GC every second or two at saturation, throughput unchanged, peak RSS ~190
 *   -> ~155 MB; since attempts no longer promote an AbortSignal each (providers/call-signal.ts),
 *   less reaches the old generation and the bound saves less (~160 -> ~152 MB). V8 reads this
 *   flag at every full GC, so setting it after start-up works (unlike the young generation's
 *   size, fixed when the heap is set up: bin/switchyard, the `switchyard` command, sets that).
 *
 * And WebAssembly stays on Liftoff, V8's baseline wasm compiler. The only wasm here is undici's
 * HTTP parser (llhttp), and once it is hot V8 recompiles it with TurboFan in the background: its
 * register allocator takes 20-37 MB of malloc for a moment, the gateway's peak RSS, at the start
 * of the first load. Liftoff's parser costs no CPU per request that a benchmark can see
 * (docs/benchmarks.md, "The peak at the start of load"). V8 reads the flag when it compiles, and
 * undici compiles llhttp at its first connection. Only on x64 and arm64: under this flag a
 * function Liftoff cannot compile is a fatal error instead of a TurboFan compile, and only
 * there does Liftoff cover all of WebAssembly SIMD (which undici's parser uses when V8 has it).
 *
 * A flag given to node (command line or NODE_OPTIONS) wins over these defaults.
 */
import { setFlagsFromString } from 'node:v8';

/** Each default: the flag's name (what a user's own setting of it is recognised by), and the setting. */
const DEFAULTS: ReadonlyArray<readonly [name: string, setting: string]> = [
  ['--allocation-site-pretenuring', '--no-allocation-site-pretenuring'],
  ['--heap-growing-percent', '--heap-growing-percent=25'],
];

/** WebAssembly on Liftoff only, where Liftoff compiles all of it (SIMD included) itself. */
const LIFTOFF_ONLY = ['--liftoff-only', '--liftoff-only'] as const;
const LIFTOFF_COMPLETE = new Set(['x64', 'arm64']);

/** The V8 flags to set at start-up, given node's own flags and the CPU: none the user already chose. */
export function heapFlags(execArgv: readonly string[], nodeOptions: string | undefined, arch: string = process.arch): string[] {
  const defaults = LIFTOFF_COMPLETE.has(arch) ? [...DEFAULTS, LIFTOFF_ONLY] : DEFAULTS;
  // Each flag's name alone, in one spelling: `--no-x_y=1` and `--x-y` both name `--x-y`.
  const given = new Set([...execArgv, ...(nodeOptions ?? '').split(/\s+/)].map((flag) => flag.replaceAll('_', '-').replace(/^--no-/, '--').split('=')[0]));
  return defaults.filter(([name]) => !given.has(name)).map(([, setting]) => setting);
}

for (const flag of heapFlags(process.execArgv, process.env.NODE_OPTIONS)) setFlagsFromString(flag);
