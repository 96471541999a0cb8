/**
 * Determinism guard. Scheduled posts sleep for days, so new code replays old histories: every
 * history recorded in test/histories (from earlier versions of the workflow) and every history
 * produced in this run must replay against the current workflow bundle. A change to the command
 * order without `patched()` fails here.
 *
 * `RECORD_HISTORIES=1 npx jest --selectProjects integration --testPathPatterns replay` adds this
 * run's histories to test/histories (the current version's, unprefixed; rename the previous
 * version's to `v<n>-<what changed>-*.json` first), decrypted (each run has its own payload key; the histories
 * hold no secret, which this test checks), so they replay with any key.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { defaultCliPath } from '../../src/temporal/dev-server';
import { Worker } from '@temporalio/worker';
import { decodePayloadsInJson } from '../../src/temporal/payload-codec';
import { createHarness, env, eventually, longText, quietTemporalRuntime, workflowIdOf, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);
quietTemporalRuntime();

const historiesDir = join(__dirname, '..', 'histories');
const workflowBundle = () => ({ code: readFileSync(env('HERALD_TEST_WORKFLOW_BUNDLE'), 'utf8') });

describe('recorded histories', () => {
  const files = existsSync(historiesDir) ? readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort() : [];

  test('when the suite runs, then there are recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  test.each(files)('when %s is replayed with the current code, then it is deterministic', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(join(historiesDir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: workflowBundle() }, history, file.replace(/\.json$/, ''));
  });
});

describe('histories of this run', () => {
  let h: Harness;
  let tenant: Tenant;

  beforeAll(async () => {
    h = await createHarness();
    tenant = await h.tenant();
  });
  afterAll(async () => h?.close());

  async function finished(postId: number, status: string) {
    return eventually(async () => {
      const { body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
      return body.status === status ? body : undefined;
    }, 60_000, `post ${postId} to be ${status}`);
  }

  const soon = (ms: number) => new Date(Date.now() + ms).toISOString();

  async function scenarios(): Promise<Record<string, number>> {
    const schedule = async (content: string, scheduledFor: string, extra: Record<string, unknown> = {}) =>
      (await tenant.call('POST', '/api/v2/schedule', { businessId: tenant.businessId, content, platforms: ['twitter'], scheduledFor, ...extra })).body.id as number;

    const thread = await schedule(longText(10), soon(1500), { thread: { numbering: true } });
    const cancelled = await schedule(`Cancelled ${Date.now()}`, soon(60_000));
    await tenant.call('DELETE', `/api/v2/schedule/${cancelled}`);
    const rescheduled = await schedule(`Rescheduled ${Date.now()}`, soon(60_000));
    await tenant.call('PUT', `/api/v2/schedule/${rescheduled}`, { scheduledFor: soon(2000) });
    h.fakeX.injectFault({ kind: 'unauthorized' });
    const failed = (await tenant.call('POST', '/api/v2/publish?wait=20', { businessId: tenant.businessId, content: `Fails ${Date.now()}`, platforms: ['twitter'] })).body.id as number;
    // Cancelled in Temporal itself (the Web UI's button) while waiting.
    const operatorCancelled = await schedule(`Cancelled in Temporal ${Date.now()}`, soon(60_000));
    await h.temporal.workflow.getHandle(await workflowIdOf(h.orm, operatorCancelled)).cancel();

    await finished(thread, 'published');
    await finished(cancelled, 'cancelled');
    await finished(rescheduled, 'published');
    await finished(failed, 'failed');
    await finished(operatorCancelled, 'cancelled');
    return { 'thread-published': thread, cancelled, rescheduled, 'auth-failed': failed, 'operator-cancelled': operatorCancelled };
  }

  test('when fresh histories are replayed, then they are deterministic and hold no secret', async () => {
    const posts = await scenarios();
    for (const [name, postId] of Object.entries(posts)) {
      const workflowId = await workflowIdOf(h.orm, postId);
      const history = await h.temporal.workflow.getHandle(workflowId).fetchHistory();
      expect(history.events!.length).toBeGreaterThan(5);
      // Payloads are encrypted: replaying needs the workers' data converter.
      await Worker.runReplayHistory({ workflowBundle: workflowBundle(), dataConverter: h.dataConverter }, history, workflowId);

      // The CLI writes the proto-JSON form that historyFromJSON reads (as the Web UI's download does).
      const json = execFileSync(defaultCliPath, ['workflow', 'show', '--workflow-id', workflowId, '--address', h.temporalAddress, '--output', 'json']).toString();
      const raw = decodedPayloads(JSON.parse(json));
      const plainHistory = await decodePayloadsInJson(h.payloadCodec, JSON.parse(json));
      const decoded = decodedPayloads(plainHistory);
      expect(raw.some((text) => text.includes(`Post ${postId} to twitter`))).toBe(false); // the summary is encrypted
      expect(decoded.some((text) => text.includes(`Post ${postId} to twitter`))).toBe(true); // decoding works
      for (const text of [json, ...raw, ...decoded]) {
        expect(text).not.toContain(tenant.xToken);
        expect(text).not.toContain(tenant.apiKey);
      }
      if (process.env.RECORD_HISTORIES === '1') {
        mkdirSync(historiesDir, { recursive: true });
        writeFileSync(join(historiesDir, `${name}.json`), JSON.stringify(plainHistory, null, 2));
      }
    }
  });
});

/** Every payload's data, decoded from base64: what a secret would look like inside history. */
function decodedPayloads(node: unknown, found: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((child) => decodedPayloads(child, found));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'data' && typeof value === 'string') found.push(Buffer.from(value, 'base64').toString('utf8'));
      else decodedPayloads(value, found);
    }
  }
  return found;
}
