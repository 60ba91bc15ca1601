// Types of scripts/omit-modules.mjs (the bundle's esbuild plugin), for its TypeScript users: the
// unit test and scripts/bench/package-cost.ts.
import type { Plugin } from 'esbuild';

export const REFUSED: Record<string, string>;
export function escapeRegExp(s: string): string;
export const omitModules: Plugin;
