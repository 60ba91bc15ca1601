import v8 from 'node:v8';

const MB = 1024 * 1024;

/** Bytes in the isolate's old generation (what V8 compares with its incremental-marking threshold). */
export function oldGenerationBytes(): number {
  return v8
    .getHeapSpaceStatistics()
    .filter((s) => !s.space_name.startsWith('new_') && s.space_name !== 'read_only_space')
    .reduce((n, s) => n + s.space_used_size, 0);
}

/**
 * Keeps this isolate's old generation above V8's incremental-marking threshold by holding flat
 * strings (leaf objects: marking them costs nothing) up to `floorBytes` in all (default 1.5 MB above
 * the threshold: the old generation measured here also holds some garbage).
 *
 * V8 starts incremental marking only in an isolate whose old generation holds more than 8 MB
 * (`kV8ActivationThreshold` in V8's src/heap/incremental-marking.cc; the same in Node 20's V8 11.3
 * and Node 24's 13.6, not a flag). Below it, the pipeline worker — little JavaScript, megabytes of
 * ArrayBuffers a frame — frees its dead frame buffers only at scavenges (which do not free the
 * ones already promoted) and rare full collections: `--trace-gc` showed 105 "external memory
 * pressure" scavenges and 16 mark-compacts in 25 s, against 195 mark-compacts through incremental
 * marking above the threshold, and the agent held 20–28 MB more RSS (docs/memory.md). Returns what
 * it holds (keep a reference for the thread's lifetime).
 */
export function holdMarkingFloor(floorBytes = 9.5 * MB): string[] {
  const held: string[] = [];
  const piece = 256 * 1024;
  for (let missing = floorBytes - oldGenerationBytes(); missing > 0; missing -= piece) {
    // Latin-1 text of this size becomes one sequential one-byte string in V8's heap.
    held.push(Buffer.alloc(piece, 0x61 + (held.length % 26)).toString('latin1'));
  }
  return held;
}
