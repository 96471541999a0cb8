/** Per-platform outcome of a post: status, links to what was published, and failures in plain words. */
import type { Post, PostSummary, Target } from '../api';

/** A target as the post page (full) or the list (summary: no parts, no error text) has it. */
type AnyTarget = Pick<Target, 'platform' | 'status' | 'url' | 'errorClass'> & { error?: string | null; parts?: Target['parts'] };
import { formatDateTime } from '../format';
import { failureAdvice, PLATFORM_META } from '../platforms';
import { PlatformMark, TargetBadge } from './Badges';

export function TargetFailure(props: { target: AnyTarget }) {
  const { target } = props;
  if (target.status !== 'failed' || (!target.error && !target.errorClass)) return null;
  return (
    <div class="failure" data-testid={`failure-${target.platform}`}>
      <p class="failure-advice">{failureAdvice(target.platform, target.errorClass)}</p>
      {target.error && <p class="failure-detail small">{target.error}</p>}
    </div>
  );
}

/** Links to the published parts ("Part 1", "Part 2", …, or "View post" for a single one). */
export function PartLinks(props: { target: AnyTarget }) {
  const { target } = props;
  const parts = target.parts ?? [];
  const published = parts.filter((part) => part.url);
  if (published.length === 0) {
    return target.url ? (
      <a href={target.url} target="_blank" rel="noopener noreferrer" data-testid={`link-${target.platform}`}>
        View on {PLATFORM_META[target.platform].label}
      </a>
    ) : null;
  }
  return (
    <span class="part-links">
      {published.map((part) => (
        <a key={part.index} href={part.url!} target="_blank" rel="noopener noreferrer" data-testid={`link-${target.platform}-${part.index}`}>
          {published.length === 1 && parts.length === 1 ? `View on ${PLATFORM_META[target.platform].label}` : `Part ${part.index + 1}`}
        </a>
      ))}
    </span>
  );
}

/** One line per platform: mark, status, links, failure (a summary links the post and says what to do; its page has the rest). */
export function TargetSummary(props: { post: Post | PostSummary }) {
  return (
    <ul class="targets">
      {props.post.targets.map((target: AnyTarget) => (
        <li key={target.platform} class="target" data-platform={target.platform}>
          <span class="target-head">
            <PlatformMark platform={target.platform} small />
            <span class="target-name">{PLATFORM_META[target.platform].label}</span>
            <TargetBadge status={target.status} />
            <PartLinks target={target} />
          </span>
          <TargetFailure target={target} />
        </li>
      ))}
    </ul>
  );
}

/** The outcome of "Publish now", in one sentence plus the per-platform lines. */
export function PublishOutcome(props: { post: Post; zone: string }) {
  const { post } = props;
  const published = post.targets.filter((t) => t.status === 'published').map((t) => PLATFORM_META[t.platform].label);
  const failed = post.targets.filter((t) => t.status === 'failed').map((t) => PLATFORM_META[t.platform].label);
  let headline: string;
  if (post.status === 'published') headline = `Published to ${published.join(', ')}.`;
  else if (post.status === 'partially_published') headline = `Published to ${published.join(', ')}; ${failed.join(', ')} failed.`;
  else if (post.status === 'failed') headline = 'Nothing was published.';
  else if (post.status === 'cancelled') headline = 'The post was cancelled before it was published.';
  else headline = 'Publishing…';
  return (
    <div>
      <p class="outcome-headline">
        <strong>{headline}</strong>
        {post.publishedAt && <span class="muted small"> {formatDateTime(post.publishedAt, props.zone)}</span>}
      </p>
      <TargetSummary post={post} />
      <p class="small">
        <a href={`#/posts/${post.id}`}>Details of post {post.id}</a>
      </p>
    </div>
  );
}
