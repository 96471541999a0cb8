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

/** The post and account columns a publish attempt needs, read with its ledger row (no entity hydration). */
export interface PublishContext {
  row: LedgerRow;
  /** Undefined when the post row is gone. */
  post?: { scheduledFor: Date; platformParams: PlatformParamsByPlatform };
  /** Undefined when the account row is gone. */
  account?: AccountRow;
  /** Set when this read also claimed the send (see `readAndClaim`). */
  claim?: Claim;
  /** The row's fence columns as read, for `unclaim` (timestamps as Postgres text: no precision lost). */
  claimedFrom?: { claimToken: string | null; sendStartedAt: string | null; sendDeadline: string | null; firstSentAtWasNull: boolean };
}

type PlatformParamsByPlatform = Record<string, Record<string, unknown> | undefined>;

export interface AccountRow {
  id: number;
  businessId: number;
  platform: Platform;
  platformUserId: string;
  displayName: string | null;
  accessTokenEnc: string;
  refreshTokenEnc: string | null;
  isActive: boolean;
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

  /**
   * One round trip for an attempt: the ledger row, the post's parameters and the account, and — when
   * `claim` is given and the row needs no wait and no reconciliation (no id, no deadline in the
   * future as of this read, no earlier send that may have posted unless a multi-step publish is under
   * way), the post exists and the account is active — the claim itself, with exactly the conditions of
   * `claim()` (`seen` being the row as this statement read it). `context.claim` is unset when the
   * claim was not taken; the caller then decides as after `read()`.
   */
  async readAndClaim(key: PartKey, accountId: number, claim?: { token: string; windowMs: number }): Promise<PublishContext | undefined> {
    const rows: Raw[] = await this.connection.execute(
      `with cur as (
         select ${COLUMNS}, send_started_at::text as send_started_at_text, send_deadline::text as send_deadline_text
         from post_parts where post_id = ? and platform = ? and part_index = ?
       ), post as (
         select scheduled_for, platform_params from posts where id = ?
       ), account as (
         select id, business_id, platform, platform_user_id, display_name, access_token_enc, refresh_token_enc, is_active
         from social_accounts where id = ?
       ), claimed as (
         update post_parts pp set claim_token = ?, send_started_at = clock_timestamp(),
           first_sent_at = coalesce(pp.first_sent_at, clock_timestamp()),
           send_deadline = clock_timestamp() + (? * interval '1 millisecond'), attempts = pp.attempts + 1
         from cur
         where ?::boolean and pp.id = cur.id
           and cur.platform_post_id is null and (cur.send_deadline is null or cur.send_deadline <= cur.db_now)
           and (cur.send_started_at is null or (cur.progress is not null and cur.progress <> 'null'::jsonb))
           and exists (select 1 from post) and exists (select 1 from account where account.is_active)
           and pp.platform_post_id is null
           and (pp.send_deadline is null or pp.send_deadline <= clock_timestamp())
           and pp.claim_token is not distinct from cur.claim_token
         returning pp.first_sent_at as claimed_first_sent_at, pp.attempts as claimed_attempts
       )
       select cur.*, post.scheduled_for as post_scheduled_for, post.platform_params as post_platform_params,
         account.id as a_id, account.business_id as a_business_id, account.platform as a_platform,
         account.platform_user_id as a_platform_user_id, account.display_name as a_display_name,
         account.access_token_enc as a_access_token_enc, account.refresh_token_enc as a_refresh_token_enc,
         account.is_active as a_is_active, claimed.claimed_first_sent_at, claimed.claimed_attempts
       from cur left join post on true left join account on true left join claimed on true`,
      [key.postId, key.platform, key.partIndex, key.postId, accountId, claim?.token ?? null, claim?.windowMs ?? 0, claim !== undefined],
    );
    const raw = rows[0];
    if (!raw) return undefined;
    const context: PublishContext = { row: toRow(raw) };
    if (raw.post_scheduled_for !== null && raw.post_scheduled_for !== undefined) {
      context.post = { scheduledFor: asDate(raw.post_scheduled_for)!, platformParams: (raw.post_platform_params ?? {}) as PlatformParamsByPlatform };
    }
    if (raw.a_id !== null && raw.a_id !== undefined) {
      context.account = {
        id: Number(raw.a_id),
        businessId: Number(raw.a_business_id),
        platform: raw.a_platform as Platform,
        platformUserId: String(raw.a_platform_user_id),
        displayName: (raw.a_display_name as string | null) ?? null,
        accessTokenEnc: String(raw.a_access_token_enc),
        refreshTokenEnc: (raw.a_refresh_token_enc as string | null) ?? null,
        isActive: Boolean(raw.a_is_active),
      };
    }
    if (claim && raw.claimed_attempts !== null && raw.claimed_attempts !== undefined) {
      context.claim = { token: claim.token, firstSentAt: asDate(raw.claimed_first_sent_at)!, attempts: Number(raw.claimed_attempts) };
      context.claimedFrom = {
        claimToken: context.row.claimToken,
        sendStartedAt: (raw.send_started_at_text as string | null) ?? null,
        sendDeadline: (raw.send_deadline_text as string | null) ?? null,
        firstSentAtWasNull: context.row.firstSentAt === null,
      };
    }
    return context;
  }

  /**
   * Undoes a claim taken by `readAndClaim` when the attempt stopped before any request (e.g. the
   * stored token cannot be decrypted): the row is as it was read — no first send, no attempt, the
   * previous claim token, start and deadline to the microsecond. Only while the row still holds this claim.
   */
  async unclaim(context: PublishContext): Promise<void> {
    const before = context.claimedFrom;
    if (!context.claim || !before) return;
    await this.connection.execute(
      `update post_parts set claim_token = ?, send_started_at = ?::timestamptz, send_deadline = ?::timestamptz,
         first_sent_at = case when ? then null else first_sent_at end, attempts = attempts - 1
       where id = ? and claim_token = ?`,
      [before.claimToken, before.sendStartedAt, before.sendDeadline, before.firstSentAtWasNull, context.row.id, context.claim.token],
    );
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
