/**
 * A value built on first use and held only weakly after: the next call returns the same value while
 * something still holds it (or no full collection has run since), else builds it again. For the zod
 * schemas the agent needs at start and seldom after — the configuration's and the device profile's
 * held 1.1 and 0.33 MB of the main heap for the process's life as module constants (docs/memory.md,
 * "Eleventh round"). `build` must be pure: two builds are interchangeable.
 */
export function weakLazy<T extends object>(build: () => T): () => T {
  let held: WeakRef<T> | undefined;
  return () => {
    const alive = held?.deref();
    if (alive) return alive;
    const made = build();
    held = new WeakRef(made);
    return made;
  };
}
