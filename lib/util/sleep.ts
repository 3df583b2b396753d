/**
 * @internal Waits `ms` with the global `setTimeout`, looked up at call time, so that fake clocks
 * (sinon) drive every wait in the library; `node:timers/promises` would escape them.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });
}
