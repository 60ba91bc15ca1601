/**
 * One signal that fires when any of the given ones does (the agent's shutdown, or the caller
 * ending capture); `dispose` removes the listeners from long-lived signals.
 */
export function linkSignals(...signals: Array<AbortSignal | undefined>): {
  signal: AbortSignal;
  dispose: () => void;
} {
  const controller = new AbortController();
  const forward = () => controller.abort();
  const attached: AbortSignal[] = [];
  for (const s of signals) {
    if (!s) continue;
    if (s.aborted) controller.abort();
    else {
      s.addEventListener('abort', forward, { once: true });
      attached.push(s);
    }
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const s of attached) s.removeEventListener('abort', forward);
    },
  };
}
