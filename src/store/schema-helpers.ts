import type Database from 'better-sqlite3';

/** `ALTER TABLE … ADD COLUMN` unless the column exists (for tables a migration adopts as found). */
export function addColumnIfMissing(db: Database.Database, table: string, column: string, type: string): void {
  const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
  if (columns.some((c) => c.name === column)) return;
  db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
}
