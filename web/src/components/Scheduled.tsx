/** The Scheduled page: a month calendar or a list of a business's posts, kept live by polling. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ALL_STATUSES, api, summarize, type Business, type CalendarAnswer, type CalendarDay, type PostSummary } from '../api';
import { formatLongDate, formatMonth } from '../format';
import { href, notify, useLive, useNow, type Live, type Route } from '../hooks';
import { recall, remember } from '../session';
import { addDays, addMonths, dateKey, instantOf, monthGrid, shiftByDays, todayIn, wallTimeAt, type CalendarDate } from '../time';
import type { PostStatus } from '../../../src/domain/types';
import { Calendar, DayPosts, layoutDays, VISIBLE_PER_DAY } from './Calendar';
import { Modal } from './Modal';
import { CancelDialog, MoveDialog, usePostActions } from './PostActions';
import { PostList } from './PostList';
import { LiveStatus } from './LiveStatus';

const POLL_MS = 4000;
const RECENT_DAYS = 30;
/** The day dialog ("+N more") reads the day's posts page by page (the lean list), up to this many. */
const DAY_MAX = 5000;
const LIVE_STATUSES = ALL_STATUSES.filter((status) => status !== 'cancelled');
/** The list shows this many more each time "Show more" is pressed. */
const LIST_STEP = 200;

const LIST_FILTERS: Record<string, { label: string; upcoming: boolean; recent: PostStatus[] }> = {
  all: { label: 'Finished', upcoming: true, recent: ['published', 'partially_published', 'failed', 'cancelled'] },
  upcoming: { label: 'Finished', upcoming: true, recent: [] },
  published: { label: 'Published', upcoming: false, recent: ['published', 'partially_published'] },
  failed: { label: 'Failed', upcoming: false, recent: ['failed', 'partially_published'] },
  cancelled: { label: 'Cancelled', upcoming: false, recent: ['cancelled'] },
};

function parseMonth(value: string | null): { year: number; month: number } | undefined {
  const match = /^(\d{4})-(\d{2})$/.exec(value ?? '');
  if (!match) return undefined;
  const month = Number(match[2]);
  return month >= 1 && month <= 12 ? { year: Number(match[1]), month } : undefined;
}

const monthKey = (m: { year: number; month: number }) => dateKey({ ...m, day: 1 }).slice(0, 7);

export function Scheduled(props: { business: Business; route: Route }) {
  const { business, route } = props;
  const zone = business.timezone;
  const now = useNow(30_000);
  const today = todayIn(zone, now);
  const view = route.query.get('view') === 'list' ? 'list' : 'calendar';
  const month = parseMonth(route.query.get('month')) ?? { year: today.year, month: today.month };
  const filterKey = LIST_FILTERS[route.query.get('status') ?? ''] ? route.query.get('status')! : 'all';
  const filter = LIST_FILTERS[filterKey]!;
  const grid = monthGrid(month.year, month.month);
  const [moveTarget, setMoveTarget] = useState<PostSummary>();
  const [cancelTarget, setCancelTarget] = useState<PostSummary>();
  const [listMax, setListMax] = useState(LIST_STEP);
  const [shownDay, setShownDay] = useState<CalendarDate>();
  // Cancelled posts would crowd out live ones; hidden unless asked for (and counted either way).
  const [showCancelled, setShowCancelled] = useState(() => recall<boolean>('calendar.showCancelled') ?? false);

  const live: Live<Loaded> = useLive<Loaded>(
    async (signal) => {
      if (view === 'calendar') {
        // One request for the weeks shown: per day of the business's zone, its counts and first posts.
        const calendar = await api.calendar(
          { businessId: business.id, from: dateKey(grid[0]!), to: dateKey(addDays(grid[grid.length - 1]!, 1)), perDay: VISIBLE_PER_DAY, statuses: showCancelled ? ALL_STATUSES : undefined },
          signal,
        );
        return { calendar, posts: calendar.days.flatMap((day) => day.posts), more: false };
      }
      const since = new Date(Date.now() - RECENT_DAYS * 86_400_000);
      const none = { posts: [] as PostSummary[], more: false };
      const [upcoming, recent] = await Promise.all([
        filter.upcoming ? api.listSummaries({ businessId: business.id, statuses: ['scheduled', 'publishing'], max: listMax }, signal) : none,
        filter.recent.length > 0 ? api.listSummaries({ businessId: business.id, from: since, statuses: filter.recent, max: listMax }, signal) : none,
      ]);
      const seen = new Set(upcoming.posts.map((p) => p.id));
      return { posts: [...upcoming.posts, ...recent.posts.filter((p) => !seen.has(p.id))], more: upcoming.more || recent.more };
    },
    [business.id, view, monthKey(month), filterKey, view === 'calendar' && showCancelled],
    POLL_MS,
  );

  /** The open day dialog's own list, told about a move or cancel answered here. */
  const dayLive = useRef<((changed: PostSummary) => void) | undefined>(undefined);
  const replace = (changed: PostSummary) => (post: PostSummary) => (post.id === changed.id ? changed : post);
  const actions = usePostActions((full) => {
    const changed = summarize(full);
    live.mutate(
      (data) =>
        data && {
          ...data,
          posts: data.posts.map(replace(changed)),
          calendar: data.calendar && { ...data.calendar, days: data.calendar.days.map((day) => withChange(day, changed)) },
        },
    );
    dayLive.current?.(changed);
  });
  useEffect(() => {
    if (live.data) actions.settle(live.data.posts);
  }, [live.data]);
  // "Show more" loads the longer list in place (the load reads listMax when it runs): no flash of "Loading".
  useEffect(() => {
    if (listMax > LIST_STEP) live.refresh();
  }, [listMax]);
  useEffect(() => setListMax(LIST_STEP), [business.id, filterKey]);
  const posts = (live.data?.posts ?? []).map((post) => actions.present(post));
  const shown = (post: PostSummary) => showCancelled || post.status !== 'cancelled';
  // While "Show cancelled" reloads the same weeks, the weeks as last read stay on screen (no flash).
  const lastCalendar = useRef<CalendarAnswer | undefined>(undefined);
  if (live.data?.calendar) lastCalendar.current = live.data.calendar;
  const previous = lastCalendar.current;
  const calendar = live.data?.calendar ?? (previous?.businessId === business.id && previous.from === dateKey(grid[0]!) ? previous : undefined);
  const days = layoutDays(calendar?.days ?? [], zone, (post) => actions.present(post), shown);
  // Counted by the API whether shown or not (a cancel answered here is counted by withChange).
  const cancelledCount = (calendar?.days ?? []).reduce((sum, day) => sum + day.counts.cancelled, 0);
  const calendarEmpty = calendar !== undefined && [...days.values()].every((day) => day.count === 0);
  const movingIds = new Set(actions.pendingMoves.keys());

  const go = (query: Record<string, string | undefined>) => {
    window.location.hash = href('scheduled', { view, month: monthKey(month), status: view === 'list' && filterKey !== 'all' ? filterKey : undefined, ...query }).slice(1);
  };

  const dropOnDay = (post: PostSummary, days: number) => {
    const postZone = post.timezone ?? zone;
    const { instant } = shiftByDays(post.scheduledFor, postZone, days);
    if (instant.getTime() < Date.now()) {
      notify('error', `Post ${post.id} was not moved: that day and time (${postZone}) have already passed.`);
      return;
    }
    void actions.reschedule(post, instant, postZone);
  };

  return (
    <div class="scheduled">
      <div class="page-head">
        <h1>Scheduled</h1>
        <nav class="segmented" aria-label="View">
          <a href={href('scheduled', { view: 'calendar', month: monthKey(month) })} aria-current={view === 'calendar' ? 'page' : undefined}>
            Calendar
          </a>
          <a href={href('scheduled', { view: 'list', month: monthKey(month) })} aria-current={view === 'list' ? 'page' : undefined}>
            List
          </a>
        </nav>
      </div>

      {view === 'calendar' ? (
        <>
          <div class="toolbar">
            <div class="month-nav">
              <button type="button" class="icon-button" aria-label="Previous month" onClick={() => go({ month: monthKey(addMonths(month, -1)) })}>
                ‹
              </button>
              <h2 class="month-title" aria-live="polite" data-testid="month-title">
                {formatMonth(month.year, month.month)}
              </h2>
              <button type="button" class="icon-button" aria-label="Next month" onClick={() => go({ month: monthKey(addMonths(month, 1)) })}>
                ›
              </button>
              <button type="button" class="secondary small-button" onClick={() => go({ month: monthKey(today) })} disabled={monthKey(month) === monthKey(today)}>
                Today
              </button>
            </div>
            <LiveStatus live={live} zone={zone} />
          </div>
          <div class="calendar-options">
            <p class="muted small hint">Drag a scheduled post to another day to move it (same time of day), or use its ⇄ button.</p>
            <label class="checkbox small">
              <input
                type="checkbox"
                checked={showCancelled}
                onChange={(e) => {
                  setShowCancelled(e.currentTarget.checked);
                  remember('calendar.showCancelled', e.currentTarget.checked);
                }}
              />
              Show cancelled ({cancelledCount})
            </label>
          </div>
          <Calendar
            month={month}
            grid={grid}
            days={days}
            zone={zone}
            today={today}
            movingIds={movingIds}
            onDropOnDay={dropOnDay}
            onMove={setMoveTarget}
            onShowDay={setShownDay}
          />
          {calendarEmpty && (
            <div class="empty-state card" data-testid="empty-state">
              <p>Nothing planned in {formatMonth(month.year, month.month)}.</p>
              <a class="button primary" href="#/compose">
                Compose a post
              </a>
            </div>
          )}
        </>
      ) : (
        <>
          <div class="toolbar">
            <div class="field inline-field">
              <label for="list-filter">Show</label>
              <select id="list-filter" value={filterKey} onChange={(e) => go({ status: e.currentTarget.value === 'all' ? undefined : e.currentTarget.value })}>
                <option value="all">Upcoming and finished</option>
                <option value="upcoming">Upcoming only</option>
                <option value="published">Published</option>
                <option value="failed">Failed</option>
                <option value="cancelled">Cancelled</option>
              </select>
            </div>
            <LiveStatus live={live} zone={zone} />
          </div>
          {live.data ? (
            <PostList
              posts={posts}
              zone={zone}
              now={now}
              filterLabel={filter.label}
              pendingMoves={actions.pendingMoves}
              pendingCancels={actions.pendingCancels}
              onMove={setMoveTarget}
              onCancel={setCancelTarget}
              empty={
                <>
                  <p>No posts to show here yet.</p>
                  <a class="button primary" href="#/compose">
                    Compose a post
                  </a>
                </>
              }
            />
          ) : (
            !live.error && <p class="muted">Loading posts…</p>
          )}
          {live.data?.more && (
            <p class="list-more">
              <button type="button" class="secondary" data-testid="list-more" onClick={() => setListMax((max) => max + LIST_STEP)}>
                Show more
              </button>
            </p>
          )}
        </>
      )}

      {moveTarget && <MoveDialog post={moveTarget} zone={zone} onClose={() => setMoveTarget(undefined)} onMove={(instant, moveZone) => actions.reschedule(moveTarget, instant, moveZone)} />}
      {cancelTarget && <CancelDialog post={cancelTarget} zone={zone} onClose={() => setCancelTarget(undefined)} onConfirm={() => actions.cancel(cancelTarget)} />}
      {shownDay && (
        <DayDialog
          business={business}
          date={shownDay}
          range={calendar?.days.find((day) => day.date === dateKey(shownDay))}
          statuses={showCancelled ? ALL_STATUSES : LIVE_STATUSES}
          present={(post) => actions.present(post)}
          changes={dayLive}
          onClose={() => setShownDay(undefined)}
          onMove={(post) => {
            setShownDay(undefined);
            setMoveTarget(post);
          }}
        />
      )}
    </div>
  );
}

/** A day with a post as a move or cancel answered it; its counts follow a change of status. */
function withChange(day: CalendarDay, changed: PostSummary): CalendarDay {
  const before = day.posts.find((post) => post.id === changed.id);
  if (!before) return day;
  const counts = { ...day.counts };
  if (before.status !== changed.status) {
    counts[before.status] -= 1;
    counts[changed.status] += 1;
  }
  return { ...day, counts, posts: day.posts.map((post) => (post.id === changed.id ? changed : post)) };
}

/** What the page reads: the calendar (and its posts, for settling moves) or the list's posts. */
interface Loaded {
  calendar?: CalendarAnswer;
  posts: PostSummary[];
  more: boolean;
}

/**
 * Everything on one day (behind "+N more", and the way in on a phone): the day's posts read with the
 * lean list, page by page from the day's first instant to the next day's (the calendar's own
 * boundaries, DST included), kept live like the calendar.
 */
function DayDialog(props: {
  business: Business;
  date: CalendarDate;
  range?: { start: string; end: string };
  statuses: PostStatus[];
  present: (post: PostSummary) => PostSummary;
  changes: { current?: (changed: PostSummary) => void };
  onClose: () => void;
  onMove: (post: PostSummary) => void;
}) {
  const zone = props.business.timezone;
  const key = dateKey(props.date);
  const from = props.range ? new Date(props.range.start) : instantOf({ ...props.date, hour: 0, minute: 0 }, zone).instant;
  const to = props.range ? new Date(props.range.end) : instantOf({ ...addDays(props.date, 1), hour: 0, minute: 0 }, zone).instant;
  const live = useLive(
    (signal) => api.listSummaries({ businessId: props.business.id, from, to, statuses: props.statuses, max: DAY_MAX }, signal),
    [props.business.id, key, props.statuses.join(',')],
    POLL_MS,
  );
  useEffect(() => {
    props.changes.current = (changed) => live.mutate((data) => data && { ...data, posts: data.posts.map((post) => (post.id === changed.id ? changed : post)) });
    return () => {
      props.changes.current = undefined;
    };
  }, [live.mutate]);
  const posts = (live.data?.posts ?? [])
    .map((post) => props.present(post))
    .filter((post) => props.statuses.includes(post.status) && dateKey(wallTimeAt(post.scheduledFor, zone)) === key);
  return (
    <Modal title={formatLongDate(props.date)} onClose={props.onClose} testId="day-dialog">
      {live.data ? <DayPosts posts={posts} zone={zone} onMove={props.onMove} /> : !live.error && <p class="muted">Loading posts…</p>}
      {live.error && <p class="error">{live.error.message}</p>}
      {live.data?.more && (
        <p class="muted small" data-testid="day-more">
          Only the first {DAY_MAX} posts of this day are shown.
        </p>
      )}
    </Modal>
  );
}
