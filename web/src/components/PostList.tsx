/** The list view: what is coming up, then what happened in the last days, with actions per post. */
import type { ComponentChildren } from 'preact';
import { postText, type PostSummary as Post } from '../api';
import { formatDate, formatTime, relativeTime } from '../format';
import { StatusBadge } from './Badges';
import { TargetSummary } from './Results';

export function PostRow(props: {
  post: Post;
  zone: string;
  now: number;
  moving: boolean;
  cancelling: boolean;
  onMove: (post: Post) => void;
  onCancel: (post: Post) => void;
}) {
  const { post } = props;
  const when = Date.parse(post.scheduledFor);
  const overdue = post.status === 'scheduled' && when < props.now - 60_000;
  const pending = props.cancelling ? 'Cancelling…' : props.moving ? 'Moving…' : undefined;
  return (
    <li class={`post-row row-${post.status}`} data-post-id={post.id} data-status={post.status}>
      <div class="row-when">
        <time dateTime={post.scheduledFor} class="row-time">
          <span class="row-date">{formatDate(post.scheduledFor, props.zone)}</span> <span class="row-clock">{formatTime(post.scheduledFor, props.zone)}</span>
        </time>
        <span class="muted small">{relativeTime(post.scheduledFor, props.now)}</span>
        <StatusBadge status={post.status} pending={pending} />
        {overdue && <span class="small warning-text">Overdue: waiting for a worker to run it</span>}
      </div>
      <div class="row-main">
        <p class="row-content">{postText(post)}</p>
        <TargetSummary post={post} />
      </div>
      <div class="row-actions">
        <a class="button secondary small-button" href={`#/posts/${post.id}`} aria-label={`Details of post ${post.id}`}>
          Details
        </a>
        {post.status === 'scheduled' && !props.cancelling && (
          <>
            <button type="button" class="secondary small-button" onClick={() => props.onMove(post)} aria-label={`Move post ${post.id}`}>
              Move…
            </button>
            <button type="button" class="danger-outline small-button" onClick={() => props.onCancel(post)} aria-label={`Cancel post ${post.id}`}>
              Cancel
            </button>
          </>
        )}
      </div>
    </li>
  );
}

export function PostList(props: {
  posts: Post[];
  zone: string;
  now: number;
  filterLabel: string;
  pendingMoves: ReadonlyMap<number, unknown>;
  pendingCancels: ReadonlySet<number>;
  onMove: (post: Post) => void;
  onCancel: (post: Post) => void;
  empty: ComponentChildren;
}) {
  const upcoming = props.posts.filter((p) => p.status === 'scheduled' || p.status === 'publishing').sort((a, b) => Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor));
  const past = props.posts.filter((p) => p.status !== 'scheduled' && p.status !== 'publishing').sort((a, b) => Date.parse(b.scheduledFor) - Date.parse(a.scheduledFor));
  if (props.posts.length === 0) return <div class="empty-state card">{props.empty}</div>;
  const row = (post: Post) => (
    <PostRow key={post.id} post={post} zone={props.zone} now={props.now} moving={props.pendingMoves.has(post.id)} cancelling={props.pendingCancels.has(post.id)} onMove={props.onMove} onCancel={props.onCancel} />
  );
  return (
    <div class="post-list" data-testid="post-list">
      {upcoming.length > 0 && (
        <section aria-labelledby="upcoming-heading">
          <h2 id="upcoming-heading" class="list-heading">
            Upcoming <span class="count">{upcoming.length}</span>
          </h2>
          <ul class="rows">{upcoming.map(row)}</ul>
        </section>
      )}
      {past.length > 0 && (
        <section aria-labelledby="past-heading">
          <h2 id="past-heading" class="list-heading">
            {props.filterLabel} <span class="count">{past.length}</span>
            <span class="list-heading-note">due in the last 30 days or later</span>
          </h2>
          <ul class="rows">{past.map(row)}</ul>
        </section>
      )}
    </div>
  );
}
