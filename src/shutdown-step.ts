/**
 * One step of shutdown, bounded: a store that stopped answering (a paused Redis or PostgreSQL, a
 * network partition that drops packets) must not hold the process. After `ms` the step is left to
 * itself with a warning, and shutdown goes on to the next step; the process exits at the end.
 */
export async function shutdownStep(what: string, step: () => Promise<unknown>, ms: number, warn: (what: string, ms: number) => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<'cut'>((resolve) => {
    timer = setTimeout(() => resolve('cut'), ms);
    timer.unref();
  });
  try {
    // A step that fails has ended: its error is the caller's to report, as before.
    const outcome = await Promise.race([step(), cut]);
    if (outcome === 'cut') warn(what, ms);
  } finally {
    clearTimeout(timer);
  }
}
