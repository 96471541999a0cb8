/**
 * Bundles the workflow code in a short-lived child process. Webpack is big: bundled inside the
 * worker, it leaves the long-lived process some 75 MB larger for good (measured with `npm run bench`;
 * V8 does not hand the memory back). The child prints the bundle on stdout and exits.
 *
 * Run as a script (`<node with the same loader> bundle-workflows`), it does the bundling itself.
 */
import { execFile } from 'node:child_process';
import { bundleWorkflowCode } from '@temporalio/worker';
import { failureConverterPath } from './payload-codec';

const workflowsPath = require.resolve('../../workflows');

/** The workflow bundle, built by a child process run with this process's node and loader flags. */
export function bundleWorkflowsInChild(): Promise<{ code: string }> {
  const script = require.resolve('./bundle-workflows');
  // The loader flags (tsx in development) carry over; debugger and profiler flags would not help there.
  const execArgv = process.execArgv.filter((arg) => !/^--(inspect|cpu-prof|heap-prof)/.test(arg));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...execArgv, script], { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`bundling the workflow code failed: ${err.message}\n${stderr}`));
      else if (!stdout.trim()) reject(new Error(`bundling the workflow code produced nothing\n${stderr}`));
      else resolve({ code: stdout });
    });
  });
}

/**
 * The workflow bundle, built in this process: with the failure converter the workers' data
 * converter uses, and webpack's chatter kept to warnings and errors (on stderr).
 */
export async function bundleWorkflows(): Promise<{ code: string }> {
  const quiet = () => undefined;
  const logger = { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: (m: string) => console.error(m), error: (m: string) => console.error(m) };
  const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath, logger });
  return { code };
}

async function printBundle(): Promise<void> {
  process.stdout.write((await bundleWorkflows()).code);
}

if (require.main === module) {
  printBundle().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
