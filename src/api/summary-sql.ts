/**
 * SQL fragments of the lean post shape (PostSummary), shared by the paged list
 * (`GET /scheduled?view=summary`) and the calendar (`GET /calendar`): one definition of the shape,
 * built by Postgres, no entities.
 */
import { EXCERPT_LENGTH } from './schemas';

/** A timestamptz as `Date.toISOString()` writes it (UTC, milliseconds), or null. */
export function iso(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The PostSummary of the `posts` row `p` as JSON: the first EXCERPT_LENGTH characters, the target statuses by target id. */
export function postSummaryJson(p: string): string {
  return `json_build_object(
            'id', ${p}.id, 'scheduledFor', ${iso(`${p}.scheduled_for`)}, 'timezone', ${p}.timezone, 'platforms', to_json(${p}.platforms), 'status', ${p}.status,
            'excerpt', left(${p}.content, ${EXCERPT_LENGTH}), 'truncated', char_length(${p}.content) > ${EXCERPT_LENGTH},
            'targets', coalesce((select json_agg(json_build_object('platform', t.platform, 'status', t.status, 'url', t.url, 'errorClass', t.error_class) order by t.id)
                                 from post_targets t where t.post_id = ${p}.id), '[]'::json))`;
}
