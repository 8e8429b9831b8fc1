/**
 * The cache's counters: Prometheus series (lookups, lookup latency, stores, coalesced requests,
 * what hits saved) and the same figures for `GET /v1/cache/stats`. Counts are this instance's
 * since it started; what the store holds is read from the store itself.
 */
import { Gauge, type Registry } from 'prom-client';
import { BoundCounter, BoundHistogram } from '../observability/bound-metrics.js';
import type { CacheStore } from './store.js';

export type LookupKind = 'exact' | 'semantic';

/** Sub-millisecond when healthy (memory), a Redis round trip otherwise, plus embedding for semantic. */
const LOOKUP_BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export interface CacheCounts {
  hits: { exact: number; semantic: number };
  misses: { exact: number; semantic: number };
  stores: number;
  coalesced: number;
  tokensSaved: number;
  usdSaved: number;
}

export class CacheMetrics {
  readonly counts: CacheCounts = { hits: { exact: 0, semantic: 0 }, misses: { exact: 0, semantic: 0 }, stores: 0, coalesced: 0, tokensSaved: 0, usdSaved: 0 };
  private readonly lookups: BoundCounter<'kind' | 'result'>;
  private readonly latency: BoundHistogram<'kind'>;
  private readonly hitExact: { inc(by?: number): void };
  private readonly missExact: { inc(by?: number): void };
  private readonly hitSemantic: { inc(by?: number): void };
  private readonly missSemantic: { inc(by?: number): void };
  private readonly latencyExact: { observe(value: number): void };
  private readonly latencySemantic: { observe(value: number): void };
  private readonly storesTotal: { inc(by?: number): void };
  private readonly coalescedTotal: { inc(by?: number): void };
  private readonly tokensSavedTotal: { inc(by?: number): void };
  private readonly usdSavedTotal: { inc(by?: number): void };

  constructor(registry: Registry, store: CacheStore) {
    const registers = [registry];
    this.lookups = new BoundCounter({ name: 'switchyard_cache_lookups_total', help: 'Cache lookups by kind (exact / semantic) and result (hit / miss).', labelNames: ['kind', 'result'] as const, registers });
    this.latency = new BoundHistogram({ name: 'switchyard_cache_lookup_seconds', help: 'Time of a cache lookup by kind (semantic includes embedding the request).', labelNames: ['kind'] as const, buckets: LOOKUP_BUCKETS, registers });
    const counter = (name: string, help: string) => new BoundCounter({ name, help, labelNames: [] as const, registers }).labels();
    this.storesTotal = counter('switchyard_cache_stores_total', 'Answers stored in the cache.');
    this.coalescedTotal = counter('switchyard_coalesced_requests_total', 'Requests answered by sharing another identical request\'s upstream call.');
    this.tokensSavedTotal = counter('switchyard_cache_saved_tokens_total', 'Prompt and completion tokens of answers served from the cache.');
    this.usdSavedTotal = counter('switchyard_cache_saved_usd_total', 'What the answers served from the cache cost when they were made (USD; models with a known price).');
    this.hitExact = this.lookups.labels('exact', 'hit');
    this.missExact = this.lookups.labels('exact', 'miss');
    this.hitSemantic = this.lookups.labels('semantic', 'hit');
    this.missSemantic = this.lookups.labels('semantic', 'miss');
    this.latencyExact = this.latency.labels('exact');
    this.latencySemantic = this.latency.labels('semantic');
    // Store-side figures are read when scraped (the Redis store asks Redis; that is its cost).
    const storeGauge = (name: string, help: string, read: (stats: Awaited<ReturnType<CacheStore['stats']>>) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          // A store that cannot answer (Redis down) must not fail the whole scrape: the gauge keeps its last value.
          const stats = await store.stats().catch(() => undefined);
          if (stats) this.set(read(stats));
        },
      });
    };
    storeGauge('switchyard_cache_entries', 'Answers held by the cache store.', (s) => s.entries);
    storeGauge('switchyard_cache_bytes', 'Bytes held by the cache store.', (s) => s.bytes);
    storeGauge('switchyard_cache_evictions', 'Answers the memory store removed to make room, since start.', (s) => s.evictions);
  }

  lookup(kind: LookupKind, hit: boolean, seconds: number): void {
    if (kind === 'exact') {
      (hit ? this.hitExact : this.missExact).inc();
      this.latencyExact.observe(seconds);
    } else {
      (hit ? this.hitSemantic : this.missSemantic).inc();
      this.latencySemantic.observe(seconds);
    }
    (hit ? this.counts.hits : this.counts.misses)[kind]++;
  }

  saved(tokens: number, usd: number): void {
    this.counts.tokensSaved += tokens;
    this.tokensSavedTotal.inc(tokens);
    if (usd > 0) {
      this.counts.usdSaved += usd;
      this.usdSavedTotal.inc(usd);
    }
  }

  stored(): void {
    this.counts.stores++;
    this.storesTotal.inc();
  }

  coalesced(): void {
    this.counts.coalesced++;
    this.coalescedTotal.inc();
  }
}
