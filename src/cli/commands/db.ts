/** `klinecast db migrate | inspect`: creates and completes klinecast's tables, and shows how they map onto yours. */
import type { Command } from 'commander';
import { inspectDatabase, migrate, withDatabase, MIGRATIONS, type DatabaseInspection } from '../../data/index.js';
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

function printInspection(report: DatabaseInspection): void {
  console.log(`database ${report.database} (${report.dialect})${report.configFile ? `, mapping from ${report.configFile}` : ''}`);
  for (const t of report.tables) {
    const spelling = [`symbols ${t.symbolForm}`, `dates ${t.dateFormat}`, ...(t.units ? [t.units] : [])].join(', ');
    console.log(`\n${t.name} → ${t.exists ? t.table : `${t.table} (missing: \`klinecast db migrate\` creates it)`}; ${spelling}`);
    printTable(
      ['klinecast column', 'your column', 'how'],
      t.columns.map((c) => [c.column, c.userColumn, c.how]),
    );
    if (t.fill.length) console.log(`filled on insert: ${t.fill.join(', ')}`);
    if (t.uniqueKey !== null)
      console.log(
        `unique key on (${t.uniqueKeyColumns.join(', ')}): ${t.uniqueKey ? 'present' : 'missing (`klinecast db migrate` adds it when there are no duplicates)'}`,
      );
    if (t.rows !== null) console.log(`rows: ${t.rows}`);
  }
  if (report.missing.length) console.log(`\nmissing: ${report.missing.join('; ')}`);
  if (report.warnings.length) console.log(`\nwarnings:\n${report.warnings.map((w) => `  ${w}`).join('\n')}`);
  console.log(report.ready ? '\nready: klinecast can read and write these tables' : '\nnot ready: run `klinecast db migrate` (or fix the mapping) first');
}

export function register(program: Command): void {
  const db = program.command('db').description('database administration');
  withDatabaseOptions(
    db
      .command('migrate')
      .description(
        "create klinecast's missing tables and complete your existing ones (klinecast's nullable columns, unique keys); prints every statement, never drops or changes your data; safe to repeat",
      )
      .option('--dry-run', 'print the statements without running any'),
  ).action(async (opts: DatabaseOptions & { dryRun?: boolean }) => {
    await withDatabase(
      opts.database,
      async (handle) => {
        const result = await migrate(handle, {
          dryRun: opts.dryRun,
          onStatement: opts.json ? undefined : (statement) => console.log(`${opts.dryRun ? 'would run' : 'run'}: ${statement};`),
        });
        if (opts.json) {
          printJson({ database: handle.url, dialect: handle.dialect, ...result });
          return;
        }
        for (const w of result.warnings) console.error(`warning: ${w}`);
        console.log(`database ${handle.url} (${handle.dialect})`);
        printTable(
          ['migration', 'status'],
          MIGRATIONS.map((m) => [m.name, result.applied.includes(m.name) ? (opts.dryRun ? 'would apply' : 'applied now') : 'already applied']),
        );
        const changes = result.statements.length;
        if (opts.dryRun) console.log(changes ? `dry run: ${changes} statement(s) would run, nothing was changed` : 'dry run: schema is up to date');
        else console.log(changes ? `ran ${changes} statement(s)` : 'schema is up to date');
      },
      { createDatabase: !opts.dryRun },
    );
  });

  withDatabaseOptions(
    db.command('inspect').description("show how klinecast's tables and columns map onto this database's, what was detected and what is missing"),
  ).action(async (opts: DatabaseOptions) => {
    await withDatabase(opts.database, async (handle) => {
      const report = await inspectDatabase(handle);
      if (opts.json) printJson(report);
      else printInspection(report);
    });
  });
}
