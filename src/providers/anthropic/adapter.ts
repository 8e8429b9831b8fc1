/** STUB — replaced by the Anthropic provider work. */
import type { ProviderAdapter } from '../types.js';
import { GatewayError } from '../../gateway/errors.js';

export interface AnthropicAdapterOptions {
  id: string;
  baseUrl: string;
  apiKey?: string;
  anthropicVersion: string;
  defaultMaxTokens: number;
  headers: Record<string, string>;
}

export class AnthropicAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'anthropic';
  constructor(options: AnthropicAdapterOptions) {
    this.id = options.id;
  }
  chat(): never {
    throw new GatewayError('upstream_error', 'not implemented');
  }
  chatStream(): never {
    throw new GatewayError('upstream_error', 'not implemented');
  }
  embeddings(): never {
    throw new GatewayError('upstream_error', 'not implemented');
  }
}
