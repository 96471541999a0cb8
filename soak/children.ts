/**
 * Herald's own processes (the API and the workers) under a small supervisor that behaves like an
 * orchestrator: a child that exits for any reason — a SIGKILL of the soak, a worker giving up on an
 * unreachable Temporal, a crash — is started again with the same command and environment, and
 * every exit is recorded with its time, code or signal.
 */
import { spawnNode, stopChild, tailOf, type BenchChild } from '../bench/stack';
import { sleep } from './services';

export interface ChildExit {
  child: string;
  pid: number;
  /** Epoch ms. */
  at: number;
  code: number | null;
  signal: string | null;
  /** The pid of the process started in its place, and when (epoch ms). */
  restartedPid?: number;
  restartedAt?: number;
}

export class SupervisedChild {
  private current!: BenchChild;
  private stopping = false;
  private consecutiveQuickExits = 0;
  private startedAt = 0;
  readonly exits: ChildExit[] = [];

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly log: (line: string) => void,
    /** True when the process is ready (the worker's /readyz, the API's /health). */
    private readonly readyProbe: () => Promise<boolean>,
    /** Where the code it runs lives (the soak's snapshot of the engine). */
    private readonly cwd: string,
  ) {}

  get pid(): number {
    return this.current.pid;
  }

  get logFile(): string {
    return this.current.logFile;
  }

  start(): void {
    this.current = spawnNode(this.name, this.args, this.env, this.logDir, 'log', this.cwd);
    this.startedAt = Date.now();
    const child = this.current;
    child.process.once('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private onExit(child: BenchChild, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    const exit: ChildExit = { child: this.name, pid: child.pid, at: Date.now(), code, signal };
    this.exits.push(exit);
    // A child that keeps dying at start (e.g. while Postgres is down) is restarted less eagerly.
    this.consecutiveQuickExits = Date.now() - this.startedAt < 10_000 ? this.consecutiveQuickExits + 1 : 0;
    const backoffMs = Math.min(1000 * 2 ** this.consecutiveQuickExits, 8000);
    this.log(`${this.name} (pid ${child.pid}) exited (${signal ?? `code ${code}`}); restarting in ${backoffMs / 1000} s`);
    if (code !== 0 && signal === null) this.log(`--- last lines of ${child.logFile}:\n${tailOf(child.logFile, 8)}`);
    setTimeout(() => {
      if (this.stopping) return;
      this.start();
      exit.restartedPid = this.current.pid;
      exit.restartedAt = Date.now();
    }, backoffMs).unref();
  }

  /** Signals the current process, by its pid. */
  signal(signal: NodeJS.Signals): void {
    process.kill(this.current.pid, signal);
  }

  async ready(): Promise<boolean> {
    if (this.current.process.exitCode !== null || this.current.process.signalCode !== null) return false;
    return this.readyProbe().catch(() => false);
  }

  /** Resolves with the time (epoch ms) the child was next seen ready; undefined after `timeoutMs`. */
  async waitReady(timeoutMs: number, intervalMs = 250, giveUp: () => boolean = () => false): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !giveUp()) {
      if (await this.ready()) return Date.now();
      await sleep(intervalMs);
    }
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const child = this.current.process;
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      child.kill('SIGCONT'); // a stopped process would never see the SIGTERM
    } catch {
      // gone meanwhile
    }
    await stopChild(child, 15_000);
  }
}

/** GET `url` answers 200 within a short time. */
export async function answersOk(url: string, timeoutMs = 3000): Promise<boolean> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
  await response?.body?.cancel().catch(() => undefined);
  return response?.ok === true;
}
