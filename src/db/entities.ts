/**
 * Entities, declared with EntitySchema (no decorators, no reflection): the schema itself lives in
 * the hand-written migrations; these definitions must match them.
 */
import { EntitySchema, OptionalProps } from '@mikro-orm/core';
import type { Platform, PostStatus, TargetStatus, FailureClass, ThreadOptions } from '../domain/types';

export class User {
  [OptionalProps]?: 'createdAt';
  id!: number;
  email!: string;
  createdAt: Date = new Date();
}

export class Business {
  [OptionalProps]?: 'timezone' | 'createdAt';
  id!: number;
  name!: string;
  timezone = 'UTC';
  createdAt: Date = new Date();
}

export class Membership {
  [OptionalProps]?: 'role' | 'createdAt';
  id!: number;
  userId!: number;
  businessId!: number;
  role = 'owner';
  createdAt: Date = new Date();
}

export class ApiKey {
  [OptionalProps]?: 'createdAt';
  id!: number;
  userId!: number;
  /** What the key is for ("CI", "laptop"), to tell keys apart in a list. */
  name!: string;
  /** sha256 of the key; the plain key is shown once, at creation (or rotation). Never serialized. */
  keyHash!: string;
  /** The first characters of the key, to tell keys apart in a list. */
  prefix!: string;
  createdAt: Date = new Date();
  /** After this the key answers 401; null: it does not expire. */
  expiresAt?: Date | null;
  /** Written at most once a minute per key (src/api/auth.ts). */
  lastUsedAt?: Date | null;
  revokedAt?: Date | null;
}

export class SocialAccount {
  [OptionalProps]?: 'isActive' | 'createdAt' | 'updatedAt' | 'needsReconnect';
  id!: number;
  businessId!: number;
  platform!: Platform;
  platformUserId!: string;
  displayName?: string | null;
  accessTokenEnc!: string;
  refreshTokenEnc?: string | null;
  expiresAt?: Date | null;
  isActive = true;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  /** The provider refused the refresh token (invalid_grant): the user must connect the account again. */
  needsReconnect = false;
  refreshTokenExpiresAt?: Date | null;
  tokenRefreshedAt?: Date | null;
}

export interface PlatformParams {
  instagram?: { imageUrl?: string };
  [platform: string]: Record<string, unknown> | undefined;
}

export class Post {
  [OptionalProps]?: 'platformParams' | 'threadOptions' | 'status' | 'createdAt' | 'updatedAt';
  id!: number;
  businessId!: number;
  createdByUserId!: number;
  content!: string;
  platforms!: Platform[];
  platformParams: PlatformParams = {};
  threadOptions: ThreadOptions = {};
  status: PostStatus = 'scheduled';
  scheduledFor!: Date;
  timezone?: string | null;
  workflowId?: string | null;
  /** When Temporal confirmed the workflow's start; null until then (the reconciler starts such posts). */
  workflowStartedAt?: Date | null;
  createdAt: Date = new Date();
  updatedAt: Date = new Date();
  publishedAt?: Date | null;
}

export class PostTarget {
  [OptionalProps]?: 'status' | 'updatedAt';
  id!: number;
  postId!: number;
  platform!: Platform;
  accountId?: number | null;
  status: TargetStatus = 'pending';
  error?: string | null;
  errorClass?: FailureClass | null;
  url?: string | null;
  updatedAt: Date = new Date();
}

/**
 * The part ledger: one row per (post, platform, part). The publish activity records the platform's
 * id here in the same attempt that got it, so a retried attempt returns it instead of posting again.
 */
export class PostPart {
  [OptionalProps]?: 'attempts' | 'platformFailures' | 'legacySharedId';
  id!: number;
  postId!: number;
  platform!: Platform;
  /** The account the part is published with: one platform post belongs to one part of one account. */
  accountId?: number | null;
  partIndex!: number;
  text!: string;
  /** sha256 of the normalised text: how reconciliation recognises the part on the platform. */
  contentFingerprint!: string;
  platformPostId?: string | null;
  url?: string | null;
  publishedAt?: Date | null;
  /** Set before the request leaves: an attempt that finds it set without an id must reconcile first. */
  sendStartedAt?: Date | null;
  /** When the first send of this part began; never cleared: nothing older can be this part's post. */
  firstSentAt?: Date | null;
  /** The attempt holding the send (docs/EXACTLY-ONCE.md, "Fenced attempts"). */
  claimToken?: string | null;
  /** Database time until which the holder's request may still reach the platform. */
  sendDeadline?: Date | null;
  /** Sends made (claims taken). */
  attempts = 0;
  /** Failures the platform caused (not database or worker outages): what ends a target. */
  platformFailures = 0;
  /** Recorded before the ledger's ids were unique; kept as history. */
  legacySharedId = false;
  lastError?: string | null;
  /** A multi-step publish's progress (e.g. an Instagram container id), kept between its calls. */
  progress?: Record<string, string> | null;
}

const timestamps = { type: 'Date', columnType: 'timestamptz' } as const;

export const UserSchema = new EntitySchema<User>({
  class: User,
  tableName: 'users',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    email: { type: 'string', unique: true },
    createdAt: { ...timestamps },
  },
});

export const BusinessSchema = new EntitySchema<Business>({
  class: Business,
  tableName: 'businesses',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    name: { type: 'string' },
    timezone: { type: 'string' },
    createdAt: { ...timestamps },
  },
});

export const MembershipSchema = new EntitySchema<Membership>({
  class: Membership,
  tableName: 'memberships',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    userId: { type: 'number' },
    businessId: { type: 'number' },
    role: { type: 'string' },
    createdAt: { ...timestamps },
  },
});

export const ApiKeySchema = new EntitySchema<ApiKey>({
  class: ApiKey,
  tableName: 'api_keys',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    userId: { type: 'number' },
    name: { type: 'string' },
    keyHash: { type: 'string', hidden: true },
    prefix: { type: 'string' },
    createdAt: { ...timestamps },
    expiresAt: { ...timestamps, nullable: true },
    lastUsedAt: { ...timestamps, nullable: true },
    revokedAt: { ...timestamps, nullable: true },
  },
});

export const SocialAccountSchema = new EntitySchema<SocialAccount>({
  class: SocialAccount,
  tableName: 'social_accounts',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    businessId: { type: 'number' },
    platform: { type: 'string' },
    platformUserId: { type: 'string' },
    displayName: { type: 'string', nullable: true },
    accessTokenEnc: { type: 'text', hidden: true },
    refreshTokenEnc: { type: 'text', nullable: true, hidden: true },
    expiresAt: { ...timestamps, nullable: true },
    isActive: { type: 'boolean' },
    createdAt: { ...timestamps },
    updatedAt: { ...timestamps },
    needsReconnect: { type: 'boolean' },
    refreshTokenExpiresAt: { ...timestamps, nullable: true },
    tokenRefreshedAt: { ...timestamps, nullable: true },
  },
});

export const PostSchema = new EntitySchema<Post>({
  class: Post,
  tableName: 'posts',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    businessId: { type: 'number' },
    createdByUserId: { type: 'number' },
    content: { type: 'text' },
    platforms: { type: 'string[]', columnType: 'text[]' },
    platformParams: { type: 'json' },
    threadOptions: { type: 'json' },
    status: { type: 'string' },
    scheduledFor: { ...timestamps },
    timezone: { type: 'string', nullable: true },
    workflowId: { type: 'string', nullable: true },
    workflowStartedAt: { ...timestamps, nullable: true },
    createdAt: { ...timestamps },
    updatedAt: { ...timestamps },
    publishedAt: { ...timestamps, nullable: true },
  },
});

export const PostTargetSchema = new EntitySchema<PostTarget>({
  class: PostTarget,
  tableName: 'post_targets',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    postId: { type: 'number' },
    platform: { type: 'string' },
    accountId: { type: 'number', nullable: true },
    status: { type: 'string' },
    error: { type: 'text', nullable: true },
    errorClass: { type: 'string', nullable: true },
    url: { type: 'text', nullable: true },
    updatedAt: { ...timestamps },
  },
});

export const PostPartSchema = new EntitySchema<PostPart>({
  class: PostPart,
  tableName: 'post_parts',
  properties: {
    id: { type: 'number', primary: true, autoincrement: true },
    postId: { type: 'number' },
    platform: { type: 'string' },
    accountId: { type: 'number', nullable: true },
    partIndex: { type: 'number' },
    text: { type: 'text' },
    contentFingerprint: { type: 'string' },
    platformPostId: { type: 'string', nullable: true },
    url: { type: 'text', nullable: true },
    publishedAt: { ...timestamps, nullable: true },
    sendStartedAt: { ...timestamps, nullable: true },
    firstSentAt: { ...timestamps, nullable: true },
    claimToken: { type: 'string', nullable: true },
    sendDeadline: { ...timestamps, nullable: true },
    attempts: { type: 'number' },
    platformFailures: { type: 'number' },
    legacySharedId: { type: 'boolean' },
    lastError: { type: 'text', nullable: true },
    progress: { type: 'json', nullable: true },
  },
});

export const allEntities = [
  UserSchema,
  BusinessSchema,
  MembershipSchema,
  ApiKeySchema,
  SocialAccountSchema,
  PostSchema,
  PostTargetSchema,
  PostPartSchema,
];
