/**
 * The semantic cache's model embedders call the gateway's own pipeline, so an embedding model is
 * routed, retried and failed over like any client request (its upstream attempts show in the
 * routing metrics; it is not a client request, so it has no request log line of its own).
 */
import { randomUUID } from 'node:crypto';
import { NO_DIRECTIVE } from '../cache/directive.js';
import type { EmbedCall } from '../cache/embedders/model.js';
import { NO_HINTS } from '../routing/router.js';
import { createRequestContext } from './context.js';
import { GatewayError } from './errors.js';
import type { Pipeline } from './pipeline.js';

export function embedThrough(pipeline: () => Pipeline, model: string): EmbedCall {
  return async (text) => {
    const rc = createRequestContext(`cache-embed-${randomUUID()}`, 'embeddings', performance.now());
    const response = await pipeline().embeddings({ model, input: text, encoding_format: 'float' }, rc, NO_HINTS, NO_DIRECTIVE);
    const embedding = response.data[0]?.embedding;
    if (!Array.isArray(embedding) || embedding.length === 0) throw new GatewayError('upstream_error', `The embedding model "${model}" returned no vector.`);
    return Float32Array.from(embedding);
  };
}
