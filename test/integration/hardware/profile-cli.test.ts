import { describe, expect, it } from 'vitest';
import { profileSchemas } from '../../../src/hardware/schema.js';
import { runCli } from '../../helpers/cli.js';
import { fixtureRoot } from '../../helpers/hardware.js';

describe('edge-agent profile', () => {
  it('profiles this machine: x86, virtualised or in a container, CPU provider working', async () => {
    const run = await runCli(['profile', '--json'], { timeoutMs: 60_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const profile = profileSchemas().deviceProfileSchema.parse(JSON.parse(run.stdout));
    expect(profile.root).toBe('/');
    if (process.arch === 'x64') {
      expect(profile.cpu.arch).toBe('x86_64');
      expect(profile.board.family).toBe('x86');
    }
    // This project's machines (developers' and CI's) are VMs running the work in containers.
    expect(profile.board.virtualized || profile.board.container).toBe(true);
    expect(profile.executionProviders.available).toContain('cpu');
    expect(profile.cpu.cores).toBeGreaterThan(0);
    expect(profile.memory.effectiveBudgetBytes).toBeGreaterThan(0);
    expect(profile.storage?.availableBytes).toBeGreaterThan(0);
  });

  it('reads a fixture tree with --root and prints a summary', async () => {
    const run = await runCli(['profile', '--root', fixtureRoot('jetson-orin-nano')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^board\s+NVIDIA Jetson Orin Nano .* \[jetson-orin-nano\], SoC tegra234$/m);
    expect(run.stdout).toMatch(/^jetson\s+L4T 36\.4\.3 \(JetPack 6\.2\)$/m);
    expect(run.stdout).toMatch(/^sensor\s+VDD_IN \(ina3221, whole board\): 6\.229 W$/m);
    expect(run.stdout).toMatch(/^power mode\s+nvpmodel MAXN_SUPER \(2\)$/m);
  });

  it('gives one line and exit 2 for a bad --root or argument', async () => {
    const missing = await runCli(['profile', '--root', '/no/such/tree']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^edge-agent profile: --root \/no\/such\/tree: not a folder/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    const extra = await runCli(['profile', 'now']);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toMatch(/unexpected argument "now"/);
  });
});
