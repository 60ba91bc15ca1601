import { describe, expect, it } from 'vitest';
import { comparisonVerdict, DEFAULT_COMPARISON_RULES } from '../../../src/fleet/deploy/health.js';
import { manifestConflict, newModelManifest } from '../../../src/fleet/deploy/install-model.js';
import { deploySchemas } from '../../../src/fleet/deploy/manifest.js';
import { decoderOutputs } from '../../../src/fleet/deploy/validate.js';
import { manifestSchemas } from '../../../src/models/manifest.js';

const rules = DEFAULT_COMPARISON_RULES;

describe('comparisonVerdict (pure)', () => {
  const det = (ref: number, got: number, fidelity: number) => ({
    task: 'detection' as const,
    fidelity,
    metric: 'map50-vs-reference',
    frames: 8,
    detection: { referenceDetections: ref, variantDetections: got },
  });
  it('collapse: the previous variant found objects, the new one (almost) none', () => {
    expect(comparisonVerdict(det(20, 0, 0), rules)).toEqual({
      ok: false,
      reason: 'detections collapsed: 0 on 8 live frames where the previous variant found 20 (below 0.2 × 20)',
    });
    expect(comparisonVerdict(det(20, 3, 0.1), rules).ok).toBe(false);
    expect(comparisonVerdict(det(20, 4, 0.9), rules).ok).toBe(true);
  });
  it('an empty scene judges nothing (too few objects for a collapse or a fidelity)', () => {
    const v = comparisonVerdict(det(2, 0, 0), rules);
    expect(v).toMatchObject({ ok: true });
    expect(v.ok && v.detail).toMatch(/too few to compare/);
  });
  it('fidelity below the floor rolls back; 0 turns the floor off', () => {
    expect(comparisonVerdict(det(20, 18, 0.3), rules)).toMatchObject({ ok: false });
    expect(comparisonVerdict(det(20, 18, 0.3), { ...rules, minFidelity: 0 })).toMatchObject({ ok: true });
    const cls = { task: 'classification' as const, fidelity: 0.25, metric: 'top1-agreement', frames: 4 };
    const v = comparisonVerdict(cls, rules);
    expect(!v.ok && v.reason).toBe(
      'fidelity 0.25 (top1-agreement) against the previous variant on 4 live frames is below 0.5',
    );
  });
});

describe('new-model manifests (pure)', () => {
  const carried = {
    task: 'classification',
    license: 'MIT',
    source: 'test',
    input: {
      name: 'data',
      width: 224,
      height: 224,
      colorOrder: 'RGB',
      resize: { mode: 'stretch' },
    },
    decoder: { type: 'softmax', output: 'prob' },
    labels: ['cat', 'dog'],
  };
  const deployment = deploySchemas().deployManifestSchema.parse({
    model: 'pets',
    variant: 'base',
    version: 4,
    url: 'http://127.0.0.1/pets.onnx',
    sha256: 'a'.repeat(64),
    bytes: 10,
    target: '*',
    expires: '2030-01-01T00:00:00Z',
    outputs: [{ name: 'prob', shape: [1, 2] }],
    manifest: carried,
  });

  it('becomes a catalogue manifest (the catalogue schema) whose only variant is the deployed file', () => {
    const m = newModelManifest({ ...deployment, manifest: deployment.manifest! }, 'base-v4', {
      sha256: 'b'.repeat(64),
      bytes: 10,
    });
    expect(manifestSchemas().manifestSchema.parse(m)).toEqual(m);
    expect(m).toMatchObject({
      name: 'pets',
      labels: 'labels.txt',
      defaultVariant: 'base-v4',
      variants: [
        {
          id: 'base-v4',
          file: 'base-v4.onnx',
          sha256: 'b'.repeat(64),
          bytes: 10,
          origin: { kind: 'shipped' },
        },
      ],
    });
    expect(decoderOutputs(m.decoder)).toEqual(['prob']);
  });

  it('the deployment schema refuses a manifest the catalogue would refuse, and fields the device fills in', () => {
    const bad = (over: Record<string, unknown>) =>
      deploySchemas().deployManifestSchema.safeParse({ ...deployment, manifest: { ...carried, ...over } })
        .success;
    expect(bad({ task: 'segmentation' })).toBe(false);
    expect(bad({ decoder: { type: 'mystery' } })).toBe(false);
    expect(bad({ variants: [] })).toBe(false);
    expect(bad({ labels: 'labels.txt' })).toBe(false);
    expect(bad({ fidelityReference: 'base' })).toBe(false);
    expect(bad({})).toBe(true);
  });

  it('a carried manifest for an existing model must describe the same model', () => {
    const existing = newModelManifest({ ...deployment, manifest: deployment.manifest! }, 'base-v4', {
      sha256: 'b'.repeat(64),
      bytes: 10,
    });
    const same = deployment.manifest!;
    expect(manifestConflict(existing, ['cat', 'dog'], same)).toBeUndefined();
    expect(manifestConflict(existing, ['cat', 'dog', 'bird'], same)).toMatch(/other labels/);
    expect(
      manifestConflict(existing, ['cat', 'dog'], { ...same, input: { ...same.input, width: 112 } }),
    ).toMatch(/another input/);
  });
});
