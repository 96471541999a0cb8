/**
 * The answers agree with the generated OpenAPI document, and every request field has a bound
 * (issue #11). One regression test per class of finding of the fuzzer (test/integration/fuzz.test.ts):
 * a 500 after the post was created, 409 bodies against the Error schema, references that did not
 * resolve, documented-valid input refused, undocumented statuses, wrong answers to undeclared
 * methods; and hole 7: input out of bounds is a 400 naming the field, never a 500, nothing stored.
 */
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { Post } from '../../src/db/entities';
import { MAX_ID, MAX_SCHEDULE_AHEAD_DAYS } from '../../src/domain/limits';
import { call, createHarness, eventually, type Harness, type Tenant } from '../support/harness';

jest.setTimeout(120_000);

type Doc = { paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }>; requestBody?: { required?: boolean }; parameters?: Array<{ name: string; in: string; schema: Record<string, unknown> }> }>>; components: { schemas: Record<string, Record<string, any>> } };

let h: Harness;
let owner: Tenant;
let doc: Doc;
let ajv: Ajv2020;

beforeAll(async () => {
  h = await createHarness();
  owner = await h.tenant();
  doc = (await call(h.app.url, undefined, 'GET', '/api/v2/openapi.json')).body;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'doc', components: doc.components }, 'doc');
});
afterAll(async () => h?.close());

const inHours = (hours: number) => new Date(Date.now() + hours * 3600_000).toISOString();
const scheduleBody = (extra: Record<string, unknown> = {}) => ({
  businessId: owner.businessId, content: `Contract ${Date.now()} ${Math.random()}`, platforms: ['twitter'], scheduledFor: inHours(5), ...extra,
});
const postCount = () => h.orm.em.fork().count(Post, { businessId: owner.businessId });

/** The answer is one the document lists for this operation, and its body fits the listed schema. */
function expectDocumented(path: string, method: string, response: { status: number; body: unknown }): void {
  const operation = doc.paths[path]?.[method.toLowerCase()];
  expect(operation).toBeDefined();
  const documented = operation!.responses[String(response.status)];
  expect({ path, method, status: response.status, documented: documented !== undefined }).toEqual({ path, method, status: response.status, documented: true });
  const schema = documented!.content?.['application/json']?.schema;
  if (!schema) return;
  const validate = ajv.compile({ $ref: 'doc#', ...rewriteRefs(schema) });
  const valid = validate(response.body);
  expect({ valid, errors: validate.errors ?? null, body: response.body }).toEqual({ valid: true, errors: null, body: response.body });
}

function rewriteRefs(value: any): any {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(/^#\//, 'doc#/') : rewriteRefs(v)]));
}

describe('the document itself', () => {
  test('when every $ref of the document is followed, then it resolves (zod\'s __shared references are hoisted into components)', () => {
    const refs: string[] = [];
    const walk = (value: unknown) => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        for (const [key, inner] of Object.entries(value)) {
          if (key === '$ref' && typeof inner === 'string') refs.push(inner);
          else walk(inner);
        }
      }
    };
    walk(doc);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of new Set(refs)) {
      const match = /^#\/components\/schemas\/([A-Za-z0-9_]+)$/.exec(ref);
      expect({ ref, resolves: match !== null && doc.components.schemas[match[1]!] !== undefined }).toEqual({ ref, resolves: true });
    }
    expect(JSON.stringify(doc)).not.toContain('__shared');
  });

  test('when an operation takes parameters, a body or a key, then 400, 401, 413, 415, 429 and 503 are documented with the Error schema', () => {
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const statuses = Object.keys(operation.responses);
        if (path === '/health') continue;
        // An operation public by design (`security: []`, the OAuth callback) never answers 401 or 429.
        const keyed = (operation as { security?: unknown[] }).security?.length !== 0;
        expect({ path, method, has: (keyed ? ['401', '429', '503'] : ['503']).every((s) => statuses.includes(s)) }).toEqual({ path, method, has: true });
        if (operation.parameters?.length || operation.requestBody) expect({ path, method, has400: statuses.includes('400') }).toEqual({ path, method, has400: true });
        if (operation.requestBody) expect({ path, method, has: statuses.includes('413') && statuses.includes('415') }).toEqual({ path, method, has: true });
        for (const status of statuses.filter((s) => Number(s) >= 400)) {
          expect(operation.responses[status]!.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
        }
      }
    }
  });

  test('when a field has a bound in the code, then the document states it', () => {
    const schedule = doc.components.schemas.ScheduleRequest!;
    expect(schedule.properties.businessId).toMatchObject({ type: 'integer', minimum: 1, maximum: MAX_ID });
    expect(schedule.properties.content).toMatchObject({ maxLength: 25_000, pattern: expect.stringContaining('\\x00') });
    expect(schedule.properties.platforms).toMatchObject({ minItems: 1, maxItems: 4, uniqueItems: true });
    expect(schedule.properties.timezone).toMatchObject({ maxLength: 64, pattern: expect.any(String) });
    expect(schedule.properties.platformParams.additionalProperties).toBe(false);
    const account = doc.components.schemas.ConnectAccountRequest!;
    for (const field of ['platformUserId', 'displayName', 'accessToken', 'refreshToken']) expect(account.properties[field]).toMatchObject({ maxLength: expect.any(Number), pattern: expect.any(String) });
    const postId = doc.paths['/api/v2/posts/{postId}']!.get!.parameters!.find((p) => p.name === 'postId')!;
    expect(postId.schema).toEqual({ type: 'integer', minimum: 1, maximum: MAX_ID });
    const list = doc.paths['/api/v2/scheduled']!.get!.parameters!;
    expect(list.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 1000 });
    expect(list.find((p) => p.name === 'businessId')!.schema).toMatchObject({ type: 'integer', maximum: MAX_ID });
    expect(list.find((p) => p.name === 'status')!.schema).toMatchObject({ maxLength: 200, pattern: expect.any(String) });
    const key = doc.paths['/api/v2/schedule']!.post!.parameters!.find((p) => p.name === 'Idempotency-Key')!;
    expect(key.schema).toMatchObject({ maxLength: 255, pattern: expect.any(String) });
    expect(doc.paths['/api/v2/schedule']!.post!.requestBody!.required).toBe(true);
  });
});

describe('a 500 after the post was created (the fuzzer found ?wait=0.5)', () => {
  test('when publish is asked to wait a fraction of a second, then it answers with the post, once, and a retry with the key gets the same post', async () => {
    const before = await postCount();
    const key = `fraction-${Date.now()}`;
    const body = { businessId: owner.businessId, content: `Fraction ${Date.now()}`, platforms: ['twitter'] };
    const first = await fetch(`${h.app.url}/api/v2/publish?wait=0.5`, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key }, body: JSON.stringify(body) });
    const firstBody = (await first.json()) as { id: number };
    expect([200, 202]).toContain(first.status);
    expectDocumented('/api/v2/publish', 'POST', { status: first.status, body: firstBody });
    const again = await fetch(`${h.app.url}/api/v2/publish?wait=0.001`, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key }, body: JSON.stringify(body) });
    expect(((await again.json()) as { id: number }).id).toBe(firstBody.id);
    expect(await postCount()).toBe(before + 1);
    await eventually(async () => (h.fakeX.tweetsBy(owner.xUserId).some((t) => t.text === body.content) ? true : undefined), 20_000, 'the post to be published');
    expect(h.fakeX.tweetsBy(owner.xUserId).filter((t) => t.text === body.content)).toHaveLength(1);
  });
});

describe('409 bodies fit the documented Error schema', () => {
  test('when a published post is cancelled or rescheduled, then 409 with details.reason, as documented', async () => {
    const published = await owner.call('POST', '/api/v2/publish?wait=20', { businessId: owner.businessId, content: `Done ${Date.now()}`, platforms: ['twitter'] });
    expect(published.status).toBe(200);
    const cancel = await owner.call('DELETE', `/api/v2/schedule/${published.body.id}`);
    expect(cancel.status).toBe(409);
    expect(cancel.body.error.details.reason).toBe('already_published');
    expectDocumented('/api/v2/schedule/{postId}', 'DELETE', cancel);
    const move = await owner.call('PUT', `/api/v2/schedule/${published.body.id}`, { scheduledFor: inHours(2) });
    expect(move.status).toBe(409);
    expectDocumented('/api/v2/schedule/{postId}', 'PUT', move);
  });

  test('when an Idempotency-Key is reused for another request, then 409 idempotency_key_reused, as documented', async () => {
    const key = `reused-${Date.now()}`;
    const headers = { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key };
    const first = await fetch(`${h.app.url}/api/v2/schedule`, { method: 'POST', headers, body: JSON.stringify(scheduleBody()) });
    expect(first.status).toBe(201);
    const second = await fetch(`${h.app.url}/api/v2/schedule`, { method: 'POST', headers, body: JSON.stringify(scheduleBody()) });
    const body = (await second.json()) as { error: { details: { reason: string } } };
    expect(second.status).toBe(409);
    expect(body.error.details.reason).toBe('idempotency_key_reused');
    expectDocumented('/api/v2/schedule', 'POST', { status: 409, body });
    await owner.call('DELETE', `/api/v2/schedule/${((await first.json()) as { id: number }).id}`);
  });
});

describe('every status an operation answers is documented', () => {
  test('when ids are 0, not numbers or beyond int4, then 400 naming the parameter, documented', async () => {
    for (const [method, path, template] of [
      ['GET', '/api/v2/posts/0', '/api/v2/posts/{postId}'],
      ['GET', `/api/v2/posts/${MAX_ID + 1}`, '/api/v2/posts/{postId}'],
      ['GET', '/api/v2/posts/99999999999999999999', '/api/v2/posts/{postId}'],
      ['GET', '/api/v2/posts/1e3', '/api/v2/posts/{postId}'],
      ['DELETE', '/api/v2/schedule/-1', '/api/v2/schedule/{postId}'],
      ['DELETE', `/api/v2/accounts/${MAX_ID + 1}`, '/api/v2/accounts/{id}'],
    ] as const) {
      const response = await owner.call(method, path);
      expect({ path, status: response.status }).toEqual({ path, status: 400 });
      expect(response.body.error.details[0].path).toMatch(/^(postId|id)$/);
      expectDocumented(template, method, response);
    }
    const largest = await owner.call('GET', `/api/v2/posts/${MAX_ID}`);
    expect(largest.status).toBe(404);
  });

  test('when the body is not JSON, then 415; when it is too large, then 413; both documented', async () => {
    const text = await fetch(`${h.app.url}/api/v2/schedule`, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'text/plain' }, body: 'hello' });
    const textBody = await text.json();
    expect(text.status).toBe(415);
    expectDocumented('/api/v2/schedule', 'POST', { status: 415, body: textBody });
    const big = await owner.call('POST', '/api/v2/schedule', { ...scheduleBody(), content: 'x'.repeat(300_000) });
    expect(big.status).toBe(413);
    expectDocumented('/api/v2/schedule', 'POST', big);
    const missing = await owner.call('POST', '/api/v2/accounts');
    expect(missing.status).toBe(400);
    expectDocumented('/api/v2/accounts', 'POST', missing);
  });
});

describe('undeclared methods', () => {
  test('when a documented path is asked with a method it does not answer, then 405 with Allow, in the Error shape', async () => {
    for (const [method, path, allow] of [
      ['PUT', '/api/v2/posts/1', 'GET, HEAD, OPTIONS'],
      ['PATCH', '/api/v2/schedule/1', 'PUT, DELETE, OPTIONS'],
      ['DELETE', '/api/v2/publish', 'POST, OPTIONS'],
      ['POST', '/health', 'GET, HEAD, OPTIONS'],
      ['PATCH', '/api/v2/accounts', 'POST, GET, HEAD, OPTIONS'],
    ] as const) {
      const response = await owner.call(method, path);
      expect({ method, path, status: response.status, allow: response.headers.get('allow'), code: response.body?.error?.code }).toEqual({ method, path, status: 405, allow, code: 'method_not_allowed' });
    }
  });

  test('when OPTIONS is asked on a documented path, then 204 and Allow lists exactly its methods', async () => {
    const response = await owner.call('OPTIONS', '/api/v2/accounts/1');
    expect(response.status).toBe(204);
    expect(response.headers.get('allow')).toBe('DELETE, OPTIONS');
    const unknown = await owner.call('PUT', '/api/v2/nope');
    expect(unknown.status).toBe(404);
  });
});

describe('documented-valid input is accepted', () => {
  test('when status names several statuses with spaces, or limit is the maximum, then 200', async () => {
    const response = await owner.call('GET', `/api/v2/scheduled?businessId=${owner.businessId}&status=scheduled,%20cancelled&limit=1000`);
    expect(response.status).toBe(200);
    expectDocumented('/api/v2/scheduled', 'GET', response);
  });

  test('when a post uses every per-platform option the document names, then it is accepted', async () => {
    const response = await owner.call('POST', '/api/v2/schedule', scheduleBody({ platformParams: { twitter: {}, facebook: { commentChainAt: 500 } }, thread: { numbering: false }, timezone: 'America/Argentina/Buenos_Aires' }));
    expect(response.status).toBe(201);
    expectDocumented('/api/v2/schedule', 'POST', response);
    await owner.call('DELETE', `/api/v2/schedule/${response.body.id}`);
  });
});

describe('hole 7: bad input is refused with 400 naming the field, never a 500, nothing stored', () => {
  const far = new Date(Date.now() + (MAX_SCHEDULE_AHEAD_DAYS + 1) * 86_400_000).toISOString();
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['scheduledFor in the year 9999', { scheduledFor: '9999-12-31T23:59:59Z' }, 'scheduledFor'],
    [`scheduledFor more than ${MAX_SCHEDULE_AHEAD_DAYS} days ahead`, { scheduledFor: far }, 'scheduledFor'],
    ['NUL in content', { content: 'Hello\u0000world' }, 'content'],
    ['a bell in content', { content: 'Ding\u0007' }, 'content'],
    ['content longer than 25000', { content: 'a'.repeat(25_001) }, 'content'],
    ['a thousand platforms', { platforms: Array.from({ length: 1000 }, () => 'twitter') }, 'platforms'],
    ['businessId beyond int4', { businessId: MAX_ID + 1 }, 'businessId'],
    ['businessId a fraction', { businessId: 1.5 }, 'businessId'],
    ['a 10,000-character time zone', { timezone: 'Europe/'.padEnd(10_000, 'x') }, 'timezone'],
    ['a time zone with NUL', { timezone: 'Europe/Berlin\u0000' }, 'timezone'],
    ['an empty time zone', { timezone: '' }, 'timezone'],
    ['unknown per-platform options', { platformParams: { twitter: { poll: 'yes' } } }, 'platformParams.twitter'],
    ['options for an unknown platform', { platformParams: { myspace: {} } }, 'platformParams'],
    ['an image URL with a control character', { platformParams: { instagram: { imageUrl: 'https://example.com/a\u0001.png' } } }, 'platformParams.instagram.imageUrl'],
    ['an image URL of 3000 characters', { platformParams: { instagram: { imageUrl: `https://example.com/${'a'.repeat(3000)}` } } }, 'platformParams.instagram.imageUrl'],
    ['commentChainAt 0', { platformParams: { facebook: { commentChainAt: 0 } } }, 'platformParams.facebook.commentChainAt'],
  ];
  test.each(cases)('when %s, then 400 names it and nothing is stored', async (_name, patch, path) => {
    const before = await postCount();
    const response = await owner.call('POST', '/api/v2/schedule', scheduleBody(patch));
    expect({ status: response.status, paths: response.body?.error?.details?.map((d: { path: string }) => d.path) }).toEqual({ status: 400, paths: expect.arrayContaining([path]) });
    expectDocumented('/api/v2/schedule', 'POST', response);
    expect(await postCount()).toBe(before);
  });

  test('when a reschedule names the year 9999, then 400 and the post keeps its time', async () => {
    const post = await owner.call('POST', '/api/v2/schedule', scheduleBody());
    const response = await owner.call('PUT', `/api/v2/schedule/${post.body.id}`, { scheduledFor: '9999-01-01T00:00:00+00:00' });
    expect(response.status).toBe(400);
    expect(response.body.error.details[0]).toEqual({ path: 'scheduledFor', message: `must be at most ${MAX_SCHEDULE_AHEAD_DAYS} days ahead` });
    expect((await owner.call('GET', `/api/v2/posts/${post.body.id}`)).body.scheduledFor).toBe(post.body.scheduledFor);
    await owner.call('DELETE', `/api/v2/schedule/${post.body.id}`);
  });

  test('when an account names control characters or oversized tokens, then 400 naming each field and no account is stored', async () => {
    const response = await owner.call('POST', '/api/v2/accounts', {
      businessId: owner.businessId, platform: 'twitter', platformUserId: 'abc\u0000', displayName: 'A\u001bname', accessToken: 'x'.repeat(10_001), refreshToken: 'tok\u0000',
    });
    expect(response.status).toBe(400);
    expect(response.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(['accessToken', 'displayName', 'platformUserId', 'refreshToken']);
    expectDocumented('/api/v2/accounts', 'POST', response);
    const rows = await h.orm.em.getConnection().execute("select count(*)::int as n from social_accounts where platform_user_id like 'abc%'");
    expect(rows[0].n).toBe(0);
  });

  test('when query strings are out of bounds, then 400 naming the parameter', async () => {
    for (const [query, name] of [
      [`businessId=${owner.businessId}&limit=100000`, 'limit'],
      [`businessId=${owner.businessId}&limit=0`, 'limit'],
      [`businessId=${owner.businessId}&limit=`, 'limit'],
      ['businessId=1e3', 'businessId'],
      [`businessId=${MAX_ID + 1}`, 'businessId'],
      [`businessId=${owner.businessId}&status=scheduled,`, 'status'],
      [`businessId=${owner.businessId}&status=${'scheduled,'.repeat(40)}scheduled`, 'status'],
      [`businessId=${owner.businessId}&from=tomorrow`, 'from'],
    ] as const) {
      const response = await owner.call('GET', `/api/v2/scheduled?${query}`);
      expect({ query, status: response.status, path: response.body?.error?.details?.[0]?.path }).toEqual({ query, status: 400, path: name });
    }
    for (const wait of ['31', '-1', 'abc', '', '1e400']) {
      const response = await owner.call('POST', `/api/v2/publish?wait=${wait}`, { businessId: owner.businessId, content: 'never sent', platforms: ['twitter'] });
      expect({ wait, status: response.status, path: response.body?.error?.details?.[0]?.path }).toEqual({ wait, status: 400, path: 'wait' });
    }
  });

  test('when the Idempotency-Key is too long or has spaces, then 400 naming the header and nothing is stored', async () => {
    const before = await postCount();
    for (const key of ['k'.repeat(256), 'has space']) {
      const response = await fetch(`${h.app.url}/api/v2/schedule`, { method: 'POST', headers: { Authorization: `Bearer ${owner.apiKey}`, 'Content-Type': 'application/json', 'Idempotency-Key': key }, body: JSON.stringify(scheduleBody()) });
      const body = (await response.json()) as { error: { details: Array<{ path: string }> } };
      expect({ status: response.status, path: body.error.details[0].path }).toEqual({ status: 400, path: 'Idempotency-Key' });
    }
    expect(await postCount()).toBe(before);
  });
});
