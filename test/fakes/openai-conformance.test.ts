/**
 * The OpenAI / Azure conformance fake against the official clients directly (no gateway): the
 * `OpenAI` client for OpenAI and Azure's v1 API, `AzureOpenAI` for deployment URLs. If the official
 * clients accept the fake's answers and reach its routes, the conformance suite rests on a faithful fake.
 */
import OpenAI, { AuthenticationError, AzureOpenAI, BadRequestError, RateLimitError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiError, collect, streamedText } from '../conformance/conformance-helpers.js';
import { OpenAIConformanceFake } from './openai-conformance.js';

const ask = (model: string) => ({ model, messages: [{ role: 'system' as const, content: 'Be brief.' }, { role: 'user' as const, content: 'Hi' }], max_tokens: 20 });

describe('OpenAI flavor with the OpenAI client', () => {
  let fake: OpenAIConformanceFake;
  let client: OpenAI;
  beforeAll(async () => {
    fake = await OpenAIConformanceFake.start({ flavor: 'openai' });
    const { base_url, api_key } = fake.providerConfig() as { base_url: string; api_key: string };
    client = new OpenAI({ baseURL: base_url, apiKey: api_key, maxRetries: 0 });
  });
  afterAll(() => fake.close());

  it('answers scripted replies as JSON and as a stream, and reads the request back', async () => {
    fake.enqueue({ kind: 'reply', text: 'Hello there.', finish: 'length', usage: { input: 7, output: 2, cacheRead: 3 } });
    const completion = await client.chat.completions.create(ask(fake.model));
    expect(completion.choices[0]).toMatchObject({ message: { content: 'Hello there.' }, finish_reason: 'length' });
    expect(completion.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 2, total_tokens: 12, prompt_tokens_details: { cached_tokens: 3 } });
    expect(fake.lastChatRequest()).toEqual({ model: fake.model, stream: false, system: 'Be brief.', messages: [{ role: 'user', text: 'Hi', images: 0, toolCalls: [] }], tools: [], maxTokens: 20 });

    fake.enqueue({ kind: 'reply', text: 'Streamed hello.', finish: 'stop', usage: { input: 7, output: 3 } });
    const chunks = await collect(await client.chat.completions.create({ ...ask(fake.model), stream: true, stream_options: { include_usage: true } }));
    expect(streamedText(chunks)).toBe('Streamed hello.');
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 3 });
  });

  it('answers scripted errors, a wrong key and an unknown model as OpenAI does', async () => {
    fake.enqueue({ kind: 'http-error', errorClass: 'rate_limit', message: 'Slow down.', retryAfterSeconds: 3 });
    const limited = await apiError(() => client.chat.completions.create(ask(fake.model)));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited).toMatchObject({ message: '429 Slow down.', code: 'rate_limit_exceeded' });
    expect(limited.headers?.get('retry-after')).toBe('3');
    const wrongKey = new OpenAI({ baseURL: (fake.providerConfig() as { base_url: string }).base_url, apiKey: 'sk-wrong-key-000000', maxRetries: 0 });
    expect(await apiError(() => wrongKey.chat.completions.create(ask(fake.model)))).toBeInstanceOf(AuthenticationError);
    expect(await apiError(() => client.chat.completions.create(ask('gpt-0')))).toMatchObject({ status: 404, code: 'model_not_found' });
  });
});

describe('Azure flavors with the official clients', () => {
  let deployments: OpenAIConformanceFake;
  let v1: OpenAIConformanceFake;
  beforeAll(async () => {
    deployments = await OpenAIConformanceFake.start({ flavor: 'azure-deployments', apiVersion: '2024-10-21' });
    v1 = await OpenAIConformanceFake.start({ flavor: 'azure-v1' });
  });
  afterAll(async () => {
    await deployments.close();
    await v1.close();
  });
  const key = (fake: OpenAIConformanceFake) => (fake.providerConfig() as { api_key: string }).api_key;

  it('deployments: AzureOpenAI reaches the deployment route with api-key, streams and gets Azure errors', async () => {
    const azure = new AzureOpenAI({ endpoint: deployments.url, apiKey: key(deployments), apiVersion: '2024-10-21', deployment: deployments.model, maxRetries: 0 });
    deployments.enqueue({ kind: 'reply', text: 'Hi from Azure.', finish: 'stop', usage: { input: 5, output: 4 } });
    const completion = await azure.chat.completions.create(ask(deployments.model));
    expect(completion.choices[0]!.message.content).toBe('Hi from Azure.');
    expect(deployments.calls.at(-1)!.url).toBe(`/openai/deployments/${deployments.model}/chat/completions?api-version=2024-10-21`);
    expect(deployments.lastChatRequest().model).toBe(deployments.model);

    deployments.enqueue({ kind: 'reply', text: 'Streamed from Azure.', finish: 'stop', usage: { input: 5, output: 4 } });
    const chunks = await collect(await azure.chat.completions.create({ ...ask(deployments.model), stream: true }));
    expect(streamedText(chunks)).toBe('Streamed from Azure.');

    deployments.enqueuePromptFiltered();
    expect(await apiError(() => azure.chat.completions.create(ask(deployments.model)))).toBeInstanceOf(BadRequestError);
    const other = new AzureOpenAI({ endpoint: deployments.url, apiKey: key(deployments), apiVersion: '2024-10-21', deployment: 'no-such-deployment', maxRetries: 0 });
    expect(await apiError(() => other.chat.completions.create(ask('x')))).toMatchObject({ status: 404, code: 'DeploymentNotFound' });
    const wrongKey = new AzureOpenAI({ endpoint: deployments.url, apiKey: 'wrong', apiVersion: '2024-10-21', deployment: deployments.model, maxRetries: 0 });
    expect(await apiError(() => wrongKey.chat.completions.create(ask(deployments.model)))).toMatchObject({ status: 401, code: '401' });
  });

  it('deployments: a request without api-version gets Azure\'s 404', async () => {
    const res = await fetch(`${deployments.url}/openai/deployments/${deployments.model}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'api-key': key(deployments) },
      body: JSON.stringify(ask(deployments.model)),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
  });

  it('v1: the plain OpenAI client (Bearer key) and the api-key header both work', async () => {
    const bearer = new OpenAI({ baseURL: `${v1.url}/openai/v1`, apiKey: key(v1), maxRetries: 0 });
    v1.enqueue({ kind: 'reply', text: 'v1 says hi.', finish: 'stop', usage: { input: 5, output: 3 } });
    expect((await bearer.chat.completions.create(ask(v1.model))).choices[0]!.message.content).toBe('v1 says hi.');
    const apiKeyHeader = new OpenAI({ baseURL: `${v1.url}/openai/v1`, apiKey: 'unused', defaultHeaders: { authorization: null, 'api-key': key(v1) }, maxRetries: 0 });
    v1.enqueue({ kind: 'reply', text: 'Again.', finish: 'stop', usage: { input: 5, output: 1 } });
    expect((await apiKeyHeader.chat.completions.create(ask(v1.model))).choices[0]!.message.content).toBe('Again.');
    expect(v1.calls.at(-1)!.headers.authorization).toBeUndefined();
    expect(await apiError(() => bearer.chat.completions.create(ask('unknown-deployment')))).toMatchObject({ status: 404, code: 'DeploymentNotFound' });
  });
});
