/**
 * Schema mapping: klinecast's names (stock_kline_data.symbol, trade_date as DATE, vol in lots …) on the user's own
 * tables and columns (a tushare `daily` with `ts_code` and YYYYMMDD dates, vol in shares, the board in `market` …).
 *
 * Every query klinecast builds names its own tables and columns; a Kysely plugin rewrites it on the way out:
 * tables and columns are renamed, values compared with or written to a mapped column are encoded in the user's
 * spelling (600519 → 600519.SH, 2024-01-05 → 20240105, lots → shares), and columns read back are decoded in SQL
 * (`substr(ts_code, 1, 6) as symbol`), so rows arrive in klinecast's shape and every index of the user's table is
 * still used by the WHERE clauses. A column the user's table lacks reads as NULL and is left out of writes.
 *
 * The mapping is resolved once per connection from the configured `schema` section and what the database holds
 * (columns, one sample of stored symbols and dates), and again after `db migrate` changed the tables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  AliasNode,
  ColumnNode,
  ColumnUpdateNode,
  IdentifierNode,
  PrimitiveValueListNode,
  RawNode,
  ReferenceNode,
  SelectionNode,
  TableNode,
  ValueListNode,
  ValueNode,
  sql,
  type ColumnMetadata,
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryResult,
  type RootOperationNode,
  type UnknownRow,
} from 'kysely';
import { z } from 'zod';
import { UserError } from '../../util/errors.js';
import { printable } from './errors.js';
import { SYMBOL_FORMS, formatSymbol, marketOf, normalizeSymbol, symbolFormOf, type SymbolForm } from '../symbols.js';
import { BASIC_INFO_COLUMNS, KLINE_COLUMNS, KLINE_SCALE, type Db, type Dialect } from './schema.js';

export type MappedTableName = 'stock_kline_data' | 'stock_basic_info';
export const MAPPED_TABLES: readonly MappedTableName[] = ['stock_kline_data', 'stock_basic_info'];

const COLUMNS_OF: Record<MappedTableName, readonly string[]> = { stock_kline_data: KLINE_COLUMNS, stock_basic_info: BASIC_INFO_COLUMNS };

/** Columns klinecast cannot work without: a user's table must have them (under any name). */
export const REQUIRED_COLUMNS: Record<MappedTableName, readonly string[]> = {
  stock_kline_data: ['symbol', 'trade_date', 'open', 'high', 'low', 'close', 'pre_close', 'change', 'pct_chg', 'vol', 'amount'],
  stock_basic_info: ['symbol', 'name'],
};

const DATE_COLUMNS = new Set(['trade_date', 'list_date', 'delist_date']);

/** Boards as tushare's stock_basic.market spells them (and klinecast's stock_type). */
const BOARD_VALUES = new Set(['主板', '创业板', '科创板', '北交所', '中小板', 'CDR']);

// ---------------------------------------------------------------------------------------------------------------
// The `schema` section of klinecast.config.json, validated once here.

const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain table or column name (letters, digits and _, at most 64)');

function columnsSchema(table: MappedTableName) {
  const required = new Set(REQUIRED_COLUMNS[table]);
  return z
    .object(
      Object.fromEntries(
        COLUMNS_OF[table].map((c) => [c, required.has(c) ? identifier.optional() : identifier.nullable().optional()]),
      ) as Record<string, z.ZodOptional<z.ZodString> | z.ZodOptional<z.ZodNullable<z.ZodString>>>,
    )
    .strict();
}

const fillValue = z.union([z.string().max(255), z.number().finite(), z.null()]);

const tableBase = {
  /** the user's table name */
  table: identifier.optional(),
  /** how the table spells symbols; auto: detected from the stored values */
  symbolFormat: z.enum(['auto', ...SYMBOL_FORMS]).default('auto'),
  /** date columns as DATE ('YYYY-MM-DD') or as YYYYMMDD text/integers; auto: detected */
  dateFormat: z.enum(['auto', 'date', 'yyyymmdd']).default('auto'),
  /** values for the user's own NOT NULL columns that klinecast does not know; `{symbol}`, `{ts_code}`, `{market}` are replaced */
  fill: z.record(identifier, fillValue).optional(),
};

export const SchemaConfigSchema = z
  .object({
    stock_kline_data: z
      .object({
        ...tableBase,
        columns: columnsSchema('stock_kline_data').optional(),
        /** vol as stored: lots of 100 shares (tushare) or shares (baostock, most vendors) */
        volUnit: z.enum(['lots', 'shares']).default('lots'),
        /** amount as stored: thousand CNY (tushare) or CNY */
        amountUnit: z.enum(['thousand', 'cny']).default('thousand'),
      })
      .strict()
      .optional(),
    stock_basic_info: z
      .object({
        ...tableBase,
        columns: columnsSchema('stock_basic_info').optional(),
        /** the column that holds the board (主板/创业板/…); tushare's stock_basic calls it `market` */
        boardColumn: identifier.optional(),
        /** when is_active maps to a status column (tushare list_status): the values that mean active */
        activeValues: z.array(z.union([z.string().max(32), z.number().finite()])).min(1).max(16).optional(),
        /** the value written for an inactive stock into that status column */
        inactiveValue: z.union([z.string().max(32), z.number().finite()]).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SchemaConfig = z.infer<typeof SchemaConfigSchema>;
export type SchemaConfigInput = z.input<typeof SchemaConfigSchema>;

/** The configuration file klinecast reads from the working folder (or KLINECAST_CONFIG). */
export const CONFIG_FILE = 'klinecast.config.json';

const ConfigFileSchema = z.object({ database: z.string().min(1).max(2048).optional(), schema: z.unknown().optional() }).passthrough();

function zodIssues(error: z.ZodError, prefix: string): string {
  const text = error.issues
    .slice(0, 4)
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
      return i.code === 'unrecognized_keys' ? `${path}: unknown field(s) ${i.keys.join(', ')}` : `${path}: ${i.message}`;
    })
    .join('; ');
  return printable(text);
}

/** Validates a schema section; a bad one is a one-line UserError naming each bad field by its path. */
export function parseSchemaConfig(input: unknown, source = 'schema mapping'): SchemaConfig {
  const parsed = SchemaConfigSchema.safeParse(input ?? {});
  if (!parsed.success) throw new UserError(`invalid ${source}: ${zodIssues(parsed.error, 'schema')}`, 'bad_config');
  return parsed.data;
}

/**
 * The `schema` section of KLINECAST_CONFIG, else of ./klinecast.config.json, else an empty mapping (klinecast's own
 * names, with symbol and date spellings detected). A file that exists but does not parse is a UserError.
 */
export function loadSchemaConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SchemaConfig {
  const file = schemaConfigFile(env, cwd);
  if (file === null) return parseSchemaConfig({});
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read config file ${file} (KLINECAST_CONFIG): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'bad_config');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`config file ${file} is not valid JSON: ${(err as Error).message.split('\n')[0]}`, 'bad_config');
  }
  const parsed = ConfigFileSchema.safeParse(json);
  if (!parsed.success) throw new UserError(`invalid config file ${file}: ${zodIssues(parsed.error, '')}`, 'bad_config');
  return parseSchemaConfig(parsed.data.schema ?? {}, `schema mapping in ${file}`);
}

/** The config file the mapping comes from (KLINECAST_CONFIG, else ./klinecast.config.json when it exists), or null. */
export function schemaConfigFile(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string | null {
  if (env.KLINECAST_CONFIG) return resolve(cwd, env.KLINECAST_CONFIG);
  const local = resolve(cwd, CONFIG_FILE);
  return existsSync(local) ? local : null;
}

// ---------------------------------------------------------------------------------------------------------------
// The resolved mapping

export type ColumnOrigin = 'same' | 'config' | 'alias' | 'board' | 'missing';

export interface ResolvedTable {
  /** klinecast's name */
  readonly name: MappedTableName;
  /** the user's table */
  readonly table: string;
  readonly exists: boolean;
  /** klinecast column → the user's column, or null when the table has none (reads NULL, not written) */
  readonly columns: Readonly<Record<string, string | null>>;
  readonly origin: Readonly<Record<string, ColumnOrigin>>;
  readonly symbolForm: SymbolForm;
  readonly dateFormat: 'date' | 'yyyymmdd';
  /** stored = klinecast value × factor */
  readonly volFactor: number;
  readonly amountFactor: number;
  readonly activeValues: ReadonlyArray<string | number> | null;
  readonly inactiveValue: string | number | null;
  /** the user's NOT NULL columns klinecast fills on insert */
  readonly fill: Readonly<Record<string, string | number | null>>;
  /** the user's columns as the database describes them */
  readonly userColumns: readonly ColumnMetadata[];
}

export interface ResolvedSchema {
  readonly dialect: Dialect;
  readonly stock_kline_data: ResolvedTable;
  readonly stock_basic_info: ResolvedTable;
  /** klinecast's own names and spellings throughout: queries pass unchanged */
  readonly identity: boolean;
}

function identityTable(name: MappedTableName): ResolvedTable {
  const cols = COLUMNS_OF[name];
  return {
    name,
    table: name,
    exists: false,
    columns: Object.fromEntries(cols.map((c) => [c, c])),
    origin: Object.fromEntries(cols.map((c) => [c, 'same' as ColumnOrigin])),
    symbolForm: 'bare',
    dateFormat: 'date',
    volFactor: 1,
    amountFactor: 1,
    activeValues: null,
    inactiveValue: null,
    fill: {},
    userColumns: [],
  };
}

export function identitySchema(dialect: Dialect): ResolvedSchema {
  return { dialect, stock_kline_data: identityTable('stock_kline_data'), stock_basic_info: identityTable('stock_basic_info'), identity: true };
}

function tableIsIdentity(t: ResolvedTable): boolean {
  if (!t.exists) return t.table === t.name;
  return (
    t.table === t.name &&
    Object.entries(t.columns).every(([k, v]) => v === k) &&
    t.symbolForm === 'bare' &&
    t.dateFormat === 'date' &&
    t.volFactor === 1 &&
    t.amountFactor === 1 &&
    t.activeValues === null &&
    Object.keys(t.fill).length === 0
  );
}

async function sampleValues(db: Db, table: string, column: string, limit: number): Promise<unknown[]> {
  const { rows } = await sql<{ v: unknown }>`select ${sql.ref(column)} as v from ${sql.table(table)} where ${sql.ref(column)} is not null limit ${sql.lit(limit)}`.execute(
    db,
  );
  return rows.map((r) => r.v);
}

async function distinctValues(db: Db, table: string, column: string, limit: number): Promise<unknown[]> {
  const { rows } = await sql<{ v: unknown }>`select distinct ${sql.ref(column)} as v from ${sql.table(table)} where ${sql.ref(column)} is not null limit ${sql.lit(limit)}`.execute(
    db,
  );
  return rows.map((r) => r.v);
}

function detectSymbolForm(values: unknown[]): SymbolForm | null {
  const counts = new Map<SymbolForm, number>();
  for (const v of values) {
    const form = symbolFormOf(String(v).trim());
    if (form) counts.set(form, (counts.get(form) ?? 0) + 1);
  }
  let best: SymbolForm | null = null;
  for (const [form, n] of counts) if (best === null || n > (counts.get(best) ?? 0)) best = form;
  return best;
}

async function resolveTable(
  db: Db,
  name: MappedTableName,
  config: NonNullable<SchemaConfig['stock_kline_data']> | NonNullable<SchemaConfig['stock_basic_info']> | undefined,
  tables: ReadonlyArray<{ name: string; columns: readonly ColumnMetadata[] }>,
): Promise<ResolvedTable> {
  const tableName = config?.table ?? name;
  const path = `schema.${name}`;
  const meta = tables.find((t) => t.name === tableName) ?? tables.find((t) => t.name.toLowerCase() === tableName.toLowerCase());
  if (!meta) {
    if (tableName !== name) {
      throw new UserError(
        `table ${tableName} (${path}.table) does not exist in this database; create it or fix the mapping (klinecast db inspect lists the tables)`,
        'db_schema',
      );
    }
    return identityTable(name);
  }
  const have = new Map(meta.columns.map((c) => [c.name.toLowerCase(), c]));
  const findColumn = (col: string) => have.get(col.toLowerCase())?.name ?? null;
  const configured = (config?.columns ?? {}) as Record<string, string | null | undefined>;
  const columns: Record<string, string | null> = {};
  const origin: Record<string, ColumnOrigin> = {};
  for (const col of COLUMNS_OF[name]) {
    const given = configured[col];
    if (given !== undefined) {
      if (given === null) {
        columns[col] = null;
        origin[col] = 'config';
        continue;
      }
      const actual = findColumn(given);
      if (!actual) {
        throw new UserError(
          `${path}.columns.${col} names column ${given}, which table ${meta.name} lacks (it has ${meta.columns.map((c) => c.name).join(', ')})`,
          'db_schema',
        );
      }
      columns[col] = actual;
      origin[col] = 'config';
      continue;
    }
    const same = findColumn(col);
    columns[col] = same;
    origin[col] = same ? 'same' : 'missing';
  }
  // tushare's names for klinecast's: ts_code is the symbol; stock_basic's list_status (L/D/P) says whether it trades.
  if (columns.symbol === null && configured.symbol === undefined && findColumn('ts_code')) {
    columns.symbol = findColumn('ts_code');
    origin.symbol = 'alias';
  }
  let activeValues: ReadonlyArray<string | number> | null = null;
  let inactiveValue: string | number | null = null;
  if (name === 'stock_basic_info') {
    const info = config as SchemaConfig['stock_basic_info'];
    if (info?.activeValues) {
      activeValues = info.activeValues;
      inactiveValue = info.inactiveValue ?? null;
    }
    if (columns.is_active === null && configured.is_active === undefined && findColumn('list_status')) {
      columns.is_active = findColumn('list_status');
      origin.is_active = 'alias';
      activeValues ??= ['L'];
      inactiveValue ??= 'D';
    }
    if (info?.boardColumn) {
      const board = findColumn(info.boardColumn);
      if (!board) throw new UserError(`${path}.boardColumn names column ${info.boardColumn}, which table ${meta.name} lacks`, 'db_schema');
      columns.stock_type = board;
      origin.stock_type = 'config';
      if (columns.market === board && configured.market === undefined) {
        columns.market = null;
        origin.market = 'board';
      }
    } else if (configured.stock_type === undefined && columns.market !== null && configured.market === undefined) {
      // tushare's stock_basic.market is the board (主板/创业板); klinecast's market is SH/SZ/BJ. Detected by the values.
      const stockTypeFilled = columns.stock_type !== null && (await sampleValues(db, meta.name, columns.stock_type, 1)).some((v) => String(v).trim() !== '');
      if (!stockTypeFilled) {
        const values = await distinctValues(db, meta.name, columns.market, 20);
        if (values.some((v) => BOARD_VALUES.has(String(v).trim()))) {
          columns.stock_type = columns.market;
          origin.stock_type = 'board';
          columns.market = null;
          origin.market = 'board';
        }
      }
    }
  }
  let symbolForm: SymbolForm = 'bare';
  if (config?.symbolFormat && config.symbolFormat !== 'auto') symbolForm = config.symbolFormat;
  else if (columns.symbol) symbolForm = detectSymbolForm(await sampleValues(db, meta.name, columns.symbol, 50)) ?? 'bare';
  let dateFormat: 'date' | 'yyyymmdd' = 'date';
  if (config?.dateFormat && config.dateFormat !== 'auto') dateFormat = config.dateFormat;
  else {
    const dateCol = name === 'stock_kline_data' ? columns.trade_date : (columns.list_date ?? columns.delist_date);
    const type = dateCol ? (have.get(dateCol.toLowerCase())?.dataType.toLowerCase() ?? '') : '';
    if (dateCol && !/date|time/.test(type)) {
      const sample = await sampleValues(db, meta.name, dateCol, 5);
      if (sample.length > 0 ? sample.every((v) => /^\d{8}$/.test(String(v).trim())) : /int|char\(8\)/.test(type)) dateFormat = 'yyyymmdd';
    }
  }
  const kline = name === 'stock_kline_data' ? (config as SchemaConfig['stock_kline_data']) : undefined;
  const fill: Record<string, string | number | null> = { ...(config?.fill ?? {}) };
  for (const col of Object.keys(fill)) {
    if (!findColumn(col)) throw new UserError(`${path}.fill.${col}: table ${meta.name} has no column ${col}`, 'db_schema');
  }
  // A NOT NULL ts_code beside the column klinecast uses as the symbol is filled in tushare's spelling.
  const tsCode = findColumn('ts_code');
  const tsMeta = tsCode ? have.get(tsCode.toLowerCase()) : undefined;
  if (tsCode && tsMeta && columns.symbol !== tsCode && !(tsCode in fill) && !tsMeta.isNullable && !tsMeta.hasDefaultValue) fill[tsCode] = '{ts_code}';
  return {
    name,
    table: meta.name,
    exists: true,
    columns,
    origin,
    symbolForm,
    dateFormat,
    volFactor: kline?.volUnit === 'shares' ? 100 : 1,
    amountFactor: kline?.amountUnit === 'cny' ? 1000 : 1,
    activeValues,
    inactiveValue,
    fill,
    userColumns: meta.columns,
  };
}

/** The mapping of this database: the configured names, and what its tables and stored values show. */
export async function resolveSchema(db: Db, dialect: Dialect, config: SchemaConfig = {}): Promise<ResolvedSchema> {
  const tables = await db.introspection.getTables();
  const kline = await resolveTable(db, 'stock_kline_data', config.stock_kline_data, tables);
  let info = await resolveTable(db, 'stock_basic_info', config.stock_basic_info, tables);
  // An empty info table takes the K-line table's spelling of symbols (import writes both).
  if (info.exists && kline.symbolForm !== 'bare' && info.symbolForm === 'bare' && (config.stock_basic_info?.symbolFormat ?? 'auto') === 'auto' && info.columns.symbol) {
    const any = await sampleValues(db, info.table, info.columns.symbol, 1);
    if (any.length === 0) info = { ...info, symbolForm: kline.symbolForm };
  }
  return { dialect, stock_kline_data: kline, stock_basic_info: info, identity: tableIsIdentity(kline) && tableIsIdentity(info) };
}

// ---------------------------------------------------------------------------------------------------------------
// Values: encoding into the user's spelling (parameters), decoding in SQL (selections)

function isoToCompact(v: unknown): unknown {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? v.replace(/-/g, '') : v;
}

function scaled(v: unknown, factor: number): unknown {
  if (typeof v !== 'number' || factor === 1) return v;
  // Values arrive rounded to the column's scale; multiplying keeps that many fewer decimals, exactly.
  return Number((v * factor).toFixed(Math.max(0, 4 - Math.round(Math.log10(factor)))));
}

function hasEncoder(t: ResolvedTable, column: string): boolean {
  if (column === 'symbol') return t.symbolForm !== 'bare';
  if (DATE_COLUMNS.has(column)) return t.dateFormat === 'yyyymmdd';
  if (column === 'vol') return t.volFactor !== 1;
  if (column === 'amount') return t.amountFactor !== 1;
  if (column === 'is_active') return t.activeValues !== null;
  return false;
}

/** A klinecast value in the user's spelling for `column`. */
export function encodeValue(t: ResolvedTable, column: string, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (column === 'symbol' && typeof value === 'string') {
    const sym = normalizeSymbol(value);
    return sym === null ? value : formatSymbol(sym, t.symbolForm);
  }
  if (DATE_COLUMNS.has(column) && t.dateFormat === 'yyyymmdd') return isoToCompact(value);
  if (column === 'vol') return scaled(value, t.volFactor);
  if (column === 'amount') return scaled(value, t.amountFactor);
  if (column === 'is_active' && t.activeValues) return Number(value) ? t.activeValues[0] : t.inactiveValue;
  return value;
}

const raw = (fragments: string[], params: OperationNode[]) => RawNode.create(fragments, params);

/** SQL that reads the user's column `node` as klinecast's `column`. */
function decodeNode(t: ResolvedTable, column: string, node: OperationNode, dialect: Dialect): OperationNode {
  if (column === 'symbol' && t.symbolForm !== 'bare') {
    return t.symbolForm.startsWith('suffix') ? raw(['substr(', ', 1, 6)'], [node]) : raw(['substr(', ', -6)'], [node]);
  }
  if (DATE_COLUMNS.has(column) && t.dateFormat === 'yyyymmdd') {
    // 20240105 (text or integer) → '2024-01-05'
    return dialect === 'mysql'
      ? raw(['concat(substr(', ', 1, 4), \'-\', substr(', ', 5, 2), \'-\', substr(', ', 7, 2))'], [node, node, node])
      : raw(["(substr(", ", 1, 4) || '-' || substr(", ", 5, 2) || '-' || substr(", ', 7, 2))'], [node, node, node]);
  }
  // Rounded back to the column's scale: x / 1000.0 of a double is not always the double of the decimal written, and
  // a re-import compares exactly.
  if (column === 'vol' && t.volFactor !== 1) return raw(['round(', ` / ${t.volFactor}.0, ${KLINE_SCALE.vol})`], [node]);
  if (column === 'amount' && t.amountFactor !== 1) return raw(['round(', ` / ${t.amountFactor}.0, ${KLINE_SCALE.amount})`], [node]);
  if (column === 'is_active' && t.activeValues) {
    const values = t.activeValues.map((v) => ValueNode.create(v));
    return raw(['(case when ', ' in (', ...values.slice(1).map(() => ', '), ') then 1 else 0 end)'], [node, ...values]);
  }
  return node;
}

/** What a column the user's table lacks reads as. */
function constantOf(column: string): unknown {
  return column === 'is_active' ? 1 : null;
}

function expandFill(template: string | number | null, symbol: unknown): string | number | null {
  if (typeof template !== 'string' || !template.includes('{')) return template;
  const sym = typeof symbol === 'string' ? normalizeSymbol(symbol) : null;
  if (sym === null) return template;
  const market = marketOf(sym);
  return template.replace(/\{symbol\}/g, sym).replace(/\{ts_code\}/g, `${sym}.${market}`).replace(/\{market\}/g, market);
}

// ---------------------------------------------------------------------------------------------------------------
// The rewrite of a query tree

type AnyNode = OperationNode & { readonly [key: string]: unknown };

function isNode(value: unknown): value is AnyNode {
  return typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string';
}

interface Scope {
  /** table name or alias → the mapped table (null: a table of klinecast's own, not mapped) */
  readonly names: Map<string, ResolvedTable | null>;
  readonly mapped: ResolvedTable[];
}

function identifierName(node: unknown): string | null {
  if (!isNode(node)) return null;
  if (node.kind === 'IdentifierNode') return (node as unknown as IdentifierNode).name;
  if (node.kind === 'TableNode') return (node as unknown as TableNode).table.identifier.name;
  return null;
}

class Rewriter {
  private readonly scopes: Scope[] = [];
  private insertTarget: ResolvedTable | null = null;

  constructor(private readonly schema: ResolvedSchema) {}

  private tableNamed(name: string | null): ResolvedTable | null {
    if (name === 'stock_kline_data' || name === 'stock_basic_info') {
      const t = this.schema[name];
      return tableIsIdentity(t) ? null : t;
    }
    return null;
  }

  root(node: RootOperationNode): RootOperationNode {
    switch (node.kind) {
      case 'SelectQueryNode':
        return this.select(node as unknown as AnyNode, true) as unknown as RootOperationNode;
      case 'InsertQueryNode':
      case 'DeleteQueryNode':
      case 'UpdateQueryNode':
        return this.visit(node as unknown as AnyNode) as unknown as RootOperationNode;
      default:
        return node; // DDL and raw statements name the real tables themselves
    }
  }

  private children(node: AnyNode): AnyNode {
    const out: Record<string, unknown> = {};
    let changed = false;
    for (const [key, value] of Object.entries(node)) {
      let next = value;
      if (isNode(value)) next = this.visit(value);
      else if (Array.isArray(value)) next = value.map((v) => (isNode(v) ? this.visit(v) : v));
      out[key] = next;
      if (next !== value && !(Array.isArray(value) && (next as unknown[]).every((v, i) => v === value[i]))) changed = true;
    }
    return changed ? (Object.freeze(out) as AnyNode) : node;
  }

  private visit(node: AnyNode): AnyNode {
    switch (node.kind) {
      case 'SelectQueryNode':
        return this.select(node, false);
      case 'InsertQueryNode':
        return this.insert(node);
      case 'DeleteQueryNode':
      case 'UpdateQueryNode':
        return this.withScope(this.scopeOf([...((node.from as AnyNode | undefined)?.froms as AnyNode[] | undefined ?? []), ...(node.table ? [node.table as AnyNode] : [])]), () =>
          this.updateColumns(this.children(node)),
        );
      case 'TableNode': {
        const t = this.tableNamed(identifierName(node));
        return t ? (TableNode.create(t.table) as unknown as AnyNode) : node;
      }
      case 'ReferenceNode':
        return this.reference(node as unknown as ReferenceNode);
      case 'BinaryOperationNode':
        return this.binary(node);
      default:
        return this.children(node);
    }
  }

  private scopeOf(items: AnyNode[]): Scope {
    const names = new Map<string, ResolvedTable | null>();
    const mapped: ResolvedTable[] = [];
    for (const item of items) {
      let tableNode: unknown = item;
      let alias: string | null = null;
      if (item.kind === 'AliasNode') {
        tableNode = (item as unknown as AliasNode).node;
        alias = identifierName((item as unknown as AliasNode).alias);
      }
      if (!isNode(tableNode) || tableNode.kind !== 'TableNode') continue;
      const name = identifierName(tableNode);
      if (name === null) continue;
      const t = this.tableNamed(name);
      names.set(name, t);
      if (alias) names.set(alias, t);
      if (t && !mapped.includes(t)) mapped.push(t);
    }
    return { names, mapped };
  }

  private withScope<T>(scope: Scope, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  /** The mapped table and klinecast column a reference means, or null. */
  private resolve(node: ReferenceNode): { t: ResolvedTable; column: string } | null {
    if (node.column.kind !== 'ColumnNode') return null;
    const column = node.column.column.name;
    const qualifier = node.table ? identifierName(node.table) : null;
    let t: ResolvedTable | null = null;
    if (qualifier === 'excluded') t = this.insertTarget;
    else if (qualifier !== null) {
      for (let i = this.scopes.length - 1; i >= 0 && t === null; i--) {
        if (this.scopes[i].names.has(qualifier)) {
          t = this.scopes[i].names.get(qualifier) ?? null;
          break;
        }
      }
    } else {
      const scope = this.scopes[this.scopes.length - 1];
      if (scope) t = scope.mapped.find((m) => m.name in COLUMNS_OF && COLUMNS_OF[m.name].includes(column)) ?? null;
      else t = this.insertTarget;
    }
    if (!t || !COLUMNS_OF[t.name].includes(column)) return null;
    return { t, column };
  }

  private renamedReference(node: ReferenceNode, t: ResolvedTable, column: string): OperationNode {
    const user = t.columns[column];
    if (user === null || user === undefined) return ValueNode.createImmediate(constantOf(column));
    const qualifier = node.table ? identifierName(node.table) : null;
    const table = qualifier === t.name ? TableNode.create(t.table) : node.table;
    return ReferenceNode.create(ColumnNode.create(user), table);
  }

  private reference(node: ReferenceNode): AnyNode {
    const hit = this.resolve(node);
    if (!hit) return node as unknown as AnyNode;
    const renamed = this.renamedReference(node, hit.t, hit.column);
    // A status column compared as is_active = 1 compares its decoded value.
    if (hit.column === 'is_active' && hit.t.activeValues && renamed.kind === 'ReferenceNode') {
      return decodeNode(hit.t, 'is_active', renamed, this.schema.dialect) as AnyNode;
    }
    return renamed as AnyNode;
  }

  private binary(node: AnyNode): AnyNode {
    const left = node.leftOperand as AnyNode;
    const out = this.children(node);
    if (left.kind !== 'ReferenceNode') return out;
    const hit = this.resolve(left as unknown as ReferenceNode);
    if (!hit || hit.column === 'is_active' || !hasEncoder(hit.t, hit.column)) return out;
    const right = out.rightOperand as AnyNode;
    const enc = (v: unknown) => encodeValue(hit.t, hit.column, v);
    let encoded: OperationNode = right;
    if (right.kind === 'ValueNode') {
      const v = right as unknown as ValueNode;
      encoded = v.immediate ? ValueNode.createImmediate(enc(v.value)) : ValueNode.create(enc(v.value));
    } else if (right.kind === 'PrimitiveValueListNode') {
      encoded = PrimitiveValueListNode.create((right as unknown as PrimitiveValueListNode).values.map(enc));
    } else if (right.kind === 'ValueListNode') {
      encoded = ValueListNode.create(
        (right as unknown as ValueListNode).values.map((v) => (v.kind === 'ValueNode' ? ValueNode.create(enc((v as ValueNode).value)) : v)),
      );
    }
    return { ...out, rightOperand: encoded } as AnyNode;
  }

  private select(node: AnyNode, output: boolean): AnyNode {
    const froms = ((node.from as AnyNode | undefined)?.froms as AnyNode[] | undefined) ?? [];
    const joins = ((node.joins as AnyNode[] | undefined) ?? []).map((j) => j.table as AnyNode);
    return this.withScope(this.scopeOf([...froms, ...joins]), () => {
      const { selections, ...rest } = node;
      const mappedRest = this.children(rest as AnyNode);
      const sels = (selections as AnyNode[] | undefined)?.flatMap((s) => (output ? this.selectionOut(s) : [this.visit(s)]));
      return Object.freeze({ ...mappedRest, ...(sels ? { selections: sels } : {}) }) as AnyNode;
    });
  }

  private selectionOut(selection: AnyNode): AnyNode[] {
    const inner = (selection as unknown as SelectionNode).selection as unknown as AnyNode;
    const scope = this.scopes[this.scopes.length - 1];
    const dialect = this.schema.dialect;
    const as = (expr: OperationNode, name: string) => SelectionNode.create(AliasNode.create(expr, IdentifierNode.create(name))) as unknown as AnyNode;
    if (inner.kind === 'SelectAllNode' && scope?.mapped.length === 1 && scope.names.size <= 2) {
      const t = scope.mapped[0];
      return COLUMNS_OF[t.name].map((c) => {
        const user = t.columns[c];
        return as(user ? decodeNode(t, c, ReferenceNode.create(ColumnNode.create(user)), dialect) : ValueNode.createImmediate(constantOf(c)), c);
      });
    }
    if (inner.kind === 'ReferenceNode') {
      const hit = this.resolve(inner as unknown as ReferenceNode);
      if (!hit) return [selection];
      const renamed = this.renamedReference(inner as unknown as ReferenceNode, hit.t, hit.column);
      return [as(renamed.kind === 'ReferenceNode' ? decodeNode(hit.t, hit.column, renamed, dialect) : renamed, hit.column)];
    }
    if (inner.kind === 'AliasNode') {
      const aliasNode = inner as unknown as AliasNode;
      const expr = aliasNode.node as AnyNode;
      let decoded: OperationNode = this.visit(expr);
      const target = expr.kind === 'AggregateFunctionNode' && ['min', 'max'].includes(String(expr.func)) ? ((expr.aggregated as AnyNode[])[0] ?? null) : expr;
      if (target && target.kind === 'ReferenceNode') {
        const hit = this.resolve(target as unknown as ReferenceNode);
        if (hit && hit.column !== 'is_active' && hit.t.columns[hit.column]) decoded = decodeNode(hit.t, hit.column, decoded, dialect);
      }
      return [SelectionNode.create(AliasNode.create(decoded, aliasNode.alias)) as unknown as AnyNode];
    }
    return [this.visit(selection)];
  }

  private insert(node: AnyNode): AnyNode {
    const t = this.tableNamed(identifierName(node.into));
    if (!t) {
      // INSERT … SELECT from a mapped table (the calendar from the K-lines): the select reads klinecast's spelling.
      const values = node.values as AnyNode | undefined;
      if (values?.kind === 'SelectQueryNode') return { ...this.children({ ...node, values: undefined } as AnyNode), values: this.select(values, true) } as AnyNode;
      return this.children(node);
    }
    const columns = ((node.columns as ColumnNode[] | undefined) ?? []).map((c) => c.column.name);
    const keep = columns.map((c) => t.columns[c] !== null && t.columns[c] !== undefined);
    const fillNames = Object.keys(t.fill).filter((f) => !columns.some((c) => t.columns[c] === f));
    const symbolAt = columns.indexOf('symbol');
    const newColumns = [...columns.filter((_, i) => keep[i]).map((c) => ColumnNode.create(t.columns[c]!)), ...fillNames.map((f) => ColumnNode.create(f))];
    const rows = (node.values as AnyNode | undefined)?.kind === 'ValuesNode' ? ((node.values as AnyNode).values as AnyNode[]) : null;
    const newRows = rows?.map((row) => {
      if (row.kind === 'PrimitiveValueListNode') {
        const values = (row as unknown as PrimitiveValueListNode).values;
        const out = values.flatMap((v, i) => (keep[i] ? [encodeValue(t, columns[i], v)] : []));
        for (const f of fillNames) out.push(expandFill(t.fill[f], symbolAt >= 0 ? values[symbolAt] : null));
        return PrimitiveValueListNode.create(out);
      }
      const values = (row as unknown as ValueListNode).values;
      const out = values.flatMap((v, i) => {
        if (!keep[i]) return [];
        return [v.kind === 'ValueNode' ? ValueNode.create(encodeValue(t, columns[i], (v as ValueNode).value)) : v];
      });
      const sym = symbolAt >= 0 && values[symbolAt]?.kind === 'ValueNode' ? (values[symbolAt] as ValueNode).value : null;
      for (const f of fillNames) out.push(ValueNode.create(expandFill(t.fill[f], sym)));
      return ValueListNode.create(out);
    });
    const previous = this.insertTarget;
    this.insertTarget = t;
    try {
      const rest = this.updateColumns(this.children({ ...node, columns: undefined, values: undefined } as AnyNode));
      const onConflict = rest.onConflict as AnyNode | undefined;
      return Object.freeze({
        ...rest,
        into: TableNode.create(t.table),
        columns: newColumns,
        values: newRows ? { kind: 'ValuesNode', values: newRows } : node.values,
        ...(onConflict?.columns
          ? { onConflict: { ...onConflict, columns: (onConflict.columns as ColumnNode[]).map((c) => ColumnNode.create(t.columns[c.column.name] ?? c.column.name)) } }
          : {}),
      }) as AnyNode;
    } finally {
      this.insertTarget = previous;
    }
  }

  /** Column updates (ON DUPLICATE KEY / ON CONFLICT / UPDATE … SET) name the user's columns; a lacking one is dropped. */
  private updateColumns(node: AnyNode): AnyNode {
    const t = this.insertTarget ?? this.scopes[this.scopes.length - 1]?.mapped[0] ?? null;
    if (!t) return node;
    const fix = (updates: unknown) =>
      (updates as ColumnUpdateNode[]).flatMap((u) => {
        const name = u.column.kind === 'ColumnNode' ? (u.column as ColumnNode).column.name : null;
        if (name === null || !COLUMNS_OF[t.name].includes(name)) return [u];
        const user = t.columns[name];
        return user ? [ColumnUpdateNode.create(ColumnNode.create(user), u.value)] : [];
      });
    const out: Record<string, unknown> = { ...node };
    if (Array.isArray(node.updates)) out.updates = fix(node.updates);
    for (const key of ['onConflict', 'onDuplicateKey']) {
      const sub = node[key] as AnyNode | undefined;
      if (sub && Array.isArray(sub.updates)) out[key] = { ...sub, updates: fix(sub.updates) };
    }
    return Object.freeze(out) as AnyNode;
  }
}

/** Holds the current mapping; `db migrate` replaces it when it changed the tables. */
export class SchemaMappingPlugin implements KyselyPlugin {
  constructor(public schema: ResolvedSchema) {}

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.schema.identity) return args.node;
    return new Rewriter(this.schema).root(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}

/** The mapping a Kysely instance (or a transaction of it) runs with; klinecast's own names when none. */
export function mappingOf(db: Db): ResolvedSchema | null {
  const plugin = db.getExecutor().plugins.find((p): p is SchemaMappingPlugin => p instanceof SchemaMappingPlugin);
  return plugin?.schema ?? null;
}
