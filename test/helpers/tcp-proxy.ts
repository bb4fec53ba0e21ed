/**
 * A local TCP proxy a test starts in front of a service (MariaDB, Redis) and kills to simulate an outage: kill()
 * destroys every open connection and stops listening, so new connections are refused until restart().
 * limitDownstream() makes "the connection died in the middle of a result" deterministic: however large the kernel's
 * socket buffers, a client has then received only part of a long result when the test kills the proxy.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  /** the loopback port the proxy listens on */
  port: number;
  /** drops every connection and stops listening (clients see ECONNRESET, then ECONNREFUSED) */
  kill(): Promise<void>;
  /** listens again on the same port */
  restart(): Promise<void>;
  /**
   * From now until kill(), each connection forwards at most `bytes` more from the service to the client; the rest
   * waits in the proxy. Requests still flow, so a query starts and its rows stop arriving midway.
   */
  limitDownstream(bytes: number): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  let limit: number | null = null;
  /** bytes each connection may still forward downstream, set when a limit is in force */
  const allowance = new Map<Socket, number>();
  const forward = (upstream: Socket, client: Socket) => {
    upstream.on('data', (chunk: Buffer) => {
      if (limit !== null) {
        const left = allowance.get(upstream) ?? limit;
        if (chunk.length > left) {
          if (left > 0) client.write(chunk.subarray(0, left));
          allowance.set(upstream, 0);
          upstream.pause();
          return;
        }
        allowance.set(upstream, left - chunk.length);
      }
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
  };
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = createConnection({ host: targetHost, port: targetPort });
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => undefined);
        }
        client.pipe(upstream);
        forward(upstream, client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();
  const kill = async () => {
    const s = server;
    server = null;
    limit = null;
    allowance.clear();
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  return {
    get port() {
      return port;
    },
    kill,
    restart: listen,
    limitDownstream(bytes: number) {
      limit = bytes;
      allowance.clear();
    },
    close: kill,
  };
}
