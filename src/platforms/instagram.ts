/**
 * Instagram (professional accounts, Graph API): an image post in steps, each call of publishPart
 * taking one step and handing back its progress for the caller to keep on a durable timer:
 *
 *   no progress     → check the daily quota, create a media container     → in progress
 *   IN_PROGRESS     → wait a little longer (up to processingTimeoutMs)    → in progress
 *   FINISHED        → media_publish, then the permalink                   → published
 *   PUBLISHED       → an earlier media_publish got through: find that media → published
 *   ERROR / EXPIRED → rejected
 *
 * Exactly-once rests on the container: media_publish is only ever called on a FINISHED container,
 * and a call that may have published (timeout, dropped connection) comes back with the same
 * progress, so the container's status is read before anything else. Wire facts: PLATFORMS.md.
 */
import { countHashtags, INSTAGRAM_MAX_HASHTAGS, PLATFORM_LIMITS, splitForPlatform } from '../domain/platform-rules';
import type { SplitResult } from '../domain/thread';
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
  type PublishInProgress,
  type ValidationProblem,
} from './publisher';

export interface InstagramPublisherOptions extends MetaGraphPublisherOptions {
  /** Give up on a container still IN_PROGRESS this long after it was created. Default 5 minutes. */
  processingTimeoutMs?: number;
  /** First wait before looking at a new container. Default 2 s; each later wait is 1.5 times longer, up to 30 s. */
  firstCheckAfterMs?: number;
}

/** What the caller keeps between steps (values are strings: it is stored as given). */
interface ContainerProgress {
  containerId: string;
  /** ISO time the container was created, by our clock. */
  createdAt: string;
  checkAfterMs: string;
}

interface GraphMedia {
  id: string;
  caption?: string;
  timestamp?: string;
  permalink?: string;
}

export const INSTAGRAM_CAPTION_MAX_LENGTH = PLATFORM_LIMITS.instagram.maxLength;
const IMAGE_URL_PATH = 'platformParams.instagram.imageUrl';
const DEFAULT_PROCESSING_TIMEOUT_MS = 5 * 60_000;
const DEFAULT_FIRST_CHECK_MS = 2_000;
const MAX_CHECK_AFTER_MS = 30_000;
const CHECK_GROWTH = 1.5;

export class InstagramPublisher implements Publisher {
  readonly platform = 'instagram' as const;
  private readonly graph: GraphClient;
  private readonly now: () => number;

  constructor(private readonly options: InstagramPublisherOptions) {
    this.graph = new GraphClient('Instagram', options);
    this.now = options.now ?? Date.now;
  }

  /** Instagram has no threads: the caption is one part, whatever its length. */
  split(text: string, options: ThreadOptions): SplitResult {
    return splitForPlatform('instagram', text, options);
  }

  validate(text: string, params: Record<string, unknown> | undefined): ValidationProblem[] {
    const problems: ValidationProblem[] = [];
    const imageProblem = imageUrlProblem(params?.imageUrl);
    if (imageProblem) problems.push({ path: IMAGE_URL_PATH, message: imageProblem });
    const length = [...text.trim()].length;
    if (length > INSTAGRAM_CAPTION_MAX_LENGTH) {
      const message = `is ${length} characters; an Instagram caption takes at most ${INSTAGRAM_CAPTION_MAX_LENGTH}.`;
      problems.push({ path: 'content', message });
    }
    const hashtags = countHashtags(text);
    if (hashtags > INSTAGRAM_MAX_HASHTAGS) {
      problems.push({ path: 'content', message: `has ${hashtags} hashtags; Instagram allows at most ${INSTAGRAM_MAX_HASHTAGS}.` });
    }
    return problems;
  }

  async publishPart(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | PublishInProgress> {
    const progress = readProgress(part.progress, this.now());
    return progress ? this.continueContainer(credentials, part, progress) : this.startContainer(credentials, part);
  }

  async findPublished(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishedRef | null> {
    return this.findMedia(credentials, part.text, part.notBefore?.getTime());
  }

  // --- the steps --------------------------------------------------------------------------------

  private async startContainer(credentials: PublisherCredentials, part: PartToPublish): Promise<PublishInProgress> {
    const imageUrl = part.params?.imageUrl;
    const problem = imageUrlProblem(imageUrl);
    if (problem !== undefined || typeof imageUrl !== 'string') {
      throw new PublishError('rejected', problem ?? 'Instagram needs an image URL.', { mayHavePosted: false });
    }
    await this.ensureQuota(credentials);
    // A container is invisible until media_publish: creating one again after a failure is harmless.
    const created = await this.graph.post<{ id?: string }>(
      `/${encodeURIComponent(credentials.platformUserId)}/media`,
      { image_url: imageUrl, caption: part.text },
      credentials,
      'harmless',
    );
    if (!created.id) {
      throw notPublished('retryable', 'Instagram answered without a container id; creating one again is harmless.');
    }
    const checkAfterMs = this.options.firstCheckAfterMs ?? DEFAULT_FIRST_CHECK_MS;
    return inProgress({ containerId: created.id, createdAt: new Date(this.now()).toISOString(), checkAfterMs: String(checkAfterMs) });
  }

  private async ensureQuota(credentials: PublisherCredentials): Promise<void> {
    const limit = await this.graph.get<{ data?: Array<{ quota_usage?: number; config?: { quota_total?: number } }> }>(
      `/${encodeURIComponent(credentials.platformUserId)}/content_publishing_limit`,
      { fields: 'quota_usage,config' },
      credentials,
    );
    const usage = limit.data?.[0]?.quota_usage;
    const total = limit.data?.[0]?.config?.quota_total;
    if (usage === undefined || total === undefined || usage < total) return;
    const used = `${total} posts per 24 hours; ${usage} used`;
    const message = `Instagram's daily publishing limit reached (${used}): publish again when the oldest of them is a day old.`;
    throw new PublishError('rejected', message, { mayHavePosted: false });
  }

  private async continueContainer(
    credentials: PublisherCredentials,
    part: PartToPublish,
    progress: ContainerProgress,
  ): Promise<PublishedRef | PublishInProgress> {
    const container = await this.graph.get<{ status_code?: string; status?: string }>(
      `/${encodeURIComponent(progress.containerId)}`,
      { fields: 'status_code,status' },
      credentials,
    );
    switch (container.status_code) {
      case 'FINISHED':
        return this.publishContainer(credentials, part, progress);
      case 'PUBLISHED':
        return this.adoptPublishedContainer(credentials, part, progress);
      case 'IN_PROGRESS':
        return this.stillProcessing(progress);
      case 'ERROR':
        throw notPublished('rejected', `Instagram could not process the image (container ERROR: ${container.status ?? 'no detail'}); use a public JPEG URL.`);
      case 'EXPIRED':
        throw notPublished('rejected', 'The Instagram media container expired unpublished (containers last 24 hours); publish the post again.');
      default:
        throw notPublished('retryable', `Instagram gave the container an unexpected status (${container.status_code ?? 'none'}); checking again.`);
    }
  }

  private stillProcessing(progress: ContainerProgress): PublishInProgress {
    const elapsedMs = this.now() - Date.parse(progress.createdAt);
    const timeoutMs = this.options.processingTimeoutMs ?? DEFAULT_PROCESSING_TIMEOUT_MS;
    if (elapsedMs > timeoutMs) {
      const minutes = Math.max(1, Math.round(elapsedMs / 60_000));
      throw notPublished('rejected', `Instagram was still processing the media after ${minutes} minutes; try a smaller JPEG image.`);
    }
    const previous = Number(progress.checkAfterMs) || DEFAULT_FIRST_CHECK_MS;
    const checkAfterMs = Math.min(MAX_CHECK_AFTER_MS, Math.round(previous * CHECK_GROWTH));
    return inProgress({ ...progress, checkAfterMs: String(checkAfterMs) });
  }

  private async publishContainer(credentials: PublisherCredentials, part: PartToPublish, progress: ContainerProgress): Promise<PublishedRef> {
    assertSendWindowOpen(part, 'Instagram');
    const published = await this.graph.post<{ id?: string }>(
      `/${encodeURIComponent(credentials.platformUserId)}/media_publish`,
      { creation_id: progress.containerId },
      credentials,
      'publishes',
    );
    // Published, but unnamed: the next call reads the container (PUBLISHED) and finds the media.
    if (!published.id) {
      throw new PublishError('unknown_outcome', 'Instagram answered media_publish without a media id; checking the container before retrying.');
    }
    return { platformPostId: published.id, url: await this.permalink(credentials, published.id) };
  }

  /** The container already went out: find that media instead of publishing again. */
  private async adoptPublishedContainer(
    credentials: PublisherCredentials,
    part: PartToPublish,
    progress: ContainerProgress,
  ): Promise<PublishedRef> {
    const found = await this.findMedia(credentials, part.text, Date.parse(progress.createdAt));
    if (found) return found;
    const message = "Instagram says the container was published, but the media is not among the account's recent posts yet; checking again.";
    throw new PublishError('unknown_outcome', message);
  }

  /**
   * Looks through the account's media published since `notBeforeMs` less the clock skew (the edge
   * takes `since`, time-based paging), newest first, 100 at a time, following the `after` cursor; a
   * page all older than that ends the search.
   */
  private async findMedia(
    credentials: PublisherCredentials,
    caption: string,
    notBeforeMs: number | undefined,
  ): Promise<PublishedRef | null> {
    const notBefore = notBeforeMs === undefined ? undefined : new Date(notBeforeMs);
    const query: Record<string, string> = { fields: 'id,caption,timestamp,permalink', limit: String(GRAPH_PAGE_SIZE) };
    const since = graphSince(notBefore);
    if (since) query.since = since;
    const match = await this.graph.find<GraphMedia>(`/${encodeURIComponent(credentials.platformUserId)}/media`, query, credentials, {
      matches: (media) =>
        comparableText(media.caption ?? '') === comparableText(caption) && createdAfterFirstSend(parseGraphTime(media.timestamp), notBefore),
      exhausted: (page) =>
        page.every((media) => {
          const publishedAt = parseGraphTime(media.timestamp);
          return publishedAt !== undefined && !createdAfterFirstSend(publishedAt, notBefore);
        }),
      what: "the account's media",
    });
    return match ? { platformPostId: match.id, url: match.permalink ?? (await this.permalink(credentials, match.id)) } : null;
  }

  /** The media exists whatever happens here: a failed lookup costs the URL, never the post. */
  private async permalink(credentials: PublisherCredentials, mediaId: string): Promise<string | null> {
    try {
      const media = await this.graph.get<{ permalink?: string }>(`/${encodeURIComponent(mediaId)}`, { fields: 'permalink' }, credentials);
      return media.permalink ?? null;
    } catch {
      return null;
    }
  }
}

/** A failure that certainly published nothing (the container never went out). */
function notPublished(failureClass: 'rejected' | 'retryable', message: string): PublishError {
  return new PublishError(failureClass, message, { mayHavePosted: false });
}

function inProgress(progress: ContainerProgress): PublishInProgress {
  return { inProgress: true, progress: { ...progress }, checkAfterMs: Number(progress.checkAfterMs) };
}

/** Progress as stored; a missing time counts from now, so a container is never given up on unseen. */
function readProgress(progress: Record<string, string> | undefined, nowMs: number): ContainerProgress | undefined {
  if (!progress?.containerId) return undefined;
  return {
    containerId: progress.containerId,
    createdAt: progress.createdAt ?? new Date(nowMs).toISOString(),
    checkAfterMs: progress.checkAfterMs ?? String(DEFAULT_FIRST_CHECK_MS),
  };
}

function imageUrlProblem(imageUrl: unknown): string | undefined {
  if (imageUrl === undefined || imageUrl === null || imageUrl === '') {
    return `Instagram needs an image URL (it has no text-only posts): set ${IMAGE_URL_PATH} to a public JPEG URL.`;
  }
  if (typeof imageUrl !== 'string' || !/^https?:\/\/\S+$/i.test(imageUrl)) {
    return `Instagram needs a public http(s) URL of a JPEG image in ${IMAGE_URL_PATH}.`;
  }
  return undefined;
}
