/**
 * Facebook Pages (Graph API): a post is `POST /<version>/<page-id>/feed` with the Page token. A long
 * text stays one post (Facebook takes 63,206 characters) unless the post asks for a comment chain
 * with `platformParams.facebook.commentChainAt` (the most characters for the post itself), in which
 * case the rest follows as the Page's comments on it. Wire facts: shared/spec/PLATFORMS.md.
 *
 * Facebook offers no idempotency: an unknown outcome is reconciled by reading the Page's feed.
 */
import { facebookCommentChainAt, PLATFORM_LIMITS, splitForPlatform } from '../domain/platform-rules';
import { plainTextRules, type SplitResult } from '../domain/thread';
import type { ThreadOptions } from '../domain/types';
import { GRAPH_PAGE_SIZE, GraphClient, graphSince, parseGraphTime, type MetaGraphPublisherOptions } from './meta-graph';
import {
  assertSendWindowOpen,
  comparableText,
  createdAfterFirstSend,
  PublishError,
  type PartToPublish,
  type PublishedRef,
  type Publisher,
  type PublisherCredentials,
  type ValidationProblem,
} from './publisher';

export type FacebookPublisherOptions = MetaGraphPublisherOptions;

export const FACEBOOK_POST_MAX_LENGTH = PLATFORM_LIMITS.facebook.maxLength;
export { FACEBOOK_COMMENT_MAX_LENGTH } from '../domain/platform-rules';
const COMMENT_CHAIN_PATH = 'platformParams.facebook.commentChainAt';

interface GraphFeedItem {
  id: string;
  message?: string;
  created_time?: string;
  from?: { id?: string };
}

export function facebookFallbackUrl(postId: string): string {
  return `https://www.facebook.com/${postId}`;
}

export class FacebookPublisher implements Publisher {
  readonly platform = 'facebook' as const;
  private readonly graph: GraphClient;

  constructor(options: FacebookPublisherOptions) {
    this.graph = new GraphClient('Facebook', options);
  }

  /** `params` is the post's `platformParams.facebook`; without `commentChainAt` a text is one post. */
  split(text: string, options: ThreadOptions, params?: Record<string, unknown>): SplitResult {
    return splitForPlatform('facebook', text, options, params);
  }

  validate(text: string, params: Record<string, unknown> | undefined): ValidationProblem[] {
    const raw = params?.commentChainAt;
    if (raw !== undefined && facebookCommentChainAt(params) === undefined) {
      return [{ path: COMMENT_CHAIN_PATH, message: `must be a whole number of characters from 1 to ${FACEBOOK_POST_MAX_LENGTH}` }];
    }
    const length = plainTextRules(FACEBOOK_POST_MAX_LENGTH).measure(text.trim());
    if (raw === undefined && length > FACEBOOK_POST_MAX_LENGTH) {
      const fix = `Shorten it, or set ${COMMENT_CHAIN_PATH} to continue in comments.`;
      return [{ path: 'content', message: `is ${length} characters; a Facebook post takes at most ${FACEBOOK_POST_MAX_LENGTH}. ${fix}` }];
    }
    return [];
  }

  async publishPart(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef> {
    const path = part.partIndex === 0 ? feedPath(credentials) : commentsPath(part);
    assertSendWindowOpen(part, 'Facebook');
    const created = await this.graph.post<{ id?: string }>(path, { message: part.text }, credentials, 'publishes');
    // Facebook created something; without its id, reconcile rather than post again.
    if (!created.id) {
      throw new PublishError('unknown_outcome', 'Facebook answered without the id of the new post; checking before retrying.');
    }
    return { platformPostId: created.id, url: await this.permalink(credentials, created.id, part.partIndex === 0) };
  }

  /**
   * Looks through the Page's feed (a first part) or the root post's comments (the others) created
   * since the part's first send, less the clock skew, 100 at a time, following the `after` cursor.
   */
  async findPublished(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    const isPost = part.partIndex === 0;
    const query: Record<string, string> = { fields: 'id,message,created_time,from', limit: String(GRAPH_PAGE_SIZE) };
    const since = graphSince(part.notBefore);
    if (since) query.since = since;
    const matches = (item: GraphFeedItem): boolean => isSamePart(item, credentials, part);
    const match = isPost
      ? await this.graph.find(feedPath(credentials), query, credentials, { matches, what: 'posts of the Page' })
      : // Comments come oldest first unless asked otherwise; newest first, a page all older than the
        // first send ends the search.
        await this.graph.find(commentsPath(part), { ...query, order: 'reverse_chronological' }, credentials, {
          matches,
          exhausted: (page) => page.every((item) => createdBeforeFirstSend(item, part)),
          what: 'comments on the post',
        });
    return match ? { platformPostId: match.id, url: await this.permalink(credentials, match.id, isPost) } : null;
  }

  /** The post exists whatever happens here: a failed lookup costs the URL, never the post. */
  private async permalink(credentials: PublisherCredentials, id: string, isPost: boolean): Promise<string | null> {
    try {
      const node = await this.graph.get<{ permalink_url?: string }>(`/${encodeURIComponent(id)}`, { fields: 'permalink_url' }, credentials);
      if (node.permalink_url) return node.permalink_url;
    } catch {
      // fall through to the URL Facebook resolves from the id alone
    }
    return isPost ? facebookFallbackUrl(id) : null;
  }
}

function isSamePart(item: GraphFeedItem, credentials: PublisherCredentials, part: PartToPublish): boolean {
  if (item.from?.id !== undefined && item.from.id !== credentials.platformUserId) return false;
  if (comparableText(item.message ?? '') !== comparableText(part.text)) return false;
  return createdAfterFirstSend(parseGraphTime(item.created_time), part.notBefore);
}

/** Created before the part's first send, less the clock skew (an item without a time is not). */
function createdBeforeFirstSend(item: GraphFeedItem, part: PartToPublish): boolean {
  const createdAt = parseGraphTime(item.created_time);
  return createdAt !== undefined && !createdAfterFirstSend(createdAt, part.notBefore);
}

function feedPath(credentials: PublisherCredentials): string {
  return `/${encodeURIComponent(credentials.platformUserId)}/feed`;
}

/** Every comment of a chain is on the root post, not a reply to the previous comment. */
function commentsPath(part: PartToPublish): string {
  return `/${encodeURIComponent(rootOf(part))}/comments`;
}

function rootOf(part: PartToPublish): string {
  const root = part.rootPlatformPostId ?? part.replyToPlatformPostId;
  if (!root) {
    throw new PublishError('rejected', `Facebook part ${part.partIndex + 1} is a comment but no root post id was given (a Herald bug).`, {
      mayHavePosted: false,
    });
  }
  return root;
}
