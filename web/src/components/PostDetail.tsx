/** One post: where it stands on each platform and for each part, and the way to its workflow run. */
import { useEffect, useState } from 'preact/hooks';
import { splitForPlatform } from '../../../src/domain/platform-rules';
import { api, ApiError, isFinal, type Business, type Post, type Target } from '../api';
import { formatDateTime, formatUtc, relativeTime } from '../format';
import { useLive, useNow } from '../hooks';
import { PLATFORM_META } from '../platforms';
import { readSettings, workflowUrl } from '../session';
import { PlatformMark, StatusBadge, TargetBadge } from './Badges';
import { LiveStatus } from './LiveStatus';
import { CancelDialog, MoveDialog, usePostActions } from './PostActions';
import { TargetFailure } from './Results';

export function PostDetail(props: { postId: number; businesses: Business[] }) {
  // Poll until the post is final; after that nothing about it changes.
  const [pollMs, setPollMs] = useState<number | false>(3000);
  const live = useLive((signal) => api.post(props.postId, signal), [props.postId], pollMs);
  const post = live.data;
  useEffect(() => setPollMs(post && isFinal(post.status) ? false : 3000), [post?.status]);
  const actions = usePostActions((changed) => live.mutate(() => changed));
  const [moving, setMoving] = useState(false);
  const [cancelling, setCancelling] = useState(false);
  const now = useNow(15_000);
  useEffect(() => {
    if (post) actions.settle([post]);
  }, [post]);

  const business = props.businesses.find((b) => b.id === post?.businessId);
  const zone = business?.timezone ?? 'UTC';

  if (!post) {
    if (live.error instanceof ApiError && live.error.status === 404) {
      return (
        <div class="card empty-state">
          <h1>Post {props.postId} not found</h1>
          <p>It does not exist, or it belongs to a business you are not a member of.</p>
          <a href="#/scheduled">Back to Scheduled</a>
        </div>
      );
    }
    return <p class="muted">{live.error ? `Could not load post ${props.postId}: ${live.error.message}` : 'Loading…'}</p>;
  }

  const shown = actions.present(post);
  const postZone = shown.timezone ?? zone;
  const cancelPending = actions.pendingCancels.has(post.id);
  const movePending = actions.pendingMoves.has(post.id);

  return (
    <article class="detail" data-testid="post-detail" data-status={post.status}>
      <p class="breadcrumb">
        <a href="#/scheduled?view=list">← Scheduled</a>
      </p>
      <div class="page-head">
        <h1>
          Post {post.id} <StatusBadge status={post.status} pending={cancelPending ? 'Cancelling…' : movePending ? 'Moving…' : undefined} />
        </h1>
        <div class="head-actions">
          {post.status === 'scheduled' && !cancelPending && (
            <>
              <button type="button" class="secondary" onClick={() => setMoving(true)}>
                Move…
              </button>
              <button type="button" class="danger-outline" onClick={() => setCancelling(true)}>
                Cancel post
              </button>
            </>
          )}
          <a class="button secondary" href={workflowUrl(readSettings(), post.workflowId)} target="_blank" rel="noopener noreferrer" data-testid="temporal-link">
            Workflow in Temporal ↗
          </a>
        </div>
      </div>
      <LiveStatus live={live} zone={postZone} />

      <dl class="facts card">
        <div>
          <dt>{isFinal(post.status) && post.status !== 'cancelled' ? 'Was scheduled for' : 'Scheduled for'}</dt>
          <dd data-testid="detail-scheduled-for" data-instant={shown.scheduledFor}>
            {formatDateTime(shown.scheduledFor, postZone)} <span class="muted">({postZone.replace(/_/g, ' ')})</span>
            <br />
            <span class="muted small">
              {formatUtc(shown.scheduledFor)} · {relativeTime(shown.scheduledFor, now)}
            </span>
          </dd>
        </div>
        {post.publishedAt && (
          <div>
            <dt>Published</dt>
            <dd>{formatDateTime(post.publishedAt, postZone)}</dd>
          </div>
        )}
        <div>
          <dt>Business</dt>
          <dd>{business?.name ?? post.businessId}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatDateTime(post.createdAt, postZone)}</dd>
        </div>
        <div>
          <dt>Workflow</dt>
          <dd>
            <code>{post.workflowId}</code>
          </dd>
        </div>
      </dl>

      {post.status === 'scheduled' && Date.parse(post.scheduledFor) < now - 60_000 && (
        <p class="status-box status-partial">This post is past its time but has not started publishing: no worker seems to be running. It will publish as soon as one runs.</p>
      )}

      <section class="card">
        <h2>Text</h2>
        <p class="content-full">{post.content}</p>
      </section>

      {post.targets.map((target) => (
        <TargetDetail key={target.platform} post={post} target={target} zone={postZone} />
      ))}

      {moving && <MoveDialog post={shown} zone={zone} onClose={() => setMoving(false)} onMove={(instant, moveZone) => actions.reschedule(post, instant, moveZone)} />}
      {cancelling && <CancelDialog post={post} zone={zone} onClose={() => setCancelling(false)} onConfirm={() => actions.cancel(post)} />}
    </article>
  );
}

function TargetDetail(props: { post: Post; target: Target; zone: string }) {
  const { post, target } = props;
  const meta = PLATFORM_META[target.platform];
  // Before publishing starts the parts are not fixed yet; preview them only when the split is known.
  const planned = target.parts.length === 0 && post.thread !== undefined && target.status === 'pending' ? splitForPlatform(target.platform, post.content, { numbering: post.thread.numbering ?? false }).parts : [];
  return (
    <section class="card target-detail" data-platform={target.platform} data-testid={`target-${target.platform}`}>
      <header class="target-detail-head">
        <PlatformMark platform={target.platform} />
        <h2>{meta.label}</h2>
        <TargetBadge status={target.status} />
        {target.url && (
          <a href={target.url} target="_blank" rel="noopener noreferrer">
            View on {meta.label} ↗
          </a>
        )}
      </header>
      <TargetFailure target={target} />
      {target.parts.length > 0 ? (
        <ol class="detail-parts">
          {target.parts.map((part) => (
            <li key={part.index} class={part.platformPostId ? 'done' : 'waiting'} data-part-index={part.index}>
              <div class="detail-part-head small">
                <strong>Part {part.index + 1}</strong>
                {part.platformPostId ? (
                  <>
                    <span class="badge badge-target-published">Published</span>
                    {part.publishedAt && <span class="muted">{formatDateTime(part.publishedAt, props.zone)}</span>}
                    {part.url && (
                      <a href={part.url} target="_blank" rel="noopener noreferrer" data-testid={`part-link-${target.platform}-${part.index}`}>
                        View ↗
                      </a>
                    )}
                  </>
                ) : (
                  <span class={`badge badge-target-${target.status === 'failed' ? 'failed' : target.status === 'cancelled' ? 'cancelled' : 'pending'}`}>
                    {target.status === 'failed' ? 'Not published' : target.status === 'cancelled' ? 'Cancelled' : 'Waiting'}
                  </span>
                )}
              </div>
              <p class="part-text">{part.text}</p>
            </li>
          ))}
        </ol>
      ) : planned.length > 0 ? (
        <>
          <p class="muted small">Planned: {planned.length === 1 ? 'one post' : `${planned.length} parts`}.</p>
          <ol class="detail-parts">
            {planned.map((part) => (
              <li key={part.index} class="waiting">
                <p class="part-text">{part.text}</p>
              </li>
            ))}
          </ol>
        </>
      ) : (
        <p class="muted small">
          {target.status === 'cancelled' ? 'Nothing was published.' : target.status === 'failed' ? 'Nothing was published.' : 'The text is split into parts when publishing starts.'}
        </p>
      )}
    </section>
  );
}
