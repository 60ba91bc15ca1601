import { availableParallelism } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { IMAGES } from '../../helpers/paths.js';

const image = path.join(IMAGES, 'skimage/coffee.png');
const cores = availableParallelism();

/** A usage error: exit 2, one clear line naming the flag, no stack trace, nothing on stdout. */
function expectUsageError(run: { code: number | null; stderr: string; stdout: string }, pattern: RegExp) {
  expect(run.code, run.stderr).toBe(2);
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).toBe('');
}

// Each case starts one to three CLI processes; on a loaded 2-core machine that takes a while.
describe('--threads is bounded on the command line', { timeout: 120_000 }, () => {
  it('infer --threads 100000 is a usage error before any session starts', async () => {
    const run = await runCli(['infer', image, '--model', 'squeezenet1.1', '--threads', '100000']);
    expectUsageError(run, /infer: --threads expects an integer from 0 to 256/);
  });

  it('infer --threads above the cores is refused without --force and runs with it', async () => {
    const over = String(cores + 1);
    const refused = await runCli(['infer', image, '--model', 'squeezenet1.1', '--threads', over]);
    expectUsageError(refused, new RegExp(`infer: --threads ${over} is more than the ${cores} core`));
    const forced = await runCli([
      'infer',
      image,
      '--model',
      'squeezenet1.1',
      '--threads',
      over,
      '--force',
      '--json',
    ]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ model: 'squeezenet1.1', task: 'classification' });
  });

  it('derive and fidelity validate --threads the same way', async () => {
    const derive = await runCli([
      'derive',
      'squeezenet1.1',
      '--method',
      'fp16',
      '--dry-run',
      '--threads',
      '100000',
    ]);
    expectUsageError(derive, /derive: --threads expects an integer from 0 to 256/);
    const fidelity = await runCli([
      'fidelity',
      'squeezenet1.1',
      '--variant',
      'fp16',
      '--threads',
      String(cores + 1),
    ]);
    expectUsageError(fidelity, /fidelity: --threads \d+ is more than the \d+ core/);
  });
});
