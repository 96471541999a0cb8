/**
 * Bounds on what the API accepts (issue #11, hole 7). Every field of a request has one; the OpenAPI
 * document states them (maxLength, maxItems, minimum/maximum, pattern), and a request outside them
 * is refused with 400 naming the field before anything is stored.
 */

/** Postgres `integer` (int4): every id and businessId fits in it; a larger number names nothing. */
export const MAX_ID = 2_147_483_647;

/** `scheduledFor` may lie at most this far ahead (two years): further is almost certainly a typo, and it keeps every timer finite. */
export const MAX_SCHEDULE_AHEAD_DAYS = 730;
export const MAX_SCHEDULE_AHEAD_MS = MAX_SCHEDULE_AHEAD_DAYS * 86_400_000;

/** The longest IANA time zone name is 32 characters (America/Argentina/ComodRivadavia). */
export const MAX_TIMEZONE_LENGTH = 64;
export const MAX_URL_LENGTH = 2048;
export const MAX_TOKEN_LENGTH = 10_000;
export const MAX_NAME_LENGTH = 200;

/**
 * C0 control characters other than tab, line feed and carriage return (and NUL among them): no
 * platform shows them, and Postgres refuses NUL in text. Refused with 400, never stripped: a
 * silently changed text is worse than a clear error.
 */
export const CONTROL_CHARACTERS = /[\x00-\x08\x0B\x0C\x0E-\x1F]/;
/** The same rule as a whole-string pattern, for zod and the OpenAPI document (ECMA and Python regex alike). */
export const NO_CONTROL_CHARACTERS = /^[^\x00-\x08\x0B\x0C\x0E-\x1F]*$/;
export const CONTROL_CHARACTERS_MESSAGE = 'must not contain control characters (only tab, line feed and carriage return are allowed)';

/** Where the first refused control character is, for the error message. */
export function controlCharacterAt(text: string): number | undefined {
  const match = CONTROL_CHARACTERS.exec(text);
  return match ? match.index : undefined;
}
