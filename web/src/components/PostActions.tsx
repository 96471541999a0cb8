/**
 * Moving and cancelling posts, shared by the calendar, the list and the detail page: optimistic
 * where that is safe (the calendar moves the post at once and puts it back if the API refuses),
 * honest about answers that are only "accepted" (202: the engine has not confirmed yet).
 */
import { useState } from 'preact/hooks';
import { api, ApiError, postText, type Post, type PostRef, type PostSummary } from '../api';
import { formatDateTime } from '../format';
import { notify } from '../hooks';
import { isoInZone, timeOfDayKey, dateKey, wallTimeAt } from '../time';
import { Modal } from './Modal';
import { resolveWhen, WhenFields, type WhenValue } from './WhenFields';

export interface PendingMove {
  scheduledFor: string;
  /** The API accepted the move but the engine had not confirmed it yet (202). */
  queued: boolean;
}

export interface PostActions {
  pendingMoves: ReadonlyMap<number, PendingMove>;
  pendingCancels: ReadonlySet<number>;
  reschedule(post: PostRef, instant: Date, zone: string): Promise<boolean>;
  cancel(post: PostRef): Promise<boolean>;
  /** The post as the person should see it: a move in flight shows at its new time. */
  present<P extends PostRef>(post: P): P;
  /** Forget pending marks the server now agrees with (call with fresh data). */
  settle(posts: PostRef[]): void;
}

function describe(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.code === 'conflict') return error.message;
    if (error.details.length > 0) return error.details.map((d) => d.message).join('; ');
    return error.message;
  }
  return (error as Error).message;
}

export function usePostActions(onChanged: (post: Post) => void): PostActions {
  const [pendingMoves, setPendingMoves] = useState<Map<number, PendingMove>>(new Map());
  const [pendingCancels, setPendingCancels] = useState<Set<number>>(new Set());

  const setMove = (postId: number, move: PendingMove | undefined) =>
    setPendingMoves((current) => {
      const next = new Map(current);
      if (move) next.set(postId, move);
      else next.delete(postId);
      return next;
    });
  const setCancel = (postId: number, on: boolean) =>
    setPendingCancels((current) => {
      const next = new Set(current);
      if (on) next.add(postId);
      else next.delete(postId);
      return next;
    });

  return {
    pendingMoves,
    pendingCancels,
    async reschedule(post, instant, zone) {
      const scheduledFor = instant.toISOString();
      setMove(post.id, { scheduledFor, queued: false });
      try {
        const answer = await api.reschedule(post.id, isoInZone(instant, zone));
        onChanged(answer.body);
        if (answer.status === 202) {
          setMove(post.id, { scheduledFor, queued: true });
          notify('info', `Move of post ${post.id} sent; the engine has not confirmed it yet. The calendar updates when it does.`);
        } else {
          setMove(post.id, undefined);
          notify('success', `Post ${post.id} moved to ${formatDateTime(answer.body.scheduledFor, zone)}.`);
        }
        return true;
      } catch (err) {
        setMove(post.id, undefined);
        notify('error', `Post ${post.id} was not moved: ${describe(err)}`);
        return false;
      }
    },
    async cancel(post) {
      try {
        const answer = await api.cancel(post.id);
        onChanged(answer.body);
        if (answer.status === 202 && answer.body.status !== 'cancelled') {
          setCancel(post.id, true);
          notify('info', `Cancel of post ${post.id} sent; waiting for the engine to confirm.`);
        } else {
          notify('success', `Post ${post.id} cancelled. Nothing will be published.`);
        }
        return true;
      } catch (err) {
        notify('error', `Post ${post.id} was not cancelled: ${describe(err)}`);
        return false;
      }
    },
    present(post) {
      const move = pendingMoves.get(post.id);
      return move && post.status === 'scheduled' ? { ...post, scheduledFor: move.scheduledFor } : post;
    },
    settle(posts) {
      for (const post of posts) {
        const move = pendingMoves.get(post.id);
        if (move?.queued && (post.scheduledFor === move.scheduledFor || post.status !== 'scheduled')) setMove(post.id, undefined);
        if (pendingCancels.has(post.id) && post.status !== 'scheduled') setCancel(post.id, false);
      }
    },
  };
}

/** "Move to…": the keyboard (and touch) way to reschedule, with the full date, time and zone. */
export function MoveDialog(props: { post: PostRef; zone: string; onClose: () => void; onMove: (instant: Date, zone: string) => Promise<boolean> }) {
  const postZone = props.post.timezone ?? props.zone;
  const [when, setWhen] = useState<WhenValue>(() => {
    const wall = wallTimeAt(props.post.scheduledFor, postZone);
    return { date: dateKey(wall), time: timeOfDayKey(wall), zone: postZone };
  });
  const [busy, setBusy] = useState(false);
  const resolved = resolveWhen(when);
  return (
    <Modal title={`Move post ${props.post.id}`} onClose={props.onClose} testId="move-dialog">
      <p class="muted small">Now: {formatDateTime(props.post.scheduledFor, postZone)} ({postZone})</p>
      <form
        onSubmit={async (event) => {
          event.preventDefault();
          if (!resolved.instant || !resolved.iso || busy) return;
          setBusy(true);
          const moved = await props.onMove(resolved.instant, when.zone);
          setBusy(false);
          if (moved) props.onClose();
        }}
        noValidate
      >
        <WhenFields value={when} onChange={setWhen} knownZones={[props.zone]} />
        <div class="actions">
          <button type="submit" class="primary" disabled={!resolved.iso || busy}>
            {busy ? 'Moving…' : 'Move'}
          </button>
          <button type="button" class="secondary" onClick={props.onClose}>
            Keep the time
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function CancelDialog(props: { post: Post | PostSummary; zone: string; onClose: () => void; onConfirm: () => Promise<boolean> }) {
  const [busy, setBusy] = useState(false);
  const platforms = props.post.platforms.length;
  const text = postText(props.post);
  return (
    <Modal title={`Cancel post ${props.post.id}?`} onClose={props.onClose} size="small" initialFocus="[data-autofocus]" testId="cancel-dialog">
      <p>
        It was going to be published on {formatDateTime(props.post.scheduledFor, props.post.timezone ?? props.zone)} to {platforms} platform{platforms === 1 ? '' : 's'}. A cancelled post cannot be
        restored; you would schedule it again.
      </p>
      <blockquote class="quote">{text.length > 280 ? `${text.slice(0, 277)}…` : text}</blockquote>
      <div class="actions">
        <button
          type="button"
          class="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            await props.onConfirm();
            props.onClose();
          }}
        >
          {busy ? 'Cancelling…' : 'Cancel post'}
        </button>
        <button type="button" class="secondary" data-autofocus onClick={props.onClose}>
          Keep it
        </button>
      </div>
    </Modal>
  );
}
