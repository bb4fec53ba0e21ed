/**
 * Database URLs and the registry's timestamp spelling: pure functions, kept apart from connection.ts so that code
 * which only names a database (configs, run metadata, pool threads training from series they were handed) does not
 * load the MySQL and SQLite drivers.
 */
import { UserError } from '../../util/errors.js';
import { printable } from './errors.js';

export const DEFAULT_DATABASE_URL = 'sqlite:data/klinecast.db';

export type DatabaseTarget =
  | { dialect: 'sqlite'; path: string }
  | { dialect: 'mysql'; host: string; port: number; user: string; password: string; database: string };

/** The URL to use: the explicit one, else KLINECAST_DATABASE_URL, else DB_HOST…DB_NAME, else the embedded default. */
export function resolveDatabaseUrl(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (explicit) return explicit;
  if (env.KLINECAST_DATABASE_URL) return env.KLINECAST_DATABASE_URL;
  if (env.DB_HOST || env.DB_NAME) {
    const user = encodeURIComponent(env.DB_USER ?? 'root');
    const password = env.DB_PASSWORD ? `:${encodeURIComponent(env.DB_PASSWORD)}` : '';
    return `mysql://${user}${password}@${env.DB_HOST ?? '127.0.0.1'}:${env.DB_PORT ?? '3306'}/${encodeURIComponent(env.DB_NAME ?? 'stock_db')}`;
  }
  return DEFAULT_DATABASE_URL;
}

export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (path === '') throw new UserError(`database URL "${url}" has no file path (expected sqlite:path/to/file.db)`);
    return { dialect: 'sqlite', path };
  }
  if (url.startsWith('mysql:') || url.startsWith('mariadb:')) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UserError(`database URL "${maskUrl(url)}" is not a valid URL (expected mysql://user:pass@host:port/db)`);
    }
    const decode = (part: string, what: string) => {
      try {
        return decodeURIComponent(part);
      } catch {
        throw new UserError(`database URL "${maskUrl(url)}" has a malformed %-escape in its ${what} (write a literal % as %25)`);
      }
    };
    const database = decode(parsed.pathname.replace(/^\//, ''), 'database name');
    if (!database) throw new UserError(`database URL "${maskUrl(url)}" names no database (expected mysql://user:pass@host:port/db)`);
    if (database.length > 64 || /[\0/\\.]/.test(database)) {
      throw new UserError(`database URL "${maskUrl(url)}" names database "${database.slice(0, 80)}", which MySQL does not allow (at most 64 characters, no / \\ . or NUL)`);
    }
    return {
      dialect: 'mysql',
      host: parsed.hostname || '127.0.0.1',
      port: parsed.port ? Number(parsed.port) : 3306,
      user: decode(parsed.username || 'root', 'user name'),
      password: decode(parsed.password, 'password'),
      database,
    };
  }
  throw new UserError(`database URL "${maskUrl(url)}" is neither mysql://user:pass@host:port/db nor sqlite:path`);
}

/** The URL that opens `target` again (password included): for a worker thread to connect to the same database. */
export function urlOfTarget(target: DatabaseTarget): string {
  if (target.dialect === 'sqlite') return `sqlite:${target.path}`;
  const user = encodeURIComponent(target.user);
  const password = target.password ? `:${encodeURIComponent(target.password)}` : '';
  return `mysql://${user}${password}@${target.host}:${target.port}/${encodeURIComponent(target.database)}`;
}

/** The URL with any password masked and control characters escaped, for messages. */
export function maskUrl(url: string): string {
  return printable(url.replace(/^(\w+:\/\/[^:/@]*:)[^@]*@/, '$1***@'));
}

/** Current UTC time as 'YYYY-MM-DD HH:MM:SS', a spelling both dialects store and return unchanged. */
export function sqlNow(): string {
  return new Date().toISOString().slice(0, 19).replace('T', ' ');
}

