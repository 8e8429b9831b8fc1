/**
 * Busy polling (`server.busy_poll_us`, off by default). For a short window after each request
 * arrives and after each reply, the event loop keeps turning (one `setImmediate` per turn, so
 * libuv polls its sockets without blocking) instead of sleeping in epoll. The next socket event,
 * an upstream's answer or a client's next request, is then picked up at once, where a sleeping
 * core must first be woken: on a virtual machine that costs tens of µs per event, and a proxied
 * request waits on two such events. HAProxy's `busy-polling` trades CPU for latency the same way.
 *
 * The price is CPU: each request keeps the core busy for up to about twice the window, so once
 * requests come about as often as the window the process shows near 100% of a core. It is for
 * latency-sensitive deployments on dedicated cores, not for containers with CPU quotas (the
 * spinning uses up the quota).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * How long each turn waits in a plain loop before the next poll. Every turn allocates an
 * Immediate (~250 bytes): a turn per µs made a scavenge every ~4,000 turns, and doubled the
 * gateway's scavenges at c=1 (docs/benchmarks.md, "Busy polling"). A 5 µs turn allocates a fifth as much, and an
 * event that arrives during it waits 2.5 µs on average.
 */
const TURN_MS = 0.005;
/** What a turn with nothing else to do costs beyond its wait: the poll, the Immediate, the clock read. */
const TURN_OVERHEAD_MS = 0.002;

/** Time the event loop spent spinning with nothing to do, since start-up (one loop per process). */
let spunMs = 0;

export class BusyPoll {
  readonly #windowMs: number;
  readonly #turnIterations: number;
  #until = 0;
  #lastTurn = 0;
  #spinning = false;
  #stopped = false;

  constructor(windowUs: number) {
    this.#windowMs = windowUs / 1000;
    this.#turnIterations = iterationsFor(TURN_MS);
  }

  /** Work arrived or was finished (a request, its reply): keep the loop awake for the window from now. */
  readonly touch = (): void => {
    if (this.#stopped) return;
    const now = performance.now();
    this.#until = now + this.#windowMs;
    if (this.#spinning) return;
    this.#spinning = true;
    this.#lastTurn = now;
    setImmediate(this.#turn);
  };

  /** Keeps the loop awake from each request's arrival (its upstream may answer soon) and after its reply (for the client's next request). */
  watch(server: Server): void {
    server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
      this.touch();
      // 'finish' comes once per response: `on`, not `once`, spares a wrapper per request.
      response.on('finish', this.touch);
    });
  }

  /** Whether the loop is being kept awake now. */
  get spinning(): boolean {
    return this.#spinning;
  }

  /** No more spinning (shutdown): at most the turn already queued runs. */
  stop(): void {
    this.#stopped = true;
  }

  readonly #turn = (): void => {
    wait(this.#turnIterations);
    const now = performance.now();
    const gap = now - this.#lastTurn;
    this.#lastTurn = now;
    // Of the time since the last turn, only a turn's own cost was spin; the rest was work (or
    // the thread was preempted or collecting garbage). Only touches extend the window: such gaps
    // are too common to tell work from, and would keep it spinning for ever.
    spunMs += Math.min(gap, TURN_MS + TURN_OVERHEAD_MS);
    if (now < this.#until && !this.#stopped) setImmediate(this.#turn);
    else this.#spinning = false;
  };
}

let sink = 0;

/** A loop that allocates nothing (a clock read would: performance.now() makes an array each time). */
function wait(iterations: number): void {
  for (let i = 0; i < iterations; i++) sink = (sink + i) | 0;
}

/** How many iterations of `wait` take about `ms`, timed once it is compiled. */
function iterationsFor(ms: number): number {
  const probe = 10_000;
  for (let i = 0; i < 50; i++) wait(probe);
  // The quickest of five timings: preemption or a GC only ever make one slower.
  let perIteration = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < 10; i++) wait(probe);
    perIteration = Math.min(perIteration, (performance.now() - start) / (10 * probe));
  }
  return Math.min(1_000_000, Math.max(100, Math.round(ms / Math.max(perIteration, 1e-9))));
}

/** A point to measure the event loop's load from (`loopBusyShare`). */
export interface LoopSample {
  readonly elu: EventLoopUtilization;
  readonly spunMs: number;
}

type EventLoopUtilization = ReturnType<typeof performance.eventLoopUtilization>;

export function loopSample(): LoopSample {
  return { elu: performance.eventLoopUtilization(), spunMs };
}

/**
 * The share of the time since `before` that the event loop spent on work, 0 to 1: its
 * utilization, less what busy polling's turns cost by themselves (the loop counts spinning as
 * active). Time the thread lost to other processes while it spun counts as work: on a core it
 * shares, a spinning gateway reads busier than it is.
 */
export function loopBusyShare(before: LoopSample): number {
  const { idle, active } = performance.eventLoopUtilization(before.elu);
  const elapsed = idle + active;
  if (elapsed <= 0) return 0;
  return Math.max(0, active - (spunMs - before.spunMs)) / elapsed;
}
