/** "Live" indicator: when the data last came from the server, and a plain warning when it is stale. */
import type { Live } from '../hooks';
import { useNow } from '../hooks';
import { formatTime } from '../format';

export function LiveStatus(props: { live: Live<unknown>; zone: string }) {
  const now = useNow(5000);
  const { live } = props;
  const age = live.updatedAt ? Math.round((now - live.updatedAt) / 1000) : undefined;
  return (
    <p class="live-status small" aria-live="polite">
      <span class="muted">Times in {props.zone.replace(/_/g, ' ')}</span>
      {live.error ? (
        <span class="stale" role="status">
          {' '}
          · Can’t reach Herald ({live.error.message}){live.updatedAt ? `; showing what it said at ${formatTime(new Date(live.updatedAt), props.zone)}` : ''}. Retrying…
        </span>
      ) : (
        <span class="muted">
          {' '}
          · <span class={`live-dot${live.loading ? ' loading' : ''}`} aria-hidden="true" />
          {age === undefined ? 'Loading…' : age < 10 ? 'Live' : `Updated ${age} s ago`}
        </span>
      )}
    </p>
  );
}
