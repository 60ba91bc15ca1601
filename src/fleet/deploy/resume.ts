import type { SignedDocument } from '../../trust/keys.js';
import type { DeployManifest, ManifestVerdict } from './manifest.js';
import type { DeployJobRow, DeployState } from './state.js';

/** Where a deployment continues: fetch (and validate), install (and health window), or commit. */
export type DeployPhase = 'download' | 'install' | 'commit';

/** Restarts a job may survive (graceful ones count too); beyond that a model that kills the agent would loop forever. */
export const MAX_RESUMES = 3;

/** The step a restart continues from, by the state the killed agent had recorded. */
const PHASE_OF: Partial<Record<DeployState, DeployPhase>> = {
  verifying: 'download',
  // A partial file is resumed with a Range request; a complete one is only re-hashed.
  downloading: 'download',
  // Validation is redone: the killed child's verdict was never recorded.
  validating: 'download',
  // The file passed validation; the install is idempotent (same variant id, atomic writes).
  installing: 'install',
  // The agent restarted on the configured (old) model: the new one is switched to and watched again.
  health: 'install',
  // The health window passed; the config may already name the new model: only the commit is left.
  committing: 'commit',
};

export type ResumePlan =
  | { resume: true; phase: DeployPhase; manifest: DeployManifest; doc: SignedDocument }
  | { resume: false; state: DeployState; reason: string };

/**
 * Decides what a restart does with a deployment the agent left unfinished: continue from the
 * recorded step once the stored signed manifest verifies again (signature, key, expiry, target,
 * version), or report why not. Pure: the verification comes in as a function.
 */
export function planResume(
  job: DeployJobRow,
  doc: SignedDocument | undefined,
  verify: (doc: SignedDocument) => ManifestVerdict,
  maxResumes = MAX_RESUMES,
): ResumePlan {
  const phase = PHASE_OF[job.state];
  const during = `agent stopped during ${job.state}`;
  if (!phase) return { resume: false, state: 'interrupted', reason: `${during}; not resumable` };
  if (!doc)
    return {
      resume: false,
      state: 'interrupted',
      reason: `${during}; no stored signature (recorded by an older agent): send the manifest again`,
    };
  if (job.resumes >= maxResumes)
    return {
      // The agent restarted on the model configured before: the new one is not serving.
      state: job.state === 'health' ? 'rolled-back' : 'failed',
      resume: false,
      reason: `${during} ${job.resumes + 1} times; given up (the previous model serves; send the manifest again to retry)`,
    };
  const verdict = verify(doc);
  if (!verdict.ok)
    return { resume: false, state: 'interrupted', reason: `${during}; cannot resume: ${verdict.reason}` };
  return { resume: true, phase, manifest: verdict.manifest, doc };
}
