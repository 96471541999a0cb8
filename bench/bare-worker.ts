/**
 * The baseline's worker process (spawned by the bench like Herald's worker: node itself, its own
 * task queue, the same activity-slot and workflow-cache settings as the Herald worker under test).
 * Prints BARE_WORKER_READY once it polls; SIGTERM/SIGINT shut it down.
 */
import { DefaultLogger, makeTelemetryFilterString, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { bareActivities } from './bare-activities';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (the bench sets it)`);
  return value;
}

async function main(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} } },
  });
  const connection = await NativeConnection.connect({ address: required('BENCH_TEMPORAL_ADDRESS') });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: required('BENCH_TASK_QUEUE'),
    workflowsPath: require.resolve('./bare-workflow'),
    activities: bareActivities,
    maxConcurrentActivityTaskExecutions: Number(required('BENCH_MAX_CONCURRENT_ACTIVITIES')),
    maxCachedWorkflows: Number(required('BENCH_MAX_CACHED_WORKFLOWS')),
  });
  const stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const running = worker.run();
  process.stdout.write('BARE_WORKER_READY\n');
  try {
    await running;
  } finally {
    await connection.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bare worker failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
