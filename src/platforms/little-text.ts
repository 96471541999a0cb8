/**
 * LinkedIn's "little" text format, used by the Posts API's `commentary`: a few characters start
 * markup (mentions, hashtag templates, …). LinkedIn silently cuts a post at the first reserved
 * character that is not backslash-escaped while still answering 201, so every one is escaped.
 * Wire facts: shared/spec/PLATFORMS.md.
 */

/** The reserved characters, as LinkedIn lists them. */
export const LITTLE_RESERVED_CHARACTERS = '\\|{}@[]()<>#*_~';

const RESERVED = new Set(LITTLE_RESERVED_CHARACTERS);
const RESERVED_PATTERN = /[\\|{}@[\]()<>#*_~]/g;

export function isLittleReserved(character: string): boolean {
  return RESERVED.has(character);
}

/** Plain text → little text that LinkedIn shows exactly as written. */
export function escapeLittleText(text: string): string {
  return text.replace(RESERVED_PATTERN, (character) => `\\${character}`);
}

/**
 * Little text → the plain text a reader sees. Only the escapes of reserved characters are
 * undone; a backslash before anything else is kept, as LinkedIn keeps it.
 */
export function unescapeLittleText(little: string): string {
  let plain = '';
  for (let i = 0; i < little.length; i++) {
    const next = little[i + 1];
    if (little[i] === '\\' && next !== undefined && RESERVED.has(next)) {
      plain += next;
      i++;
    } else {
      plain += little[i];
    }
  }
  return plain;
}

/**
 * Where LinkedIn stops reading plain text: the index of the first reserved character that is not
 * escaped (undefined when there is none). The fake cuts stored commentary here, as LinkedIn does.
 */
export function firstUnescapedReserved(little: string): number | undefined {
  for (let i = 0; i < little.length; i++) {
    const character = little[i]!;
    if (character === '\\' && little[i + 1] !== undefined && RESERVED.has(little[i + 1]!)) {
      i++; // an escape pair: the next character is plain text
      continue;
    }
    if (RESERVED.has(character)) return i;
  }
  return undefined;
}
