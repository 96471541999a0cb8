/**
 * The runbook's "retry a failed target": once the cause is fixed (here: LinkedIn refused the token,
 * then accepts it again), an operator resets the post's workflow to its first task with the
 * `temporal` CLI. The new run plans again from the part ledger: what was published stays published
 * (no second request to X), only the failed target is sent, and the API shows the post published.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { defaultCliPath } from '../../src/temporal/dev-server';
import { createHarness, eventually, longText, postHandle, workflowIdOf, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);
const run = promisify(execFile);

let h: Harness;
let tenant: Tenant;

beforeAll(async () => {
  h = await createHarness();
  tenant = await h.tenant({ linkedin: true });
});
afterAll(async () => h?.close());

async function settled(postId: number, previousRunId?: string) {
  return eventually(async () => {
    const { body } = await tenant.call('GET', `/api/v2/posts/${postId}`);
    if (!['published', 'partially_published', 'failed', 'cancelled'].includes(body.status)) return undefined;
    if (previousRunId) {
      const description = await (await postHandle(h, postId)).describe();
      if (description.runId === previousRunId || description.status.name !== 'COMPLETED') return undefined;
    }
    return body;
  }, 60_000, `post ${postId} to settle`);
}

describe('retrying a failed target from the Temporal CLI', () => {
  test('when a partially published post is reset to its first workflow task, then only the failed target is sent, once', async () => {
    const content = longText(6);
    h.fakeLinkedIn.injectFault({ kind: 'unauthorized' }, 1);
    const created = await tenant.call('POST', '/api/v2/publish/multi-platform?wait=0', {
      businessId: tenant.businessId, content, platforms: ['twitter', 'linkedin'], thread: { numbering: true },
    });
    expect(created.status).toBe(202);
    const postId: number = created.body.id;

    const first = await settled(postId);
    expect(first.status).toBe('partially_published');
    const x = first.targets.find((t: any) => t.platform === 'twitter');
    const linkedIn = first.targets.find((t: any) => t.platform === 'linkedin');
    expect(x.status).toBe('published');
    expect(linkedIn).toMatchObject({ status: 'failed', errorClass: 'auth' });
    const xParts = x.parts.map((p: any) => p.platformPostId);
    expect(xParts.length).toBeGreaterThan(1);
    const xCreatesBefore = h.fakeX.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets').length;
    expect(h.fakeLinkedIn.posts.filter((p) => p.author === tenant.linkedin!.urn)).toHaveLength(0);

    const workflowId = await workflowIdOf(h.orm, postId);
    const { runId } = await h.temporal.workflow.getHandle(workflowId).describe();
    await run(defaultCliPath, [
      'workflow', 'reset', '--address', h.temporalAddress, '--namespace', 'default',
      '--workflow-id', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'LinkedIn token fixed; retry the failed target',
    ]);

    const second = await settled(postId, runId);
    expect(second.status).toBe('published');
    const xAgain = second.targets.find((t: any) => t.platform === 'twitter');
    expect(xAgain.parts.map((p: any) => p.platformPostId)).toEqual(xParts);
    expect(h.fakeX.requests.filter((r) => r.method === 'POST' && r.path === '/2/tweets')).toHaveLength(xCreatesBefore);
    const published = h.fakeLinkedIn.posts.filter((p) => p.author === tenant.linkedin!.urn);
    expect(published).toHaveLength(1);
    expect(second.targets.find((t: any) => t.platform === 'linkedin')).toMatchObject({ status: 'published', error: null });
  });
});
