/** Hosts the post workflow and the activities on the configured task queue. */
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { HeraldActivities } from '../../activities';
import type { Logger } from '../logger';
import { bundleWorkflowsInChild } from './bundle-workflows';
import type { TemporalTarget } from './connection';

export interface HeraldWorkerOptions {
  target: TemporalTarget;
  taskQueue: string;
  activities: HeraldActivities;
  logger: Logger;
  /** A prebuilt bundle (tests bundle once); otherwise the workflows are bundled at start, in a child process. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  maxConcurrentActivityTaskExecutions?: number;
  maxCachedWorkflows?: number;
  identity?: string;
}

export interface HeraldWorker {
  worker: Worker;
  connection: NativeConnection;
  /** Resolves when the worker stopped (after shutdown() or a fatal error). */
  running: Promise<void>;
  shutdown(): Promise<void>;
  /** One round trip to Temporal over the worker's own connection (same address, TLS and API key as its polls). */
  checkTemporal(): Promise<void>;
}

export async function startWorker(options: HeraldWorkerOptions): Promise<HeraldWorker> {
  const { target } = options;
  const connection = await NativeConnection.connect({ address: target.address, apiKey: target.apiKey, tls: target.tls });
  const worker = await Worker.create({
    connection,
    namespace: target.namespace,
    taskQueue: options.taskQueue,
    activities: options.activities,
    ...(target.dataConverter ? { dataConverter: target.dataConverter } : {}),
    workflowBundle: options.workflowBundle ?? (await bundleWorkflowsInChild()),
    ...definedOnly({
      maxConcurrentActivityTaskExecutions: options.maxConcurrentActivityTaskExecutions,
      maxCachedWorkflows: options.maxCachedWorkflows,
    }),
    ...(options.identity ? { identity: options.identity } : {}),
  });
  const running = worker.run().finally(() => connection.close().catch(() => undefined));
  running.catch((err: unknown) => options.logger.error({ err }, 'worker stopped with an error'));
  return {
    worker,
    connection,
    running,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
    },
    async checkTemporal() {
      await connection.workflowService.getSystemInfo({});
    },
  };
}

/** The native bridge rejects explicit undefined options: pass only the ones that are set. */
function definedOnly<T extends Record<string, unknown>>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
