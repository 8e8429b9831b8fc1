/** Default base URLs and API-key env vars of well-known OpenAI-compatible services. */
import type { OPENAI_COMPATIBLE_PRESETS } from '../../config/schema.js';

export interface Preset {
  baseUrl: string;
  /** The env var the service's own SDKs read the key from, used when the config gives none. */
  apiKeyEnv?: string;
}

export const PRESETS: Record<(typeof OPENAI_COMPATIBLE_PRESETS)[number], Preset> = {
  vllm: { baseUrl: 'http://127.0.0.1:8000/v1', apiKeyEnv: 'VLLM_API_KEY' },
  ollama: { baseUrl: 'http://127.0.0.1:11434/v1' },
  lmstudio: { baseUrl: 'http://127.0.0.1:1234/v1' },
  llamacpp: { baseUrl: 'http://127.0.0.1:8080/v1' },
  together: { baseUrl: 'https://api.together.xyz/v1', apiKeyEnv: 'TOGETHER_API_KEY' },
  groq: { baseUrl: 'https://api.groq.com/openai/v1', apiKeyEnv: 'GROQ_API_KEY' },
  mistral: { baseUrl: 'https://api.mistral.ai/v1', apiKeyEnv: 'MISTRAL_API_KEY' },
  deepseek: { baseUrl: 'https://api.deepseek.com/v1', apiKeyEnv: 'DEEPSEEK_API_KEY' },
  fireworks: { baseUrl: 'https://api.fireworks.ai/inference/v1', apiKeyEnv: 'FIREWORKS_API_KEY' },
  openrouter: { baseUrl: 'https://openrouter.ai/api/v1', apiKeyEnv: 'OPENROUTER_API_KEY' },
};
