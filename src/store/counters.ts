import type { Db } from './database.js';

/** Durable named counters (survive restarts): outbox drops and the like. */
export class Counters {
  private readonly read;
  private readonly upsert;

  constructor(db: Db) {
    this.read = db.prepare('SELECT value FROM counters WHERE name = ?');
    this.upsert = db.prepare(
      'INSERT INTO counters (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = value + excluded.value',
    );
  }

  get(name: string): number {
    const row = this.read.get(name) as { value: number } | undefined;
    return row?.value ?? 0;
  }

  add(name: string, delta: number): void {
    this.upsert.run(name, delta);
  }
}
