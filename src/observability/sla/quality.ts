/**
 * Answer quality per model group, counted since the gateway started: answers, truncated ones
 * (a choice stopped by the token limit), empty ones, and — for answers to
 * `response_format: json_schema` — whether they matched their schema (json-schema-check.ts).
 * Counted in `switchyard_answers_total` and `switchyard_answer_quality_total` and shown by
 * GET /v1/sla.
 */
import type { Registry } from 'prom-client';
import { BoundCounter } from '../bound-metrics.js';

export interface AnswerSample {
  /** The model group (the metric label); '' when it did not resolve (not counted). */
  model: string;
  /** Every choice's finish reason, OpenAI-style (`stop`, `length`, `tool_calls`, ...). */
  finishReasons: readonly string[];
  /** No text and no tool calls in any choice. */
  empty: boolean;
  /** Set when the request asked for a JSON schema and the schema could be checked. */
  schema?: { valid: boolean };
}

export interface ModelQuality {
  model: string;
  answers: number;
  truncated: number;
  empty: number;
  schema_valid: number;
  schema_invalid: number;
  truncation_rate: number;
  empty_rate: number;
  /** schema_valid / (schema_valid + schema_invalid); null when no answer was checked. */
  schema_compliance_rate: number | null;
}

/** `length` is OpenAI's; `max_tokens` is Anthropic's, should an untranslated one arrive. */
const TRUNCATED = new Set(['length', 'max_tokens']);
/** Label values beyond this many models are counted as `other`. */
export const MAX_MODELS = 1000;
const OTHER = 'other';

interface Counts {
  answers: number;
  truncated: number;
  empty: number;
  schemaValid: number;
  schemaInvalid: number;
  series: Record<'answers' | 'truncated' | 'empty' | 'schemaValid' | 'schemaInvalid', { inc(by?: number): void }>;
}

export class QualitySignals {
  readonly #answers: BoundCounter<'model'>;
  readonly #quality: BoundCounter<'model' | 'signal'>;
  readonly #byModel = new Map<string, Counts>();

  constructor(registry: Registry) {
    this.#answers = new BoundCounter({
      name: 'switchyard_answers_total',
      help: 'Answers returned, by model group (the denominator of switchyard_answer_quality_total).',
      labelNames: ['model'] as const,
      registers: [registry],
    });
    this.#quality = new BoundCounter({
      name: 'switchyard_answer_quality_total',
      help: 'Answers by quality signal and model group: truncated (finish_reason length), empty, schema_valid / schema_invalid (response_format json_schema).',
      labelNames: ['model', 'signal'] as const,
      registers: [registry],
    });
  }

  observe(sample: AnswerSample): void {
    if (sample.model === '') return;
    const counts = this.#countsFor(sample.model);
    counts.answers += 1;
    counts.series.answers.inc();
    if (isTruncated(sample.finishReasons)) {
      counts.truncated += 1;
      counts.series.truncated.inc();
    }
    if (sample.empty) {
      counts.empty += 1;
      counts.series.empty.inc();
    }
    if (sample.schema?.valid === true) {
      counts.schemaValid += 1;
      counts.series.schemaValid.inc();
    } else if (sample.schema?.valid === false) {
      counts.schemaInvalid += 1;
      counts.series.schemaInvalid.inc();
    }
  }

  snapshot(): ModelQuality[] {
    return [...this.#byModel.entries()].map(([model, c]) => ({
      model,
      answers: c.answers,
      truncated: c.truncated,
      empty: c.empty,
      schema_valid: c.schemaValid,
      schema_invalid: c.schemaInvalid,
      truncation_rate: rate(c.truncated, c.answers) ?? 0,
      empty_rate: rate(c.empty, c.answers) ?? 0,
      schema_compliance_rate: rate(c.schemaValid, c.schemaValid + c.schemaInvalid),
    }));
  }

  #countsFor(model: string): Counts {
    const counts = this.#byModel.get(model);
    if (counts) return counts;
    // Group names are bounded by the configuration; this guards the labels anyway.
    if (this.#byModel.size >= MAX_MODELS) return this.#byModel.get(OTHER) ?? this.#create(OTHER);
    return this.#create(model);
  }

  #create(model: string): Counts {
    const counts: Counts = {
      answers: 0,
      truncated: 0,
      empty: 0,
      schemaValid: 0,
      schemaInvalid: 0,
      series: {
        answers: this.#answers.labels(model),
        truncated: this.#quality.labels(model, 'truncated'),
        empty: this.#quality.labels(model, 'empty'),
        schemaValid: this.#quality.labels(model, 'schema_valid'),
        schemaInvalid: this.#quality.labels(model, 'schema_invalid'),
      },
    };
    this.#byModel.set(model, counts);
    return counts;
  }
}

function isTruncated(reasons: readonly string[]): boolean {
  for (let i = 0; i < reasons.length; i++) if (TRUNCATED.has(reasons[i]!)) return true;
  return false;
}

function rate(part: number, whole: number): number | null {
  return whole === 0 ? null : Math.round((part / whole) * 1e6) / 1e6;
}
