/**
 * What an attempt's result does to the request: a whole answer's usage and quality notes; a
 * stream handed on once its first item arrived, timed, counted and noted as it passes, closing the
 * attempt when it ends either way.
 */
import type { RequestContext } from '../gateway/context.js';
import { noteAnswer, noteStreamItem } from '../gateway/answer-notes.js';
import { answerChars, streamedChars, streamedTokens } from '../gateway/streamed-text.js';
import type { Usage } from '../gateway/types.js';
import { accountableUsage } from '../gateway/usage.js';
import type { Attempt } from './attempt.js';

/** A whole answer arrived: its usage is the request's. */
export async function answered<T extends { usage?: Usage | null }>(answer: Promise<T>, rc: RequestContext): Promise<T> {
  const result = await answer;
  rc.usage = accountableUsage(result.usage, () => estimatedUsage(rc, answerChars(result)));
  noteAnswer(rc, result);
  return result;
}

/** The gateway's own counts, for an upstream whose usage counts are broken: the prompt's estimate, and the answer text's. */
function estimatedUsage(rc: RequestContext, answerTextChars: number): { prompt_tokens: number; completion_tokens: number } {
  return { prompt_tokens: rc.estimatePrompt?.() ?? 0, completion_tokens: streamedTokens(answerTextChars) };
}

/**
 * A stream counts as started once its first item arrived (until then a failure fails over): that
 * item is read here and the stream handed on from it.
 */
export async function started<T extends { usage?: Usage | null }>(stream: Promise<AsyncIterable<T>>, rc: RequestContext, attempt: Attempt): Promise<AsyncGenerator<T>> {
  const iterator = (await stream)[Symbol.asyncIterator]();
  const first = await iterator.next();
  return timedStream(iterator, first, rc, attempt);
}

/**
 * The stream handed to the client: the first chunk (already read) and the rest, booking the time
 * spent waiting on each upstream chunk and the latest usage, and closing the attempt when the
 * stream ends either way. Chunks and native events alike carry `usage` when they have it.
 */
async function* timedStream<T extends { usage?: Usage | null }>(iterator: AsyncIterator<T>, first: IteratorResult<T>, rc: RequestContext, attempt: Attempt): AsyncGenerator<T> {
  // The executor has let go of the client by now: a client that leaves aborts this attempt.
  rc.onClientClose = (reason) => attempt.abort(reason);
  // A billed request reads on after its client left (closeClient aborts it when the drain time is up).
  if (rc.clientClosed && rc.drainMs === 0) attempt.abort(rc.clientClosed);
  let error: string | undefined;
  try {
    let result = first;
    while (!result.done) {
      if (result.value.usage) rc.usage = accountableUsage(result.value.usage, () => estimatedUsage(rc, rc.streamedChars));
      else rc.streamedChars += streamedChars(result.value);
      noteStreamItem(rc, result.value);
      yield result.value;
      const waitStart = performance.now();
      try {
        result = await iterator.next();
      } catch (err) {
        const explained = attempt.explain(err);
        error = explained instanceof Error ? explained.message : String(explained);
        throw explained;
      } finally {
        // A wait that ended in the upstream's failure was still time spent on the upstream.
        rc.upstreamMs += performance.now() - waitStart;
      }
    }
  } finally {
    rc.onClientClose = undefined;
    attempt.close(error);
    await iterator.return?.();
  }
}
