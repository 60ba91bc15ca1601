import { describe, expect, it } from 'vitest';
import { fallbackCandidates, loadWithFallback, retryWithBackoff } from '../../../src/agent/degraded.js';
import { silentLogger } from '../../../src/log.js';
import type { Catalog } from '../../../src/models/catalog.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const entry = (name: string, defaultVariant: string, variants: Array<[string, boolean]>) => ({
  manifest: { name, defaultVariant },
  variants: variants.map(([id, derived]) => ({ id, derived })),
});
const catalog = {
  models: () => [
    entry('a', 'fp32', [
      ['int8-derived', true],
      ['fp32', false],
      ['fp16', false],
    ]),
    entry('b', 'v1', [['v1', false]]),
  ],
} as unknown as Pick<Catalog, 'models'>;

describe('fallbackCandidates', () => {
  it('the configured choice, then the bundled, then the derived variants, then other models', () => {
    expect(fallbackCandidates(catalog, { model: 'a', variant: 'fp32' })).toEqual([
      { model: 'a', variant: 'fp32' },
      { model: 'a', variant: 'fp16' },
      { model: 'a', variant: 'int8-derived' },
      { model: 'b', variant: 'v1' },
    ]);
  });

  it('a default-variant choice is not tried twice; an unknown model falls back to the others', () => {
    expect(fallbackCandidates(catalog, { model: 'a', variant: undefined }).map((c) => c.variant)).toEqual([
      undefined,
      'fp16',
      'int8-derived',
      'v1',
    ]);
    expect(fallbackCandidates(catalog, { model: 'zzz', variant: undefined })).toEqual([
      { model: 'zzz', variant: undefined },
      { model: 'a', variant: 'fp32' },
      { model: 'b', variant: 'v1' },
    ]);
  });
});

describe('loadWithFallback', () => {
  it('returns the first that loads with the failures before it; throws the first error when none does', async () => {
    const candidates = [
      { model: 'a', variant: 'x' },
      { model: 'a', variant: 'y' },
    ];
    const ok = await loadWithFallback(
      candidates,
      async (c) => {
        if (c.variant === 'x') throw new Error('sha256 mismatch');
        return c.variant;
      },
      silentLogger(),
    );
    expect(ok).toEqual({
      model: 'y',
      used: candidates[1],
      failures: [{ choice: candidates[0], error: 'sha256 mismatch' }],
    });
    await expect(
      loadWithFallback(
        candidates,
        async (c) => Promise.reject(new Error(`bad ${c.variant}`)),
        silentLogger(),
      ),
    ).rejects.toThrow('bad x');
  });
});

describe('retryWithBackoff', () => {
  it('retries with growing delays until the attempt succeeds', async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const delays: number[] = [];
    const done = retryWithBackoff(
      async () => {
        calls++;
        if (calls < 3) throw new Error('not yet');
      },
      {
        clock,
        signal: new AbortController().signal,
        policy: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 },
        onFailure: (_err, _attempt, delayMs) => delays.push(delayMs),
      },
    );
    await clock.advance(100);
    await clock.advance(200);
    await clock.advance(400);
    expect(await done).toBe(true);
    expect(calls).toBe(3);
    expect(delays).toEqual([200, 400]);
  });

  it('ends (false) when the signal aborts', async () => {
    const clock = new FakeClock(0);
    const stop = new AbortController();
    const done = retryWithBackoff(async () => Promise.reject(new Error('never')), {
      clock,
      signal: stop.signal,
      policy: { initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 },
      onFailure: () => undefined,
    });
    stop.abort();
    expect(await done).toBe(false);
  });
});
