/**
 * Lenient wire types for the Gemini API (generativelanguage.googleapis.com/v1beta): only the
 * fields the gateway writes or reads. Responses are untrusted input, so every field is optional.
 */

export interface GeminiFunctionCall {
  id?: string;
  name?: string;
  args?: Record<string, unknown> | null;
}

export interface GeminiFunctionResponse {
  id?: string;
  name: string;
  response: Record<string, unknown>;
}

export interface GeminiPart {
  text?: string;
  /** A thought summary (only sent when `thinkingConfig.includeThoughts` is on). */
  thought?: boolean;
  /** Opaque signature of the model's reasoning; must be sent back with function calls (Gemini 3). */
  thoughtSignature?: string;
  inlineData?: { mimeType?: string; data?: string };
  fileData?: { mimeType?: string; fileUri?: string };
  functionCall?: GeminiFunctionCall;
  functionResponse?: GeminiFunctionResponse;
}

export interface GeminiContent {
  role?: string;
  parts?: GeminiPart[];
}

export interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  /** JSON Schema as-is (v1beta; mutually exclusive with the OpenAPI-subset `parameters`). */
  parametersJsonSchema?: Record<string, unknown>;
}

export interface GeminiThinkingConfig {
  thinkingBudget?: number;
  thinkingLevel?: string;
  includeThoughts?: boolean;
}

export interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  topK?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  candidateCount?: number;
  seed?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  responseMimeType?: string;
  responseJsonSchema?: Record<string, unknown>;
  thinkingConfig?: GeminiThinkingConfig;
  /** Return the chosen tokens' log probabilities; `logprobs`: how many top candidates per step. */
  responseLogprobs?: boolean;
  logprobs?: number;
}

export interface GeminiRequest {
  contents: GeminiContent[];
  systemInstruction?: GeminiContent;
  tools?: { functionDeclarations: GeminiFunctionDeclaration[] }[];
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig?: GeminiGenerationConfig;
  safetySettings?: unknown[];
  cachedContent?: string;
}

export interface GeminiCandidate {
  content?: GeminiContent | null;
  finishReason?: string;
  finishMessage?: string;
  index?: number;
  logprobsResult?: GeminiLogprobsResult | null;
}

export interface GeminiLogprobsCandidate {
  token?: string;
  tokenId?: number;
  logProbability?: number;
}

/** One entry per decoding step in each list; the chosen token may or may not be among the top ones. */
export interface GeminiLogprobsResult {
  topCandidates?: { candidates?: GeminiLogprobsCandidate[] }[];
  chosenCandidates?: GeminiLogprobsCandidate[];
  logProbabilitySum?: number;
}

export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  candidatesTokenCount?: number;
  totalTokenCount?: number;
  thoughtsTokenCount?: number;
  cachedContentTokenCount?: number;
  toolUsePromptTokenCount?: number;
}

export interface GeminiPromptFeedback {
  blockReason?: string;
  blockReasonMessage?: string;
}

/** Google's error object (google.rpc.Status as JSON). */
export interface GeminiError {
  code?: unknown;
  message?: unknown;
  status?: unknown;
  details?: unknown;
}

/** A generateContent answer, or one event of a streamGenerateContent stream. */
export interface GeminiResponse {
  candidates?: GeminiCandidate[] | null;
  promptFeedback?: GeminiPromptFeedback | null;
  usageMetadata?: GeminiUsageMetadata | null;
  modelVersion?: string;
  responseId?: string;
  error?: GeminiError | null;
}

export interface GeminiEmbedContentRequest {
  model?: string;
  content: { parts: { text: string }[] };
  outputDimensionality?: number;
}

export interface GeminiContentEmbedding {
  values?: unknown;
}

export interface GeminiEmbedResponse {
  embedding?: GeminiContentEmbedding | null;
  embeddings?: GeminiContentEmbedding[] | null;
  usageMetadata?: { promptTokenCount?: number } | null;
}
