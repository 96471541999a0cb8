/**
 * Where media bytes live so that every API and worker instance can read them (docs ARCHITECTURE:
 * "never a single machine's disk"). One interface; the embedded default keeps them in Postgres, in
 * ~1 MiB chunks, so Herald needs no new service. An object store can stand behind the same
 * interface later.
 */
import { Readable } from 'node:stream';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { MediaFacts, MediaKind } from './inspect';

/** A stored media: the facts its bytes gave (src/media/inspect.ts; the format is what `mime` names), and whose it is. */
export interface MediaRecord extends Omit<MediaFacts, 'format'> {
  id: number;
  businessId: number;
  altText: string | null;
  uploadedBy: number | null;
  createdAt: Date;
}

export interface PutMedia {
  businessId: number;
  uploadedBy: number | null;
  altText: string | null;
  /** Bytes beyond this fail the put (the caller's inspector refuses per kind sooner). */
  maxBytes: number;
  /**
   * Called once every byte is stored, before anything becomes visible: the facts of the bytes, or
   * a throw that discards them.
   */
  describe(): Promise<MediaFacts>;
}

/** An inclusive byte range, as HTTP's Range names it. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface MediaStorage {
  /** Stores the stream; the record and its bytes appear together, or not at all. */
  put(body: Readable, media: PutMedia): Promise<MediaRecord>;
  get(id: number): Promise<MediaRecord | undefined>;
  /** The bytes of `range` (default: all) as a stream; it fails if the media is deleted while read. */
  read(record: MediaRecord, range?: ByteRange): Readable;
  setAltText(id: number, altText: string | null): Promise<MediaRecord | undefined>;
  /** True when it existed. */
  delete(id: number): Promise<boolean>;
}

export class MediaTooLargeForStorage extends Error {}

/** 1 MiB: big enough that a 500 MB video is 500 rows, small enough that a range read fetches little. */
export const CHUNK_BYTES = 1024 * 1024;
/** Chunks fetched per query when streaming a read. */
const CHUNKS_PER_READ = 4;

type Row = Record<string, unknown>;

const COLUMNS = `id, business_id, kind, mime, bytes, sha256, width, height, frame_count, duration_ms, codecs, alt_text, uploaded_by, created_at, chunk_bytes`;

function toRecord(row: Row): MediaRecord & { chunkBytes: number } {
  const nullableNumber = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    id: Number(row.id),
    businessId: Number(row.business_id),
    kind: row.kind as MediaKind,
    mime: String(row.mime),
    bytes: Number(row.bytes),
    sha256: String(row.sha256),
    width: nullableNumber(row.width),
    height: nullableNumber(row.height),
    frameCount: nullableNumber(row.frame_count),
    durationMs: nullableNumber(row.duration_ms),
    codecs: (row.codecs as string[] | null) ?? [],
    altText: (row.alt_text as string | null) ?? null,
    uploadedBy: nullableNumber(row.uploaded_by),
    createdAt: new Date(row.created_at as string),
    chunkBytes: Number(row.chunk_bytes),
  };
}

/**
 * `media` rows and their `media_chunks`, written in one transaction: the row is inserted first (the
 * chunks reference it), the chunks as the bytes arrive, the facts last; a refusal or a dropped
 * upload rolls all of it back, so no reader ever sees a half-written media.
 */
export class PostgresMediaStorage implements MediaStorage {
  constructor(private readonly orm: MikroORM) {}

  async put(body: Readable, media: PutMedia): Promise<MediaRecord> {
    return this.orm.em.fork().transactional(async (em) => {
      const run = (sql: string, params: unknown[]) => em.getConnection().execute(sql, params, 'all', em.getTransactionContext()) as Promise<Row[]>;
      const [inserted] = await run(
        `insert into media (business_id, kind, mime, bytes, sha256, alt_text, uploaded_by, chunk_bytes) values (?, 'image', 'application/octet-stream', 0, '', ?, ?, ?) returning id`,
        [media.businessId, media.altText, media.uploadedBy, CHUNK_BYTES],
      );
      const id = Number(inserted!.id);
      let seq = 0;
      let total = 0;
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const writeChunk = async (data: Buffer) => {
        await run('insert into media_chunks (media_id, seq, data) values (?, ?, ?)', [id, seq++, data]);
      };
      for await (const piece of body as AsyncIterable<Buffer>) {
        total += piece.length;
        if (total > media.maxBytes) throw new MediaTooLargeForStorage(`more than ${media.maxBytes} bytes`);
        pending.push(piece);
        pendingBytes += piece.length;
        while (pendingBytes >= CHUNK_BYTES) {
          const all = Buffer.concat(pending);
          await writeChunk(all.subarray(0, CHUNK_BYTES));
          pending = [all.subarray(CHUNK_BYTES)];
          pendingBytes = all.length - CHUNK_BYTES;
        }
      }
      if (pendingBytes > 0) await writeChunk(Buffer.concat(pending));
      const facts = await media.describe();
      if (facts.bytes !== total) throw new Error(`stored ${total} bytes, inspected ${facts.bytes}`);
      const [row] = await run(
        `update media set kind = ?, mime = ?, bytes = ?, sha256 = ?, width = ?, height = ?, frame_count = ?, duration_ms = ?, codecs = ?::text[] where id = ? returning ${COLUMNS}`,
        [facts.kind, facts.mime, facts.bytes, facts.sha256, facts.width, facts.height, facts.frameCount, facts.durationMs, `{${facts.codecs.map((codec) => `"${codec.replace(/["\\]/g, '\\$&')}"`).join(',')}}`, id],
      );
      return publicRecord(toRecord(row!));
    });
  }

  async get(id: number): Promise<MediaRecord | undefined> {
    const rows = (await this.em().getConnection().execute(`select ${COLUMNS} from media where id = ?`, [id])) as Row[];
    return rows[0] ? publicRecord(toRecord(rows[0])) : undefined;
  }

  read(record: MediaRecord, range: ByteRange = { start: 0, end: record.bytes - 1 }): Readable {
    const em = this.em();
    const chunkBytes = CHUNK_BYTES;
    async function* chunks(): AsyncGenerator<Buffer> {
      if (record.bytes === 0 || range.end < range.start) return;
      const first = Math.floor(range.start / chunkBytes);
      const last = Math.floor(range.end / chunkBytes);
      for (let from = first; from <= last; from += CHUNKS_PER_READ) {
        const to = Math.min(last, from + CHUNKS_PER_READ - 1);
        const rows = (await em.getConnection().execute('select seq, data from media_chunks where media_id = ? and seq between ? and ? order by seq', [record.id, from, to])) as Row[];
        if (rows.length !== to - from + 1) throw new Error(`media ${record.id} lost chunks while being read (deleted?)`);
        for (const row of rows) {
          const seq = Number(row.seq);
          const data = row.data as Buffer;
          const offset = seq * chunkBytes;
          yield data.subarray(Math.max(0, range.start - offset), Math.min(data.length, range.end - offset + 1));
        }
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async setAltText(id: number, altText: string | null): Promise<MediaRecord | undefined> {
    const rows = (await this.em().getConnection().execute(`update media set alt_text = ? where id = ? returning ${COLUMNS}`, [altText, id])) as Row[];
    return rows[0] ? publicRecord(toRecord(rows[0])) : undefined;
  }

  async delete(id: number): Promise<boolean> {
    // The chunks go with the row (on delete cascade), in the same statement.
    const rows = (await this.em().getConnection().execute('delete from media where id = ? returning id', [id])) as Row[];
    return rows.length > 0;
  }

  private em(): EntityManager {
    return this.orm.em.fork() as EntityManager;
  }
}

function publicRecord(record: MediaRecord & { chunkBytes: number }): MediaRecord {
  const { chunkBytes, ...rest } = record;
  // Every chunk so far is CHUNK_BYTES; a different size in a row would need its own read arithmetic.
  if (chunkBytes !== CHUNK_BYTES) throw new Error(`media ${record.id} was stored in chunks of ${chunkBytes} bytes, this build reads ${CHUNK_BYTES}`);
  return rest;
}
