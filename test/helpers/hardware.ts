import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES } from './paths.js';

export const HARDWARE_FIXTURES = path.join(FIXTURES, 'hardware');

export const FIXTURE_TREES = [
  'raspberry-pi-4',
  'raspberry-pi-5',
  'raspberry-pi-zero-2',
  'jetson-nano',
  'jetson-orin-nano',
  'x86-laptop',
  'x86-desktop-nvidia',
  'x86-container',
] as const;
export type FixtureTree = (typeof FIXTURE_TREES)[number];

export function fixtureRoot(tree: FixtureTree): string {
  return path.join(HARDWARE_FIXTURES, tree);
}

/** The text of a file of a fixture tree (device path, e.g. `/proc/cpuinfo`). */
export function fixtureText(tree: FixtureTree, devicePath: string): string {
  return readFileSync(path.join(fixtureRoot(tree), devicePath), 'utf8');
}

/** A writable copy of a fixture tree, for tests that change files over time. */
export class TreeCopy {
  readonly root: string;
  constructor(tree: FixtureTree) {
    this.root = mkdtempSync(path.join(tmpdir(), `edge-agent-hw-${tree}-`));
    cpSync(fixtureRoot(tree), this.root, { recursive: true });
  }
  write(devicePath: string, text: string | number): void {
    writeFileSync(path.join(this.root, devicePath), typeof text === 'number' ? `${text}\n` : text);
  }
  read(devicePath: string): string {
    return readFileSync(path.join(this.root, devicePath), 'utf8');
  }
  remove(devicePath: string): void {
    rmSync(path.join(this.root, devicePath), { recursive: true, force: true });
  }
  dispose(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
