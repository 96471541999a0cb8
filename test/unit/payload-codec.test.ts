import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { parseConfig, type Config } from '../../src/config';
import {
  AesGcmPayloadCodec,
  ENCRYPTED_ENCODING,
  PayloadDecryptionError,
  boundWorkflowId,
  derivePayloadKeys,
  isEncrypted,
  payloadFromJson,
  payloadKeysFor,
  payloadToJson,
} from '../../src/temporal/payload-codec';

const key = (id: string) => ({ id, key: randomBytes(32) });
const text = (payload: Payload) => Buffer.from(payload.data!).toString('utf8');
const meta = (payload: Payload, name: string) => (payload.metadata?.[name] ? Buffer.from(payload.metadata[name]!).toString('utf8') : undefined);
const json = (value: unknown) => defaultPayloadConverter.toPayload(value);
const context = { type: 'workflow' as const, namespace: 'default', workflowId: 'post-42' };

describe('AesGcmPayloadCodec', () => {
  const k1 = key('k1');

  test('when a payload is encoded and decoded, then it comes back whole and the wire form hides it', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const original = json({ text: 'Launch day at Acme, secret until noon', postId: 42 });
    const [encoded] = await codec.encode([original], context);
    expect(isEncrypted(encoded!)).toBe(true);
    expect(meta(encoded!, 'encoding')).toBe(ENCRYPTED_ENCODING);
    expect(meta(encoded!, 'encryption-key-id')).toBe('k1');
    expect(boundWorkflowId(encoded!)).toBe('post-42');
    expect(text(encoded!)).not.toContain('Launch day');
    expect(Buffer.from(encoded!.data!).toString('base64')).not.toContain(Buffer.from('Launch day').toString('base64'));
    // The original's metadata (json/plain) is inside the ciphertext, not beside it.
    expect(Object.keys(encoded!.metadata!).sort()).toEqual(['encoding', 'encryption-key-id', 'encryption-workflow-id']);

    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ text: 'Launch day at Acme, secret until noon', postId: 42 });
    expect(meta(decoded!, 'encoding')).toBe('json/plain');
  });

  test('when the same value is encoded twice, then the ciphertexts differ (fresh IV)', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [a, b] = await codec.encode([json('same'), json('same')]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
    expect(boundWorkflowId(a!)).toBeUndefined();
  });

  test('when keys rotate, then old payloads still decode and new ones use the new key', async () => {
    const old = new AesGcmPayloadCodec([k1]);
    const [sealedWithOld] = await old.encode([json('from last year')], context);
    const k2 = key('k2');
    const rotated = new AesGcmPayloadCodec([k2, k1]);
    expect(rotated.currentKeyId).toBe('k2');
    const [sealedWithNew] = await rotated.encode([json('from today')], context);
    expect(meta(sealedWithNew!, 'encryption-key-id')).toBe('k2');
    const decoded = await rotated.decode([sealedWithOld!, sealedWithNew!]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual(['from last year', 'from today']);

    // Once the old key is dropped, its payloads are refused with a message naming the key.
    await expect(new AesGcmPayloadCodec([k2]).decode([sealedWithOld!])).rejects.toThrow(/key "k1", which is not configured/);
  });

  test('when the ciphertext is tampered with, then decoding fails', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [encoded] = await codec.encode([json({ text: 'do not touch' })], context);
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 0x01;
    await expect(codec.decode([{ ...encoded!, data: new Uint8Array(data) }])).rejects.toThrow(PayloadDecryptionError);
  });

  test('when the owning workflow id is swapped, then decoding fails (it is authenticated)', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [encoded] = await codec.encode([json('bound to post-42')], context);
    const moved = { ...encoded!, metadata: { ...encoded!.metadata, 'encryption-workflow-id': new TextEncoder().encode('post-7') } };
    await expect(codec.decode([moved])).rejects.toThrow(PayloadDecryptionError);
  });

  test('when a different key has the same id, then decoding fails', async () => {
    const [encoded] = await new AesGcmPayloadCodec([k1]).encode([json('x')]);
    await expect(new AesGcmPayloadCodec([key('k1')]).decode([encoded!])).rejects.toThrow(/failed authentication/);
  });

  test('when a payload is not encrypted (recorded before encryption), then decode passes it through unchanged', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const plain = json({ postId: 1 });
    const binary: Payload = { metadata: { encoding: new TextEncoder().encode('binary/null') } };
    const [a, b] = await codec.decode([plain, binary]);
    expect(a).toBe(plain);
    expect(b).toBe(binary);
  });

  test('when a payload is already encrypted, then encode leaves it alone (no double encryption)', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const [once] = await codec.encode([json('once')]);
    const [twice] = await codec.encode([once!]);
    expect(twice).toBe(once);
  });

  test('when a key is not 32 bytes or there is none, then the codec refuses to start', () => {
    expect(() => new AesGcmPayloadCodec([])).toThrow(/at least one key/);
    expect(() => new AesGcmPayloadCodec([{ id: 'short', key: randomBytes(16) }])).toThrow(/32 bytes/);
  });
});

describe('payload keys', () => {
  const tokenKey = key('t1');
  const config = (overrides: Partial<Config['temporal']> & { env?: Config['env'] }) =>
    ({ env: overrides.env ?? 'test', tokenKeys: [tokenKey], devSecretsFile: '/nonexistent/dev-secrets.json', temporal: { ...overrides } }) as unknown as Config;

  test('when TEMPORAL_PAYLOAD_KEYS is set, then those keys are used', () => {
    const payloadKeys = [key('p2'), key('p1')];
    expect(payloadKeysFor(config({ payloadKeys }))).toBe(payloadKeys);
  });

  test('when unset outside production, then keys are derived from the token keys: stable, distinct from them', () => {
    const [derived] = payloadKeysFor(config({}));
    expect(derived!.id).toBe('t1-payload');
    expect(derived!.key).toHaveLength(32);
    expect(derived!.key.equals(tokenKey.key)).toBe(false);
    expect(derivePayloadKeys([tokenKey])[0]!.key.equals(derived!.key)).toBe(true);
  });

  test('when unset in production, then it refuses to start', () => {
    expect(() => payloadKeysFor(config({ env: 'production' }))).toThrow(/TEMPORAL_PAYLOAD_KEYS is required in production/);
  });
});

describe('JSON form of payloads (Web UI, CLI)', () => {
  test('when converted to JSON and back, then the payload is the same', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const [encoded] = await codec.encode([json({ hello: 'world' })], context);
    const wire = payloadToJson(encoded!);
    expect(wire.metadata!.encoding).toBe(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));
    const [decoded] = await codec.decode([payloadFromJson(wire)]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual({ hello: 'world' });
  });
});

describe('codec configuration', () => {
  const entry = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

  test('when TEMPORAL_PAYLOAD_KEYS lists two keys, then both are parsed in order (the first encrypts)', () => {
    const config = parseConfig({ TEMPORAL_PAYLOAD_KEYS: `${entry('p2')},${entry('p1')}` });
    expect(config.temporal.payloadKeys!.map((k) => k.id)).toEqual(['p2', 'p1']);
  });

  test('when TEMPORAL_PAYLOAD_KEYS is malformed, then the error names it', () => {
    expect(() => parseConfig({ TEMPORAL_PAYLOAD_KEYS: 'p1:tooshort' })).toThrow(/TEMPORAL_PAYLOAD_KEYS: /);
  });

  test('when no codec origins are configured, then the dev Web UI on localhost and 127.0.0.1 is allowed', () => {
    expect(parseConfig({}).temporal.codec.corsOrigins).toEqual(['http://localhost:8233', 'http://127.0.0.1:8233']);
    expect(parseConfig({ TEMPORAL_DEV_UI_PORT: '9000', TEMPORAL_WEB_UI_URL: 'https://temporal.example.com/ui' }).temporal.codec.corsOrigins).toEqual([
      'http://localhost:9000',
      'http://127.0.0.1:9000',
      'https://temporal.example.com',
    ]);
    expect(parseConfig({ TEMPORAL_CODEC_CORS_ORIGINS: 'https://a.example/, https://b.example' }).temporal.codec.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });
});
