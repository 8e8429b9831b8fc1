/** How many turns the event loop took (setImmediate ticks) while `work` ran: 0 if it never let go. */
export async function turnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let working = true;
  const tick = (): void => {
    if (!working) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  try {
    await work();
  } finally {
    working = false;
  }
  return turns;
}
