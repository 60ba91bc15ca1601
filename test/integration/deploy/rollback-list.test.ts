import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollbackModel } from '../../../src/features/deploy.js';
import { modelsFeature } from '../../../src/features/models.js';
import { DeployError } from '../../../src/fleet/deploy/errors.js';
import { deployDevice, modelServer, sendModel, signedManifest } from './support.js';

let server: Awaited<ReturnType<typeof modelServer>>;
beforeAll(async () => {
  server = await modelServer({
    '/m.onnx': (_req, res) => {
      sendModel(res);
    },
  });
});
afterAll(() => server.close());

const ctx = {
  scope: { kind: 'device' as const },
  transaction: undefined,
  progress: () => undefined,
  afterResponse: () => undefined,
};

/** A device with v2 then v3 of ultraface/slim deployed and committed. */
async function deployedTwice() {
  const d = await deployDevice();
  for (const version of [2, 3]) {
    const u = await d.deployer.start(signedManifest({ url: `${server.base}/m.onnx`, version })).done;
    expect(u.state).toBe('committed');
  }
  const switchTo = async (model: string, variant: string) => {
    d.catalog().variant(model, variant);
    active = { model, variant };
  };
  let active = d.active();
  return { d, switchTo, active: () => active };
}

describe('list-models shows deployed versions; rollback-model fails with typed errors', () => {
  it('list-models: installedVersion and variantId per model, deployedVersion per variant', async () => {
    const { d } = await deployedTwice();
    const feature = modelsFeature({
      models: {
        catalog: d.catalog(),
        active: () => d.active(),
        switchTo: async () => {
          throw new Error('not used');
        },
      },
      decision: () => null,
      deployed: () => d.store.versions(),
    });
    const answer = (await feature.commands!['list-models']!.run({}, ctx)) as {
      models: Array<{ name: string; deployed?: unknown; variants: Array<Record<string, unknown>> }>;
    };
    const ultraface = answer.models.find((m) => m.name === 'ultraface')!;
    expect(ultraface.deployed).toEqual([
      {
        variant: 'slim',
        installedVersion: 3,
        variantId: 'slim-v3',
        previousVersion: 2,
        previousVariantId: 'slim-v2',
      },
    ]);
    expect(ultraface.variants.find((v) => v.id === 'slim-v3')).toMatchObject({
      deployedVersion: 3,
      deployStatus: 'active',
      derived: true,
    });
    expect(ultraface.variants.find((v) => v.id === 'slim-320')).not.toHaveProperty('deployedVersion');
  });

  it('rollback-model: switched, configured, recorded; a second one has nothing to go back to', async () => {
    const { d, switchTo, active } = await deployedTwice();
    // The install kept the previous version's file next to the new one.
    expect(
      readdirSync(d.installDir)
        .filter((f) => f.endsWith('.onnx'))
        .sort(),
    ).toEqual(['slim-v2.onnx', 'slim-v3.onnx']);
    const persisted: string[] = [];
    const deps = {
      store: d.store,
      switchTo,
      active,
      persist: async (_m: string, v: string) => {
        persisted.push(v);
      },
    };
    expect(await rollbackModel(deps, 'ultraface')).toEqual({ from: 'slim-v3', to: 'slim-v2' });
    expect(active().variant).toBe('slim-v2');
    expect(persisted).toEqual(['slim-v2']);
    const err = await rollbackModel(deps, 'ultraface').catch((e) => e);
    expect(err).toBeInstanceOf(DeployError);
    expect(err.step).toBe('rollback');
    expect(err.message).toMatch(
      /^rollback: ultraface: no previous deployed version to roll back to \(deployed: v3 rolled-back, v2 active\); slim-v2 still serves$/,
    );
    expect(await rollbackModel(deps, 'nope').catch((e) => e.message)).toMatch(
      /nope: no deployed version is active \(deployed: none\)/,
    );
  });

  it('rollback-model: a failed switch or config write leaves the current version serving and recorded', async () => {
    const { d, switchTo, active } = await deployedTwice();
    const broken = await rollbackModel(
      {
        store: d.store,
        active,
        switchTo: async () => {
          throw new Error('sha256 mismatch');
        },
      },
      'ultraface',
    ).catch((e) => e);
    expect(broken).toBeInstanceOf(DeployError);
    expect(broken.message).toMatch(/cannot switch to slim-v2 \(v2\): sha256 mismatch; slim-v3 still serves/);
    expect(broken.cause).toBeInstanceOf(Error);

    const unwritable = await rollbackModel(
      {
        store: d.store,
        active,
        switchTo,
        persist: async () => {
          throw new Error('EROFS: read-only file system');
        },
      },
      'ultraface',
    ).catch((e) => e);
    expect(unwritable.message).toMatch(
      /cannot write slim-v2 to the config file: EROFS.*slim-v3 still serves/,
    );
    expect(active().variant).toBe('slim-v3');
    expect(d.store.versions().map((v) => [v.version, v.status])).toEqual([
      [3, 'active'],
      [2, 'previous'],
    ]);
  });
});
