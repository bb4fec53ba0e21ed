/** `klinecast db migrate`: creates whatever klinecast's tables are missing, on MySQL or SQLite. */
import type { Command } from 'commander';
import { migrate, withDatabase, MIGRATIONS } from '../../data/index.js';
import { printJson, printTable } from '../output.js';

export interface DatabaseOptions {
  database?: string;
  json?: boolean;
}

/** The two options every data-touching command has: `--database <url>` (over the environment) and `--json`. */
export function withDatabaseOptions(cmd: Command): Command {
  return cmd
    .option('--database <url>', 'mysql://user:pass@host:port/db or sqlite:path (default: KLINECAST_DATABASE_URL, DB_HOST…, sqlite:data/klinecast.db)')
    .option('--json', 'print machine-readable JSON');
}

export function register(program: Command): void {
  const db = program.command('db').description('database administration');
  withDatabaseOptions(
    db.command('migrate').description('create the missing tables (stock_kline_data, stock_basic_info, trade_calendar, model_registry); safe to repeat'),
  ).action(async (opts: DatabaseOptions) => {
    await withDatabase(
      opts.database,
      async (handle) => {
        const result = await migrate(handle);
        if (opts.json) {
          printJson({ database: handle.url, dialect: handle.dialect, ...result });
          return;
        }
        console.log(`database ${handle.url} (${handle.dialect})`);
        printTable(
          ['migration', 'status'],
          MIGRATIONS.map((m) => [m.name, result.applied.includes(m.name) ? 'applied now' : 'already applied']),
        );
        console.log(result.applied.length ? `applied ${result.applied.length} migration(s)` : 'schema is up to date');
      },
      { createDatabase: true },
    );
  });
}
