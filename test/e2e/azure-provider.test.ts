/**
 * What is Azure-specific beyond the conformance suite (test/conformance/azure.conformance.test.ts):
 * the URL, query and headers Azure receives in each API style, Azure's content-filter annotations
 * reaching the client untouched (responses and streams), and the 400 for a filtered prompt.
 */
import type { OpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiError, collect } from '../conformance/conformance-helpers.js';
import { contentFilterResults, promptFilterResults } from '../fakes/azure-wire.js';
import { OpenAIConformanceFake } from '../fakes/openai-conformance.js';
import { sdk } from '../helpers/client.js';
import { startGateway, stopAllGateways, type Gateway } from '../helpers/gateway.js';

let deployments: OpenAIConformanceFake;
let v1: OpenAIConformanceFake;
let gateway: Gateway;
let client: OpenAI;

beforeAll(async () => {
  deployments = await OpenAIConformanceFake.start({ flavor: 'azure-deployments', model: 'prod-gpt4o-mini', apiKey: '6b1e0c4f9d2a47e3b8c5f0a1d2e3f4a5', apiVersion: '2025-01-01-preview' });
  v1 = await OpenAIConformanceFake.start({ flavor: 'azure-v1', model: 'prod-gpt4o-mini', apiKey: '7c2f1d5a0e3b48f4c9d6a1b2e3f4a5b6' });
  const provider = (fake: OpenAIConformanceFake) => JSON.stringify(fake.providerConfig());
  gateway = await startGateway(`
providers:
  azd: ${provider(deployments)}
  az1: ${provider(v1)}
  backup: { type: mock }
models:
  dep: { targets: [ { provider: azd, model: prod-gpt4o-mini } ] }
  v1: { targets: [ { provider: az1, model: prod-gpt4o-mini } ] }
  dep-failover: { targets: [ { provider: azd, model: prod-gpt4o-mini }, { provider: backup, model: mock } ] }
`);
  client = sdk(gateway);
});

afterAll(async () => {
  await stopAllGateways();
  await deployments?.close();
  await v1?.close();
});

beforeEach(() => {
  deployments.reset();
  v1.reset();
});

const ask = (model: string, content = 'Hi Azure') => ({ model, messages: [{ role: 'user' as const, content }] });

describe('Azure OpenAI requests', () => {
  it('deployments style: the deployment in the path, the configured api-version, the key in api-key', async () => {
    const { response } = await client.chat.completions.create(ask('dep')).withResponse();
    const call = deployments.calls.at(-1)!;
    expect(call.method).toBe('POST');
    expect(call.url).toBe('/openai/deployments/prod-gpt4o-mini/chat/completions?api-version=2025-01-01-preview');
    expect(call.headers['api-key']).toBe('6b1e0c4f9d2a47e3b8c5f0a1d2e3f4a5');
    expect(call.headers.authorization).toBeUndefined();
    expect(call.headers['x-request-id']).toBe(response.headers.get('x-request-id'));
    expect(response.headers.get('x-switchyard-provider')).toBe('azd');
  });

  it('v1 style: /openai/v1/chat/completions without api-version, the deployment as the body model', async () => {
    await client.chat.completions.create(ask('v1'));
    const call = v1.calls.at(-1)!;
    expect(call.url).toBe('/openai/v1/chat/completions');
    expect(call.headers['api-key']).toBe('7c2f1d5a0e3b48f4c9d6a1b2e3f4a5b6');
    expect(call.headers.authorization).toBeUndefined();
    expect((call.body as { model?: string }).model).toBe('prod-gpt4o-mini');
  });
});

describe('Azure content filtering', () => {
  it('passes prompt_filter_results and per-choice content_filter_results through untouched', async () => {
    deployments.enqueue({ kind: 'reply', text: 'All clean.', finish: 'stop', usage: { input: 9, output: 3 } });
    const completion = (await client.chat.completions.create(ask('dep'))) as unknown as Record<string, unknown> & OpenAI.Chat.ChatCompletion;
    expect(completion.prompt_filter_results).toEqual(promptFilterResults());
    expect((completion.choices[0] as unknown as Record<string, unknown>).content_filter_results).toEqual(contentFilterResults());
    expect(completion.choices[0]!.message.content).toBe('All clean.');
  });

  it('streams the prompt annotations first (no choices) and annotations on each content chunk', async () => {
    deployments.enqueue({ kind: 'reply', text: 'Partly filtered answer', finish: 'content_filter', usage: { input: 9, output: 3 } });
    const chunks = await collect(await client.chat.completions.create({ ...ask('dep'), stream: true }));
    const first = chunks[0] as unknown as Record<string, unknown>;
    expect(first.choices).toEqual([]);
    expect(first.prompt_filter_results).toEqual(promptFilterResults());

    const annotations = chunks.slice(1).map((c) => (c.choices[0] as unknown as { content_filter_results?: unknown }).content_filter_results);
    const content = chunks.slice(1).filter((c) => c.choices[0]?.delta.content);
    expect(content.length).toBeGreaterThan(1);
    for (const chunk of content) expect((chunk.choices[0] as unknown as Record<string, unknown>).content_filter_results).toEqual(contentFilterResults());
    expect(annotations.at(-1)).toEqual(contentFilterResults('violence'));
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('content_filter');
  });

  it('answers a filtered prompt with Azure\'s 400 content_filter error, not retried elsewhere', async () => {
    deployments.enqueuePromptFiltered();
    const err = await apiError(() => client.chat.completions.create(ask('dep-failover', 'something filtered')).withResponse());
    expect(err.status).toBe(400);
    expect(err.code).toBe('content_filter');
    expect(err.param).toBe('prompt');
    expect(err.message).toContain("triggering Azure OpenAI's content management policy");
    expect(err.headers?.get('x-switchyard-attempts')).toBe('1');
    expect(deployments.chatRequestCount()).toBe(1);
  });
});
