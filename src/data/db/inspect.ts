/** `klinecast db inspect`: how klinecast's tables map onto this database, what was detected and what is missing. */
import { sql } from 'kysely';
import type { DatabaseHandle } from './connection.js';
import { MAPPED_TABLES, REQUIRED_COLUMNS, schemaConfigFile, type ColumnOrigin, type ResolvedTable } from './mapping.js';
import { keyColumns, unfilledColumns, uniqueKeys } from './migrations.js';
import type { Dialect } from './schema.js';

export interface TableInspection {
  /** klinecast's table */
  name: string;
  /** the user's table it maps to */
  table: string;
  exists: boolean;
  symbolForm: string;
  dateFormat: string;
  /** units that differ from klinecast's (lots, thousand CNY), or null */
  units: string | null;
  columns: Array<{ column: string; userColumn: string | null; how: string }>;
  /** user columns filled on insert, as "column = template" */
  fill: string[];
  /** null when the table does not exist */
  uniqueKey: boolean | null;
  uniqueKeyColumns: string[];
  rows: number | null;
}

export interface DatabaseInspection {
  database: string;
  dialect: Dialect;
  /** the file the schema mapping came from, or null (klinecast's own names, spellings detected) */
  configFile: string | null;
  tables: TableInspection[];
  /** what klinecast needs and does not find */
  missing: string[];
  /** what klinecast will not fix (the user's NOT NULL columns it does not fill) */
  warnings: string[];
  /** klinecast can read and write every table as it is */
  ready: boolean;
}

const HOW: Record<ColumnOrigin, string> = {
  same: 'same name',
  config: 'mapped in the config',
  alias: "tushare's name",
  board: "detected: holds the board (tushare's market)",
  missing: 'missing',
};

function how(table: ResolvedTable, column: string): string {
  const origin = table.origin[column] ?? 'missing';
  if (origin === 'missing') return REQUIRED_COLUMNS[table.name].includes(column) ? 'MISSING (required: map it)' : 'missing (db migrate adds it, nullable)';
  if (table.columns[column] === null) return origin === 'board' ? 'not stored (the board column holds the board)' : 'not stored (mapped to null)';
  if (column === 'is_active' && table.activeValues) return `${HOW[origin]}; active when in (${table.activeValues.join(', ')})`;
  return HOW[origin];
}

export async function inspectDatabase(handle: DatabaseHandle): Promise<DatabaseInspection> {
  const schema = await handle.refreshSchema();
  const tables: TableInspection[] = [];
  const missing: string[] = [];
  const warnings: string[] = [];
  for (const name of MAPPED_TABLES) {
    const t = schema[name];
    const units = [t.volFactor === 100 ? 'vol in shares' : null, t.amountFactor === 1000 ? 'amount in CNY' : null].filter(Boolean).join(', ') || null;
    let uniqueKey: boolean | null = null;
    let rows: number | null = null;
    if (t.exists) {
      const wanted = keyColumns(t)
        .map((c) => c.toLowerCase())
        .sort()
        .join(',');
      uniqueKey = (await uniqueKeys(handle.db, handle.dialect, t.table)).some((k) => [...k].sort().join(',') === wanted);
      const { rows: counted } = await sql<{ n: number }>`select count(*) as n from ${sql.table(t.table)}`.execute(handle.db);
      rows = Number(counted[0]?.n ?? 0);
      for (const [column, origin] of Object.entries(t.origin)) {
        if (origin === 'missing') missing.push(`${t.table}.${column}${REQUIRED_COLUMNS[name].includes(column) ? ' (required)' : ''}`);
      }
      if (!uniqueKey) missing.push(`a unique key on ${t.table} (${keyColumns(t).join(', ')})`);
      warnings.push(...unfilledColumns(t));
    } else missing.push(`table ${t.table}`);
    tables.push({
      name,
      table: t.table,
      exists: t.exists,
      symbolForm: t.symbolForm,
      dateFormat: t.dateFormat,
      units,
      columns: Object.keys(t.columns).map((column) => ({ column, userColumn: t.columns[column], how: how(t, column) })),
      fill: Object.entries(t.fill).map(([c, v]) => `${c} = ${JSON.stringify(v)}`),
      uniqueKey,
      uniqueKeyColumns: keyColumns(t),
      rows,
    });
  }
  return {
    database: handle.url,
    dialect: handle.dialect,
    configFile: schemaConfigFile(),
    tables,
    missing,
    warnings,
    ready: missing.length === 0 && warnings.length === 0,
  };
}
