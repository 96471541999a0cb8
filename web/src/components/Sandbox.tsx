/** Sandbox mode: the posts, replies, comments and media the in-app fakes received for this business. */
import { api, type Business } from '../api';
import { formatDateTime } from '../format';
import { useLive } from '../hooks';
import { PLATFORM_META } from '../platforms';
import { PlatformMark } from './Badges';

const KIND_LABEL = { post: 'Post', reply: 'Reply', comment: 'Comment', media: 'Media' } as const;

export function Sandbox(props: { business: Business }) {
  const received = useLive((signal) => api.sandboxPosts(props.business.id, signal), [props.business.id], 5_000);
  return (
    <section class="card" aria-labelledby="sandbox-title">
      <h1 id="sandbox-title">Received by the sandbox</h1>
      <p class="muted">What the local fakes of the platforms received for {props.business.name}, newest first. Nothing here reached a real platform.</p>
      {received.error ? (
        <p class="status-box status-error" role="alert">
          {received.error.message}
        </p>
      ) : !received.data ? (
        <p class="muted">Loading…</p>
      ) : received.data.length === 0 ? (
        <p class="empty-state">Nothing yet: publish a post from Compose.</p>
      ) : (
        <ol class="sandbox-list" data-testid="sandbox-posts">
          {received.data.map((post) => (
            <li key={`${post.platform}:${post.id}`} class="sandbox-item">
              <div class="sandbox-meta">
                <PlatformMark platform={post.platform} small />
                <strong>{PLATFORM_META[post.platform].label}</strong> · {KIND_LABEL[post.kind]}
                {post.inReplyTo && <> to <code>{post.inReplyTo}</code></>} · <time dateTime={post.receivedAt}>{formatDateTime(post.receivedAt, props.business.timezone)}</time>
              </div>
              <p class="sandbox-text">{post.text}</p>
              <code class="muted">{post.id}</code>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
