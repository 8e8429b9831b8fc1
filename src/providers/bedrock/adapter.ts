/** STUB — replaced by the Bedrock provider work. */
import type { ProviderAdapter } from '../types.js';
import { GatewayError } from '../../gateway/errors.js';

export interface BedrockAdapterOptions {
  id: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** Overrides https://bedrock-runtime.<region>.amazonaws.com */
  baseUrl?: string;
  defaultMaxTokens?: number;
  headers: Record<string, string>;
}

export class BedrockAdapter implements ProviderAdapter {
  readonly id: string;
  readonly type = 'bedrock';
  constructor(options: BedrockAdapterOptions) {
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
