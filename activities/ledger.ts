/**
 * The part ledger's statements (`post_parts`), each one conditional so that two attempts of one
 * part can never both send, and one platform post can never be recorded for two parts
 * (docs/EXACTLY-ONCE.md). Times that fence attempts are the database's (`clock_timestamp()`), so
 * workers whose clocks disagree still agree on who may send.
 */
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Platform } from '../src/domain/types';

type Connection = ReturnType<MikroORM['em']['getConnection']>;

export interface PartKey {
  postId: number;
  platform: Platform;
  partIndex: number;
}

export interface LedgerRow {
  id: number;
  postId: number;
  platform: Platform;
  partIndex: number;
  accountId: number | null;
  text: string;
  platformPostId: string | null;
  url: string | null;
  publishedAt: Date | null;
  sendStartedAt: Date | null;
  firstSentAt: Date | null;
  claimToken: string | null;
  sendDeadline: Date | null;
  attempts: number;
  platformFailures: number;
  progress: Record<string, string> | null;
  /** The database's clock when the row was read. */
  dbNow: Date;
}

export interface Claim {
  token: string;
  firstSentAt: Date;
  attempts: number;
}

export interface PublishedRecord {
  platformPostId: string;
  url: string | null;
  publishedAt: Date;
}

const COLUMNS = `id, post_id, platform, part_index, account_id, text, platform_post_id, url, published_at, send_started_at,
  first_sent_at, claim_token, send_deadline, attempts, platform_failures, progress, clock_timestamp() as db_now`;

type Raw = Record<string, unknown>;

const asDate = (value: unknown): Date | null => (value === null || value === undefined ? null : new Date(value as string));

function toRow(raw: Raw): LedgerRow {
  return {
    id: Number(raw.id),
    postId: Number(raw.post_id),
    platform: raw.platform as Platform,
    partIndex: Number(raw.part_index),
    accountId: raw.account_id === null ? null : Number(raw.account_id),
    text: String(raw.text),
    platformPostId: (raw.platform_post_id as string | null) ?? null,
    url: (raw.url as string | null) ?? null,
    publishedAt: asDate(raw.published_at),
    sendStartedAt: asDate(raw.send_started_at),
    firstSentAt: asDate(raw.first_sent_at),
    claimToken: (raw.claim_token as string | null) ?? null,
    sendDeadline: asDate(raw.send_deadline),
    attempts: Number(raw.attempts),
    platformFailures: Number(raw.platform_failures),
    progress: (raw.progress as Record<string, string> | null) ?? null,
    dbNow: asDate(raw.db_now)!,
  };
}

/** A unique-key violation: the platform post is already recorded for another part. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

export class PartLedger {
  constructor(private readonly orm: MikroORM) {}

  private get connection(): Connection {
    return this.orm.em.getConnection();
  }

  async read(key: PartKey): Promise<LedgerRow | undefined> {
    const rows: Raw[] = await this.connection.execute(
      `select ${COLUMNS} from post_parts where post_id = ? and platform = ? and part_index = ?`,
      [key.postId, key.platform, key.partIndex],
    );
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  /**
   * Takes the send for `token`: only while nothing is recorded, no other attempt's deadline is in the
   * future, and nobody claimed the row since `seen` was read. Undefined when someone else got there first.
   */
  async claim(seen: LedgerRow, token: string, windowMs: number): Promise<Claim | undefined> {
    const rows: Raw[] = await this.connection.execute(
      `update post_parts set claim_token = ?, send_started_at = clock_timestamp(),
         first_sent_at = coalesce(first_sent_at, clock_timestamp()),
         send_deadline = clock_timestamp() + (? * interval '1 millisecond'), attempts = attempts + 1
       where id = ? and platform_post_id is null
         and (send_deadline is null or send_deadline <= clock_timestamp())
         and claim_token is not distinct from ?
       returning first_sent_at, attempts`,
      [token, windowMs, seen.id, seen.claimToken],
    );
    const row = rows[0];
    return row ? { token, firstSentAt: asDate(row.first_sent_at)!, attempts: Number(row.attempts) } : undefined;
  }

  /**
   * The send is over. `settleMs` > 0 after a timeout or a dropped connection: the platform may
   * still act on the request for that long. `mayHavePosted` false forgets the send altogether.
   */
  async release(rowId: number, token: string, outcome: { settleMs: number; mayHavePosted: boolean; error?: string; platformFailure: boolean }): Promise<void> {
    await this.connection.execute(
      `update post_parts set send_deadline = clock_timestamp() + (? * interval '1 millisecond'),
         send_started_at = case when ? then send_started_at else null end,
         last_error = coalesce(?, last_error), platform_failures = platform_failures + ?
       where id = ? and claim_token = ?`,
      [outcome.settleMs, outcome.mayHavePosted, outcome.error ?? null, outcome.platformFailure ? 1 : 0, rowId, token],
    );
  }

  /** A failure before any send (a reconciliation that could not read the platform). */
  async countPlatformFailure(rowId: number, error: string): Promise<number> {
    const rows: Raw[] = await this.connection.execute(
      `update post_parts set platform_failures = platform_failures + 1, last_error = ? where id = ? returning platform_failures`,
      [error, rowId],
    );
    return Number(rows[0]?.platform_failures ?? 0);
  }

  /** A multi-step publish advanced: keep its progress, release the send (nothing is published yet). */
  async saveProgress(rowId: number, token: string, progress: Record<string, string>): Promise<void> {
    await this.connection.execute(
      `update post_parts set progress = ?::jsonb, send_started_at = null, send_deadline = clock_timestamp()
       where id = ? and claim_token = ?`,
      [JSON.stringify(progress), rowId, token],
    );
  }

  /**
   * Records the platform's id. True when the row now holds it (also when it already did); false when
   * the row holds another id. Throws a unique violation when another part or post holds this id.
   */
  async recordPublished(key: PartKey, record: PublishedRecord): Promise<boolean> {
    const rows: Raw[] = await this.connection.execute(
      `update post_parts set platform_post_id = ?, url = coalesce(?, url), published_at = coalesce(published_at, ?),
         last_error = null, send_deadline = null
       where post_id = ? and platform = ? and part_index = ? and (platform_post_id is null or platform_post_id = ?)
       returning id`,
      [record.platformPostId, record.url, record.publishedAt, key.postId, key.platform, key.partIndex, record.platformPostId],
    );
    return rows.length > 0;
  }

  /** Whether another part (of this post or any other) of the same account holds this platform id. */
  async heldByAnotherPart(row: LedgerRow, platformPostId: string): Promise<boolean> {
    const rows: Raw[] = await this.connection.execute(
      `select 1 from post_parts where platform = ? and account_id is not distinct from ? and platform_post_id = ? and id <> ? limit 1`,
      [row.platform, row.accountId, platformPostId, row.id],
    );
    return rows.length > 0;
  }
}
