import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { REPO } from '../../helpers/paths.js';

// onnxruntime 1.30 on Linux writes a device id and a telemetry event store under
// ~/.cache/Microsoft/DeveloperTools/.onnxruntime/ and uploads to a Microsoft collector unless
// ORT_DISABLE_TELEMETRY=1 is in the environment when its first session starts
// (src/inference/telemetry-off.ts). A device must not do that by default.
const homes: string[] = [];
afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

const JPEG = path.join(
  REPO,
  'samples',
  readdirSync(path.join(REPO, 'samples')).find((f) => f.endsWith('.jpg'))!,
);

const CI_VARIABLES = new Set([
  'CI',
  'TF_BUILD',
  'GITHUB_ACTIONS',
  'GITLAB_CI',
  'CIRCLECI',
  'TRAVIS',
  'JENKINS_URL',
  'CODEBUILD_BUILD_ID',
  'BUILDKITE',
  'TEAMCITY_VERSION',
  'APPVEYOR',
  'BITBUCKET_BUILD_NUMBER',
]);

/** Runs a real inference with HOME in a fresh folder; whether onnxruntime's telemetry folder appeared. */
async function telemetryWritten(env: Record<string, string>): Promise<boolean> {
  const home = mkdtempSync(path.join(tmpdir(), 'ea-home-'));
  homes.push(home);
  // onnxruntime also stays quiet under a CI service's variables (list from its library's strings), so
  // the control below would pass vacuously there: the child gets none of them.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== 'ORT_DISABLE_TELEMETRY' && !CI_VARIABLES.has(k)),
  );
  const run = await runCli(['infer', JPEG, '--json', '--threads', '1'], {
    env: { ...(inherited as Record<string, string>), HOME: home, ...env },
    replaceEnv: true,
  });
  expect(run.code, run.stderr).toBe(0);
  return existsSync(path.join(home, '.cache', 'Microsoft'));
}

describe('onnxruntime telemetry', () => {
  it('is off by default: a real inference writes nothing under ~/.cache/Microsoft', async () => {
    expect(await telemetryWritten({})).toBe(false);
  }, 60_000);

  it('an operator may allow it (ORT_DISABLE_TELEMETRY=0): then onnxruntime writes there (the check can fail)', async () => {
    expect(await telemetryWritten({ ORT_DISABLE_TELEMETRY: '0' })).toBe(true);
  }, 60_000);
});
