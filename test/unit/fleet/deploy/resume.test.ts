import { describe, expect, it } from 'vitest';
import type { DeployManifest, ManifestVerdict } from '../../../../src/fleet/deploy/manifest.js';
import { MAX_RESUMES, planResume } from '../../../../src/fleet/deploy/resume.js';
import type { DeployJobRow, DeployState } from '../../../../src/fleet/deploy/state.js';

const doc = { payload: '{}', keyId: 'k', signature: 's' };
const manifest = { model: 'm', variant: 'v', version: 2 } as DeployManifest;
const ok = (): ManifestVerdict => ({ ok: true, manifest, signedBy: 'ops' });
const job = (state: DeployState, resumes = 0): DeployJobRow => ({
  id: 1,
  model: 'm',
  variant: 'v',
  version: 2,
  state,
  progress: 0,
  error: null,
  startedAt: 0,
  updatedAt: 0,
  resumes,
});

describe('planResume', () => {
  it.each([
    ['verifying', 'download'],
    ['downloading', 'download'],
    ['validating', 'download'],
    ['installing', 'install'],
    ['health', 'install'],
    ['committing', 'commit'],
  ] as const)('a job killed while %s continues at %s', (state, phase) => {
    expect(planResume(job(state), doc, ok)).toMatchObject({ resume: true, phase, manifest });
  });

  it('re-verifies the stored manifest: a refusal is the reason it is not resumed', () => {
    const plan = planResume(job('downloading'), doc, () => ({ ok: false, reason: 'manifest expired at X' }));
    expect(plan).toEqual({
      resume: false,
      state: 'interrupted',
      reason: 'agent stopped during downloading; cannot resume: manifest expired at X',
    });
  });

  it('a job without a stored signature asks for the manifest again', () => {
    expect(planResume(job('installing'), undefined, ok)).toMatchObject({
      resume: false,
      state: 'interrupted',
    });
  });

  it('gives up after MAX_RESUMES restarts; during the health window that is a rollback (the old model serves)', () => {
    expect(planResume(job('health', MAX_RESUMES - 1), doc, ok)).toMatchObject({ resume: true });
    expect(planResume(job('health', MAX_RESUMES), doc, ok)).toMatchObject({
      resume: false,
      state: 'rolled-back',
    });
    expect(planResume(job('downloading', MAX_RESUMES), doc, ok)).toMatchObject({
      resume: false,
      state: 'failed',
    });
  });
});
