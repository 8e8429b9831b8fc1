/** STUB — replaced by the Gemini provider work. */
import type { ProviderAdapter } from '../types.js';
import { GatewayError } from '../../gateway/errors.js';

export interface GeminiAdapterOptions {
  id: string;
  baseUrl: string;
  apiKey?: string;
  headers: Record<string, string>;
}

export class GeminiAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'gemini';
  constructor(options: GeminiAdapterOptions) {
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
