/** Date, time and time zone fields, with what they mean as an instant (and in UTC). */
import { useId, useMemo } from 'preact/hooks';
import { formatDateTime, formatUtc } from '../format';
import { addDays, browserTimeZone, dateKey, instantOf, isoInZone, isValidTimeZone, parseDateKey, parseTimeOfDay, timeZoneNames, todayIn, type ZoneAdjustment } from '../time';

export interface WhenValue {
  date: string;
  time: string;
  zone: string;
}

export interface ResolvedWhen {
  instant?: Date;
  /** ISO 8601 with the zone's offset, for the API. */
  iso?: string;
  adjustment?: ZoneAdjustment;
  /** Why this cannot be used (missing, malformed, in the past). */
  problem?: { field: 'date' | 'time' | 'zone'; message: string };
}

/** The API refuses times more than 60 s in the past; refuse a bit earlier so the request cannot race it. */
const PAST_SLACK_MS = 30_000;

export function resolveWhen(value: WhenValue, now = Date.now()): ResolvedWhen {
  if (!isValidTimeZone(value.zone)) return { problem: { field: 'zone', message: 'Choose a time zone from the list.' } };
  const date = parseDateKey(value.date);
  if (!date) return { problem: { field: 'date', message: 'Enter a date.' } };
  const time = parseTimeOfDay(value.time);
  if (!time) return { problem: { field: 'time', message: 'Enter a time.' } };
  const { instant, adjustment } = instantOf({ ...date, ...time }, value.zone);
  if (instant.getTime() < now - PAST_SLACK_MS) {
    return { instant, adjustment, problem: { field: 'time', message: `That time has already passed in ${value.zone}. Pick a later time.` } };
  }
  return { instant, adjustment, iso: isoInZone(instant, value.zone) };
}

/** Tomorrow at 09:00 in `zone`: the default for a new scheduled post. */
export function defaultWhen(zone: string, now = Date.now()): WhenValue {
  return { date: dateKey(addDays(todayIn(zone, now), 1)), time: '09:00', zone };
}

export function WhenFields(props: {
  value: WhenValue;
  onChange: (value: WhenValue) => void;
  /** Zones to keep in the list even if the browser does not know them (the business's). */
  knownZones?: string[];
  /** Server-side problems (paths `scheduledFor`, `timezone`). */
  serverErrors?: { scheduledFor?: string; timezone?: string };
  now?: number;
}) {
  const id = useId();
  const zones = useMemo(() => timeZoneNames(props.value.zone, browserTimeZone(), ...(props.knownZones ?? [])), [props.value.zone, props.knownZones?.join()]);
  const resolved = resolveWhen(props.value, props.now);
  const set = (patch: Partial<WhenValue>) => props.onChange({ ...props.value, ...patch });
  const today = dateKey(todayIn(isValidTimeZone(props.value.zone) ? props.value.zone : 'UTC', props.now));
  const dateError = resolved.problem?.field === 'date' ? resolved.problem.message : undefined;
  const timeError = resolved.problem?.field === 'time' ? resolved.problem.message : props.serverErrors?.scheduledFor;
  const zoneError = resolved.problem?.field === 'zone' ? resolved.problem.message : props.serverErrors?.timezone;
  const local = browserTimeZone();

  return (
    <div class="when-fields">
      <div class="field-row">
        <div class="field">
          <label for={`${id}-date`}>Date</label>
          <input id={`${id}-date`} name="date" type="date" required min={today} value={props.value.date} aria-invalid={dateError ? 'true' : undefined} aria-describedby={`${id}-summary`} onInput={(e) => set({ date: e.currentTarget.value })} />
          {dateError && <p class="field-error" role="alert">{dateError}</p>}
        </div>
        <div class="field">
          <label for={`${id}-time`}>Time</label>
          <input id={`${id}-time`} name="time" type="time" required step={60} value={props.value.time} aria-invalid={timeError ? 'true' : undefined} aria-describedby={`${id}-summary`} onInput={(e) => set({ time: e.currentTarget.value })} />
        </div>
      </div>
      {timeError && <p class="field-error" role="alert" data-testid="when-error">{timeError}</p>}
      <div class="field">
        <label for={`${id}-zone`}>Time zone</label>
        <select id={`${id}-zone`} name="timezone" value={props.value.zone} aria-invalid={zoneError ? 'true' : undefined} onChange={(e) => set({ zone: e.currentTarget.value })}>
          {zones.map((zone) => (
            <option key={zone} value={zone}>
              {zone.replace(/_/g, ' ')}
            </option>
          ))}
        </select>
        {zoneError && <p class="field-error" role="alert">{zoneError}</p>}
      </div>
      <div class="when-summary" id={`${id}-summary`} aria-live="polite" data-testid="when-summary">
        {resolved.instant && !Number.isNaN(resolved.instant.getTime()) ? (
          <>
            <p>
              <strong>{formatDateTime(resolved.instant, props.value.zone)}</strong> in {props.value.zone.replace(/_/g, ' ')}
            </p>
            <p class="muted">
              = <span data-testid="when-utc">{formatUtc(resolved.instant)}</span>
              {local !== props.value.zone && local !== 'UTC' && <> · {formatDateTime(resolved.instant, local)} your time</>}
            </p>
            {resolved.adjustment === 'skipped' && (
              <p class="warning">{props.value.time} does not exist on that day in {props.value.zone} (the clocks jump forward); it will post at the time shown.</p>
            )}
            {resolved.adjustment === 'ambiguous' && (
              <p class="warning">{props.value.time} happens twice that day in {props.value.zone} (the clocks go back); Herald uses the first one.</p>
            )}
          </>
        ) : (
          <p class="muted">Pick a date and time.</p>
        )}
      </div>
    </div>
  );
}
