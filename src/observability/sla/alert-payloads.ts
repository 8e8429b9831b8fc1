/**
 * What an SLO alert says, in the two webhook formats: Switchyard's own JSON object, and a Slack
 * incoming-webhook message (`text` for notifications, Block Kit `blocks` for the message itself).
 */
import type { IndicatorName, IndicatorUnit } from './indicators.js';

export type AlertKind = 'violation' | 'recovery';
export type IndicatorStateName = 'ok' | 'violated' | 'insufficient_data';
export type SloTarget = { model: string } | { provider: string };

export interface SloAlert {
  kind: AlertKind;
  slo: string;
  indicator: IndicatorName;
  unit: IndicatorUnit;
  target: SloTarget;
  /** In the config's unit (percent or milliseconds), as are value. */
  objective: number;
  value: number | null;
  windowMs: number;
  /** Requests in the window (successes, client errors and server failures). */
  requests: number;
  state: IndicatorStateName;
  /** Epoch milliseconds. */
  at: number;
}

export interface JsonAlertPayload {
  type: 'slo.violation' | 'slo.recovery';
  slo: string;
  indicator: IndicatorName;
  unit: IndicatorUnit;
  target: SloTarget;
  objective: number;
  value: number | null;
  window_ms: number;
  requests: number;
  state: IndicatorStateName;
  at: string;
}

export function jsonPayload(alert: SloAlert): JsonAlertPayload {
  return {
    type: alert.kind === 'violation' ? 'slo.violation' : 'slo.recovery',
    slo: alert.slo,
    indicator: alert.indicator,
    unit: alert.unit,
    target: alert.target,
    objective: alert.objective,
    value: roundValue(alert.unit, alert.value),
    window_ms: alert.windowMs,
    requests: alert.requests,
    state: alert.state,
    at: new Date(alert.at).toISOString(),
  };
}

interface SlackText {
  type: 'plain_text' | 'mrkdwn';
  text: string;
}

export interface SlackPayload {
  text: string;
  blocks: (
    | { type: 'header'; text: SlackText }
    | { type: 'section'; text?: SlackText; fields?: SlackText[] }
    | { type: 'context'; elements: SlackText[] }
  )[];
}

export function slackPayload(alert: SloAlert): SlackPayload {
  const violated = alert.kind === 'violation';
  const comparison = alert.indicator === 'availability' ? '≥' : '≤';
  const value = formatValue(alert.unit, alert.value);
  const objective = `${comparison} ${formatValue(alert.unit, alert.objective)}`;
  const target = 'model' in alert.target ? `model group ${escape(alert.target.model)}` : `provider ${escape(alert.target.provider)}`;
  const window = formatDuration(alert.windowMs);
  const headline = violated ? `SLO ${alert.slo} violated` : `SLO ${alert.slo} recovered`;
  const summary = `${violated ? ':red_circle:' : ':large_green_circle:'} *${escape(alert.slo)}* ${violated ? 'violated' : 'recovered'}: ${alert.indicator} ${value} (objective ${objective}) for ${target} over the last ${window}`;
  return {
    text: summary,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: headline } },
      { type: 'section', text: { type: 'mrkdwn', text: summary } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: `*Indicator*\n${alert.indicator}` },
          { type: 'mrkdwn', text: `*Value*\n${value}` },
          { type: 'mrkdwn', text: `*Objective*\n${objective}` },
          { type: 'mrkdwn', text: `*Target*\n${target}` },
          { type: 'mrkdwn', text: `*Window*\n${window}` },
          { type: 'mrkdwn', text: `*Requests*\n${alert.requests}` },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `Switchyard SLA monitor · ${new Date(alert.at).toISOString()}` }] },
    ],
  };
}

/** Percentages to 4 decimals, milliseconds whole (the estimate is no finer than that). */
export function roundValue(unit: IndicatorUnit, value: number | null): number | null {
  if (value === null) return null;
  return unit === 'percent' ? Math.round(value * 1e4) / 1e4 : Math.round(value);
}

function formatValue(unit: IndicatorUnit, value: number | null): string {
  if (value === null) return 'no data';
  return unit === 'percent' ? `${Math.round(value * 1000) / 1000}%` : `${Math.round(value)} ms`;
}

function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** Slack's mrkdwn treats &, < and > as control characters. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
