/**
 * A month of posts. Drag a scheduled post to another day to move it there at the same time of day
 * (in the post's own time zone); the "Move" button on each post does the same from the keyboard.
 */
import { useRef, useState } from 'preact/hooks';
import { postText, type CalendarDay, type PostSummary as Post } from '../api';
import { formatLongDate, formatTime, weekdayNames } from '../format';
import { PLATFORM_META, POST_STATUS_LABEL } from '../platforms';
import { dateKey, daysBetween, parseDateKey, wallTimeAt, type CalendarDate } from '../time';
import { PlatformMark } from './Badges';

/** Posts shown on a day before "+N more"; the calendar asks the API for this many a day. */
export const VISIBLE_PER_DAY = 3;
const DRAG_TYPE = 'application/x-herald-post';

/** A day as the calendar shows it: its first posts, and how many it has in all (of the statuses shown). */
export interface DayCell {
  posts: Post[];
  count: number;
}

const byTime = (a: Post, b: Post) => Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor) || a.id - b.id;

/**
 * The API's days (`GET /calendar`: counts and first posts per day of `zone`) as the page shows them:
 * each post through `present` (a move in flight shows on its new day, a local cancel leaves the view
 * unless cancelled posts are shown), the counts following the posts that moved or left.
 */
export function layoutDays(days: CalendarDay[], zone: string, present: (post: Post) => Post, shown: (post: Post) => boolean): Map<string, DayCell> {
  const cells = new Map<string, DayCell>(days.map((day) => [day.date, { posts: [], count: day.matching }]));
  for (const day of days) {
    const home = cells.get(day.date)!;
    for (const listed of day.posts) {
      const post = present(listed);
      const key = dateKey(wallTimeAt(post.scheduledFor, zone));
      if (shown(post) && key === day.date) {
        home.posts.push(post);
        continue;
      }
      home.count -= 1;
      const target = shown(post) ? cells.get(key) : undefined;
      if (target) {
        target.posts.push(post);
        target.count += 1;
      }
    }
  }
  for (const cell of cells.values()) cell.posts.sort(byTime);
  return cells;
}

export function Calendar(props: {
  month: { year: number; month: number };
  grid: CalendarDate[];
  days: ReadonlyMap<string, DayCell>;
  zone: string;
  today: CalendarDate;
  movingIds: ReadonlySet<number>;
  onDropOnDay: (post: Post, days: number) => void;
  onMove: (post: Post) => void;
  onShowDay: (date: CalendarDate) => void;
}) {
  const todayKey = dateKey(props.today);
  const dragging = useRef<{ post: Post; from: string } | undefined>(undefined);
  const [dropKey, setDropKey] = useState<string>();
  const weekdays = weekdayNames('short');
  const weekdaysLong = weekdayNames('long');
  const weeks = Array.from({ length: props.grid.length / 7 }, (_, w) => props.grid.slice(w * 7, w * 7 + 7));

  const acceptsDrop = (key: string) => dragging.current !== undefined && key >= todayKey && key !== dragging.current.from;

  return (
    <table class="calendar" data-testid="calendar">
      <thead>
        <tr>
          {weekdays.map((name, i) => (
            <th key={name} scope="col" abbr={weekdaysLong[i]}>
              {name}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {weeks.map((week) => (
          <tr key={dateKey(week[0]!)}>
            {week.map((date) => {
              const key = dateKey(date);
              const { posts, count } = props.days.get(key) ?? { posts: [], count: 0 };
              const inMonth = date.month === props.month.month;
              const past = key < todayKey;
              const classes = ['day', inMonth ? '' : 'other-month', key === todayKey ? 'today' : '', past ? 'past' : '', dropKey === key ? 'drop-target' : ''].filter(Boolean).join(' ');
              return (
                <td
                  key={key}
                  class={classes}
                  data-day={key}
                  aria-current={key === todayKey ? 'date' : undefined}
                  onDragOver={(event) => {
                    if (!acceptsDrop(key)) return;
                    event.preventDefault();
                    if (event.dataTransfer) event.dataTransfer.dropEffect = 'move';
                    if (dropKey !== key) setDropKey(key);
                  }}
                  onDragLeave={(event) => {
                    if (!(event.currentTarget as HTMLElement).contains(event.relatedTarget as Node | null)) setDropKey((current) => (current === key ? undefined : current));
                  }}
                  onDrop={(event) => {
                    event.preventDefault();
                    setDropKey(undefined);
                    const drag = dragging.current;
                    dragging.current = undefined;
                    if (!drag || !acceptsDropFor(drag.from, key, todayKey)) return;
                    props.onDropOnDay(drag.post, daysBetween(parseDateKey(drag.from)!, date));
                  }}
                >
                  <div class="day-head">
                    <button type="button" class="day-number" aria-label={`${formatLongDate(date)}: ${count === 0 ? 'no posts' : `${count} post${count === 1 ? '' : 's'}`}`} onClick={() => props.onShowDay(date)}>
                      {date.day}
                    </button>
                  </div>
                  {posts.length > 0 && (
                    <ul class="day-posts">
                      {posts.slice(0, VISIBLE_PER_DAY).map((post) => (
                        <PostChip
                          key={post.id}
                          post={post}
                          zone={props.zone}
                          moving={props.movingIds.has(post.id)}
                          onDragStart={() => (dragging.current = { post, from: key })}
                          onDragEnd={() => {
                            dragging.current = undefined;
                            setDropKey(undefined);
                          }}
                          onMove={() => props.onMove(post)}
                        />
                      ))}
                    </ul>
                  )}
                  {count > Math.min(posts.length, VISIBLE_PER_DAY) && (
                    <button type="button" class="more" onClick={() => props.onShowDay(date)} aria-label={`${count - Math.min(posts.length, VISIBLE_PER_DAY)} more posts on ${formatLongDate(date)}`}>
                      +{count - Math.min(posts.length, VISIBLE_PER_DAY)} more
                    </button>
                  )}
                </td>
              );
            })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function acceptsDropFor(from: string, to: string, today: string): boolean {
  return to >= today && to !== from;
}

function PostChip(props: { post: Post; zone: string; moving: boolean; onDragStart: () => void; onDragEnd: () => void; onMove: () => void }) {
  const { post } = props;
  const movable = post.status === 'scheduled';
  const time = formatTime(post.scheduledFor, props.zone);
  const platforms = post.platforms.map((p) => PLATFORM_META[p].label).join(', ');
  return (
    <li class={`chip chip-${post.status}${props.moving ? ' moving' : ''}`} data-post-id={post.id} data-status={post.status}>
      <a
        href={`#/posts/${post.id}`}
        class="chip-link"
        draggable={movable}
        title={postText(post)}
        aria-label={`${time}, ${platforms}, ${POST_STATUS_LABEL[post.status]}${props.moving ? ' (moving)' : ''}: ${postText(post).slice(0, 80)}`}
        onDragStart={(event) => {
          if (!movable || !event.dataTransfer) return;
          event.dataTransfer.effectAllowed = 'move';
          event.dataTransfer.setData(DRAG_TYPE, String(post.id));
          event.dataTransfer.setData('text/plain', `Post ${post.id}`);
          props.onDragStart();
        }}
        onDragEnd={props.onDragEnd}
      >
        <time class="chip-time" dateTime={post.scheduledFor}>
          {time}
        </time>
        <span class="chip-marks">
          {post.platforms.map((p) => (
            <PlatformMark key={p} platform={p} small />
          ))}
        </span>
        <span class="chip-text">{postText(post)}</span>
      </a>
      {movable && (
        <button type="button" class="chip-move" aria-label={`Move post ${post.id} to another day`} title="Move to…" onClick={props.onMove}>
          <span aria-hidden="true">⇄</span>
        </button>
      )}
    </li>
  );
}

/** Everything on one day (behind "+N more", and the way in on a phone). */
export function DayPosts(props: { posts: Post[]; zone: string; onMove: (post: Post) => void }) {
  if (props.posts.length === 0) return <p class="muted">No posts on this day.</p>;
  return (
    <ul class="day-list">
      {props.posts.map((post) => (
        <li key={post.id} class={`day-list-item chip-${post.status}`} data-post-id={post.id}>
          <a href={`#/posts/${post.id}`}>
            <strong>{formatTime(post.scheduledFor, props.zone)}</strong> · {POST_STATUS_LABEL[post.status]} · {post.platforms.map((p) => PLATFORM_META[p].label).join(', ')}
            <span class="day-list-text">{postText(post)}</span>
          </a>
          {post.status === 'scheduled' && (
            <button type="button" class="secondary small-button" onClick={() => props.onMove(post)}>
              Move…
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}
