/** Lenient wire types for the OpenAI API: only the fields the gateway reads. */

export interface OpenAIErrorBody {
  error?: { message?: unknown; type?: unknown; code?: unknown; param?: unknown } | string | null;
  message?: unknown;
}
