/**
 * The request schemas' bounds (issue #11, hole 7), without a server: what the document calls
 * invalid is refused, naming the field; the edges of every bound are accepted.
 */
import { MAX_ID } from '../../src/domain/limits';
import { buildOpenApiDocument } from '../../src/api/openapi';
import { accountBodySchema, idParamSchema, publishQuerySchema, scheduleBodySchema, scheduledQuerySchema } from '../../src/api/schemas';

const valid = { businessId: 1, content: 'Hello', platforms: ['twitter'], scheduledFor: '2030-01-01T09:00:00+01:00' };
const issuesOf = (result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[] }> } }) =>
  result.success ? [] : result.error!.issues.map((issue) => issue.path.map(String).join('.'));

describe('scheduleBodySchema', () => {
  test('when every field is at its bound, then it is accepted', () => {
    const result = scheduleBodySchema.safeParse({
      ...valid,
      businessId: MAX_ID,
      content: `${'a'.repeat(24_998)}\n\t`,
      platforms: ['twitter', 'linkedin', 'facebook', 'instagram'],
      platformParams: { twitter: {}, linkedin: {}, facebook: { commentChainAt: 63_206 }, instagram: { imageUrl: `https://example.com/${'a'.repeat(2000)}` } },
      timezone: 'America/Argentina/ComodRivadavia',
    });
    expect(issuesOf(result)).toEqual([]);
  });

  test.each([
    ['NUL', 'a\u0000b'],
    ['escape', '\u001b[31mred'],
    ['vertical tab', 'a\u000bb'],
    ['form feed', 'a\u000cb'],
  ])('when content holds a %s, then content is refused', (_name, content) => {
    expect(issuesOf(scheduleBodySchema.safeParse({ ...valid, content }))).toEqual(['content']);
  });

  test.each([
    [{ businessId: MAX_ID + 1 }, 'businessId'],
    [{ businessId: 0 }, 'businessId'],
    [{ content: 'a'.repeat(25_001) }, 'content'],
    [{ content: `${'a'.repeat(24_999)}  ` }, 'content'],
    [{ platforms: ['twitter', 'linkedin', 'facebook', 'instagram', 'twitter'] }, 'platforms'],
    [{ timezone: 'Europe/Berlin\u0000' }, 'timezone'],
    [{ timezone: 'x'.repeat(65) }, 'timezone'],
    [{ timezone: 'Mars/Olympus' }, 'timezone'],
    [{ platformParams: { twitter: { anything: 1 } } }, 'platformParams.twitter'],
    [{ platformParams: { instagram: { imageUrl: 'ftp://example.com/a.png' } } }, 'platformParams.instagram.imageUrl'],
    [{ platformParams: { facebook: { commentChainAt: 1.5 } } }, 'platformParams.facebook.commentChainAt'],
  ])('when %j, then %s is refused', (patch, path) => {
    expect(issuesOf(scheduleBodySchema.safeParse({ ...valid, ...patch }))).toContain(path);
  });
});

describe('ids and query strings', () => {
  test.each(['1', '007', String(MAX_ID)])('when an id is %s, then it is accepted', (raw) => {
    expect(idParamSchema.parse(raw)).toBe(Number(raw));
  });
  test.each(['0', '-1', '1.0', '1e3', ' 1', '0x10', String(MAX_ID + 1), '99999999999', ''])('when an id is %j, then it is refused', (raw) => {
    expect(idParamSchema.safeParse(raw).success).toBe(false);
  });

  test('when wait is a fraction, absent or out of range, then it is parsed or refused', () => {
    expect(publishQuerySchema.parse({ wait: '0.5' }).wait).toBe(0.5);
    expect(publishQuerySchema.parse({}).wait).toBe(10);
    for (const wait of ['', ' ', '31', '-0.1', 'Infinity', '1e400', 'NaN']) expect(publishQuerySchema.safeParse({ wait }).success).toBe(false);
  });

  test('when status lists statuses, then they are parsed; an empty entry or an unknown one is refused', () => {
    expect(scheduledQuerySchema.parse({ businessId: '1', status: 'scheduled, cancelled,scheduled' }).status).toEqual(['scheduled', 'cancelled']);
    expect(scheduledQuerySchema.parse({ businessId: '1' }).limit).toBe(500);
    for (const status of ['', 'scheduled,', ',scheduled', 'sleeping', 'scheduled,,cancelled']) {
      expect(issuesOf(scheduledQuerySchema.safeParse({ businessId: '1', status }))).toEqual(['status']);
    }
    expect(issuesOf(scheduledQuerySchema.safeParse({ businessId: '1', limit: '1001' }))).toEqual(['limit']);
  });
});

describe('accountBodySchema', () => {
  test('when tokens or names hold control characters or are too long, then each is named', () => {
    const result = accountBodySchema.safeParse({ businessId: 1, platform: 'twitter', platformUserId: 'u\u0000', displayName: 'x'.repeat(201), accessToken: 't\u0007', refreshToken: 'r'.repeat(10_001) });
    expect(issuesOf(result).sort()).toEqual(['accessToken', 'displayName', 'platformUserId', 'refreshToken']);
  });
});

describe('the document', () => {
  test('when it is built, then no reference points into zod\'s __shared definitions', () => {
    const text = JSON.stringify(buildOpenApiDocument());
    expect(text).not.toContain('__shared');
    for (const [, id] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      expect((buildOpenApiDocument().components as { schemas: Record<string, unknown> }).schemas[id!]).toBeDefined();
    }
  });
});
