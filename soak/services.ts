/**
 * The soak's own infrastructure, started from nothing and killable on purpose: a PostgreSQL cluster
 * (Debian's initdb/pg_ctl in a temp folder, on a free port), a Redis server (a child process, no
 * persistence) and a Temporal dev server on a SQLite file (restartable on the same file and port).
 * Nothing here touches the machine's own Postgres (5432) or Redis (6379): every process is ours,
 * signalled by its pid or driven through its own data folder.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../src/temporal/dev-server';
import { trackChild } from '../bench/stack';
import { freePort } from '../test/support/ports';
import { hostEnvironment } from '../bench/lib';

// ---------------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------------

/** Clusters still running when this process exits are stopped (immediate mode), whatever the reason. */
const liveClusters = new Set<OwnPostgres>();
process.on('exit', () => {
  for (const cluster of liveClusters) cluster.stopNow();
});

export class OwnPostgres {
  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly binDir: string,
    private readonly asPostgres: boolean,
  ) {}

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/herald_soak`;
  }

  /** initdb (trust auth, loopback only) and start on a free port; as the `postgres` user when we are root (initdb refuses root). */
  static async start(log: (line: string) => void): Promise<OwnPostgres> {
    const binDir = newestPostgresBinDir();
    const asPostgres = process.getuid?.() === 0;
    const dataDir = mkdtempSync(join(tmpdir(), 'herald-soak-pg-'));
    if (asPostgres) {
      const { uid, gid } = postgresUser();
      chownSync(dataDir, uid, gid);
    }
    chmodSync(dataDir, 0o700);
    const cluster = new OwnPostgres(dataDir, await freePort(), binDir, asPostgres);
    await cluster.run('initdb', ['-D', join(dataDir, 'data'), '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'], 120_000);
    liveClusters.add(cluster);
    await cluster.startServer();
    log(`PostgreSQL (${binDir}) on 127.0.0.1:${cluster.port}, data in ${dataDir}`);
    return cluster;
  }

  /** pg_ctl start, waiting (bounded) until it accepts connections. */
  async startServer(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dataDir} -c max_connections=200`;
    await this.run('pg_ctl', ['-D', join(this.dataDir, 'data'), '-l', join(this.dataDir, 'server.log'), '-o', options, '-w', '-t', '60', 'start'], 90_000);
  }

  /** `pg_ctl restart -m fast`: every connection is cut, the server is back when this resolves. */
  async restart(): Promise<void> {
    const options = `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dataDir} -c max_connections=200`;
    await this.run('pg_ctl', ['-D', join(this.dataDir, 'data'), '-l', join(this.dataDir, 'server.log'), '-o', options, '-m', 'fast', '-w', '-t', '60', 'restart'], 90_000);
  }

  async stop(): Promise<void> {
    liveClusters.delete(this);
    await this.run('pg_ctl', ['-D', join(this.dataDir, 'data'), '-m', 'fast', '-w', '-t', '30', 'stop'], 45_000).catch(() => this.stopNow());
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Synchronous, for the exit handler. */
  stopNow(): void {
    try {
      execFileSync(...this.command('pg_ctl', ['-D', join(this.dataDir, 'data'), '-m', 'immediate', '-w', '-t', '20', 'stop']), { stdio: 'ignore', timeout: 25_000 });
    } catch {
      // already stopped
    }
    liveClusters.delete(this);
  }

  /** pg_dump of the soak database into `file` (plain SQL), for a post-mortem of a failed run. */
  async dump(file: string): Promise<void> {
    const sql = await this.run('pg_dump', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '--no-owner', 'herald_soak'], 120_000);
    writeFileSync(file, sql);
  }

  logFile(): string {
    return join(this.dataDir, 'server.log');
  }

  private command(binary: string, args: string[]): [string, string[]] {
    const path = join(this.binDir, binary);
    return this.asPostgres ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  private run(binary: string, args: string[], timeoutMs: number): Promise<string> {
    const [file, argv] = this.command(binary, args);
    return new Promise((resolve, reject) => {
      execFile(file, argv, { timeout: timeoutMs, cwd: this.dataDir, env: hostEnvironment(), maxBuffer: 512 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${binary} failed: ${err.message}\n${stderr || stdout}`));
        else resolve(stdout);
      });
    });
  }
}

function newestPostgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'initdb'))) : [];
  versions.sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error(`no PostgreSQL binaries under ${root}/*/bin (apt-get install postgresql)`);
  return join(root, versions[0]!, 'bin');
}

function postgresUser(): { uid: number; gid: number } {
  const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim()));
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('there is no "postgres" user to run initdb as');
  return { uid: uid!, gid: gid! };
}

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

/** `redis-server` as our child, on a port of its own, keeping nothing on disk. */
export class OwnRedis {
  private child?: ChildProcess;

  private constructor(readonly port: number, private readonly logFile: string) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  static async start(logDir: string, log: (line: string) => void): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort(), join(logDir, 'redis.log'));
    await redis.startServer();
    log(`Redis on 127.0.0.1:${redis.port}, pid ${redis.pid}`);
    return redis;
  }

  async startServer(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    try {
      const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', tmpdir()];
      this.child = spawn('redis-server', args, { stdio: ['ignore', fd, fd], env: hostEnvironment() });
    } finally {
      closeSync(fd);
    }
    trackChild(this.child);
    await waitFor(() => redisAnswers(this.port), 30_000, `Redis on port ${this.port}`);
  }

  /** SIGKILL, by pid: the data (rate-limit counters, idempotency keys kept there) is gone. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

/** PING → +PONG over a raw socket (no client library that would keep reconnecting). */
export function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

// ---------------------------------------------------------------------------------------------
// Temporal dev server
// ---------------------------------------------------------------------------------------------

/** The dev server on a SQLite file: killed with SIGKILL and started again on the same file and port. */
export class OwnDevServer {
  private server?: DevServer;

  private constructor(readonly port: number, readonly dbFile: string) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.server?.process.pid;
  }

  static async start(workDir: string, log: (line: string) => void): Promise<OwnDevServer> {
    const devServer = new OwnDevServer(await freePort(), join(workDir, 'temporal.sqlite'));
    await devServer.startServer();
    log(`Temporal dev server on ${devServer.address} (SQLite ${devServer.dbFile}), pid ${devServer.pid}`);
    return devServer;
  }

  async startServer(): Promise<void> {
    this.server = await startDevServer({ port: this.port, dbFile: this.dbFile, logLevel: 'error', startTimeoutMs: 90_000 });
    trackChild(this.server.process);
  }

  kill(): void {
    this.server?.process.kill('SIGKILL');
  }

  /** Resolves once the killed process is gone (its port and file are free again). */
  async waitGone(timeoutMs = 10_000): Promise<void> {
    const child = this.server?.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

// ---------------------------------------------------------------------------------------------

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it is true; throws after `timeoutMs`. */
export async function waitFor(probe: () => Promise<boolean>, timeoutMs: number, what: string, intervalMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
}
