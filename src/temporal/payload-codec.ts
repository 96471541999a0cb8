/**
 * Encryption of everything Herald hands to Temporal: workflow inputs and results, activity inputs
 * and results, signals, queries, memos, summaries (user metadata) and, with the failure converter
 * of ./failure-converter, failure messages and stack traces. Search attributes do not pass through
 * a codec: they hold ids, platforms, times and statuses only, never post text.
 *
 * AES-256-GCM with key ids, like the token cipher: the first key encrypts, every configured key
 * decrypts, so keys rotate by prepending a new one and dropping the old one once no open workflow
 * (and no history you still want to read) uses it.
 *
 * An encrypted payload: metadata `encoding: binary/encrypted`, `encryption-key-id: <id>` and, when
 * the SDK names the owning workflow, `encryption-workflow-id: <workflow id>`; data `iv(12) | sealed
 * | tag(16)` where the sealed plaintext is the whole original Payload proto (its metadata too). The
 * key id and the workflow id are authenticated (AAD): moving a payload to another workflow's id to
 * get past the codec endpoint's tenant check fails decryption. Payloads without that encoding
 * (histories recorded before encryption) pass through decode unchanged.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Config, TokenKey } from '../config';
import { tokenKeysFor } from '../security/dev-secrets';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const WORKFLOW_ID_METADATA = 'encryption-workflow-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class PayloadDecryptionError extends Error {}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  constructor(private readonly keys: TokenKey[]) {
    if (keys.length === 0) throw new Error('the payload codec needs at least one key');
    for (const { id, key } of keys) {
      if (key.length !== 32) throw new Error(`payload key "${id}" must be 32 bytes`);
    }
    this.byId = new Map(keys.map(({ id, key }) => [id, key]));
  }

  /** The id of the key that encrypts. */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? payload : this.encrypt(payload, ownerOf(context))));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private encrypt(payload: Payload, workflowId: string | undefined): Payload {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(id, workflowId));
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    const metadata: Record<string, Uint8Array> = {
      encoding: encoder.encode(ENCRYPTED_ENCODING),
      [KEY_ID_METADATA]: encoder.encode(id),
    };
    if (workflowId !== undefined) metadata[WORKFLOW_ID_METADATA] = encoder.encode(workflowId);
    return { metadata, data: new Uint8Array(sealed) };
  }

  private decrypt(payload: Payload): Payload {
    const keyId = metadataText(payload, KEY_ID_METADATA);
    if (!keyId) throw new PayloadDecryptionError('encrypted payload names no key id');
    const key = this.byId.get(keyId);
    if (!key) throw new PayloadDecryptionError(`payload was encrypted with key "${keyId}", which is not configured`);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError('encrypted payload is too short');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(keyId, metadataText(payload, WORKFLOW_ID_METADATA)));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError('encrypted payload failed authentication (tampered, or a different key with the same id)');
    }
    const decoded = temporal.api.common.v1.Payload.decode(plain);
    return { metadata: { ...decoded.metadata }, data: decoded.data };
  }
}

export function isEncrypted(payload: Payload): boolean {
  return metadataText(payload, 'encoding') === ENCRYPTED_ENCODING;
}

/** The workflow an encrypted payload is bound to (authenticated on decryption), if any. */
export function boundWorkflowId(payload: Payload): string | undefined {
  return isEncrypted(payload) ? metadataText(payload, WORKFLOW_ID_METADATA) : undefined;
}

function metadataText(payload: Payload, name: string): string | undefined {
  const value = payload.metadata?.[name];
  return value ? decoder.decode(value) : undefined;
}

function ownerOf(context: SerializationContext | undefined): string | undefined {
  return context?.workflowId || undefined;
}

function additionalData(keyId: string, workflowId: string | undefined): Buffer {
  return Buffer.from(`herald-payload-v1\n${keyId}\n${workflowId ?? ''}`);
}

/**
 * Keys derived from the token keys (HKDF-SHA256, a label of its own): the development/test
 * default when TEMPORAL_PAYLOAD_KEYS is unset, so `npm start`, a `--worker` process and a client
 * given the same TOKEN_ENCRYPTION_KEYS (or the same generated dev secret) agree with no more setup.
 * Rotating the token keys rotates these too: each token key yields the payload key of the same position.
 */
export function derivePayloadKeys(tokenKeys: TokenKey[]): TokenKey[] {
  return tokenKeys.map(({ id, key }) => ({
    id: `${id}-payload`,
    key: Buffer.from(hkdfSync('sha256', key, Buffer.from('herald'), Buffer.from('temporal payload codec v1'), 32)),
  }));
}

/** The JSON form the Temporal Web UI and `temporal` CLI use: `{ metadata: { k: base64 }, data: base64 }`. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export function payloadFromJson(json: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(json.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(json.data ?? '', 'base64')),
  };
}

export function payloadToJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

/** Loaded by the SDK with `require()` (client, worker) and bundled into the workflow sandbox. */
export const failureConverterPath = require.resolve('./failure-converter');

/** The data converter of every Herald client and worker: one encryption codec, encrypted failures. */
export function heraldDataConverter(keys: TokenKey[]): DataConverter & { payloadCodecs: [AesGcmPayloadCodec] } {
  return { payloadCodecs: [new AesGcmPayloadCodec(keys)], failureConverterPath };
}

/**
 * TEMPORAL_PAYLOAD_KEYS when set; outside production, keys derived from the token keys (which are
 * themselves generated into DEV_SECRETS_FILE when unset). Production requires its own keys: the
 * payload keys and the token keys then rotate independently, and one leaked key does not open both.
 */
export function payloadKeysFor(config: Config): TokenKey[] {
  if (config.temporal.payloadKeys) return config.temporal.payloadKeys;
  if (config.env === 'production') throw new Error('TEMPORAL_PAYLOAD_KEYS is required in production');
  return derivePayloadKeys(tokenKeysFor(config));
}

/**
 * A copy of a proto-JSON document (a history from `temporal workflow show --output json` or the Web
 * UI's download) with every encrypted payload replaced by its plain form: what the codec endpoint
 * does for the UI, for tools and tests that read whole histories.
 */
export async function decodePayloadsInJson(codec: PayloadCodec, node: unknown): Promise<unknown> {
  if (Array.isArray(node)) return Promise.all(node.map((child) => decodePayloadsInJson(codec, child)));
  if (!node || typeof node !== 'object') return node;
  const record = node as Record<string, unknown>;
  const encoding = (record.metadata as Record<string, unknown> | undefined)?.encoding;
  if (typeof encoding === 'string' && Buffer.from(encoding, 'base64').toString('utf8') === ENCRYPTED_ENCODING) {
    const [decoded] = await codec.decode([payloadFromJson(record as JsonPayload)]);
    return payloadToJson(decoded!);
  }
  const entries = await Promise.all(Object.entries(record).map(async ([key, value]) => [key, await decodePayloadsInJson(codec, value)] as const));
  return Object.fromEntries(entries);
}
