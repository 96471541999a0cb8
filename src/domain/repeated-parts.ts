/**
 * Repeated parts: a thread whose parts include the same text twice. X (403 "duplicate content")
 * and LinkedIn (422 DUPLICATE_POST) refuse a post that repeats one the account just made, so such a
 * thread would fail halfway through publishing. It is found before anything is stored: the API
 * refuses the post, the dashboard's preview warns and holds back "Publish".
 *
 * Pure and dependency-free (no Node built-ins, no DOM): it runs in the API, in the workflow sandbox
 * and in the dashboard.
 */

/** A part that repeats an earlier one. Both are 0-based part indexes; `sameAs` < `index`. */
export interface RepeatedPart {
  index: number;
  /** The first part with the same text. */
  sameAs: number;
}

/**
 * The text as the platforms compare it: NFC, every whitespace run (line breaks included) as one
 * space, no leading or trailing whitespace. Case and punctuation count.
 */
export function comparablePartText(text: string): string {
  return text.normalize('NFC').replace(/\s+/g, ' ').trim();
}

/**
 * Every part whose text equals an earlier part's, in part order, each pointing at the first part
 * with that text (for parts 1, 3 and 5 alike: 3 → 1 and 5 → 1). Empty when all parts differ.
 */
export function findRepeatedParts(parts: ReadonlyArray<{ index: number; text: string }>): RepeatedPart[] {
  const firstWithText = new Map<string, number>();
  const repeats: RepeatedPart[] = [];
  for (const part of parts) {
    const key = comparablePartText(part.text);
    const first = firstWithText.get(key);
    if (first === undefined) firstWithText.set(key, part.index);
    else repeats.push({ index: part.index, sameAs: first });
  }
  return repeats;
}

/** What `describeRepeatedParts` says by default should be done about it (the API's words). */
export const REPEATED_PARTS_REMEDY = 'turn on numbering (thread.numbering) or change the text';

/**
 * Groups of 0-based part indexes with the same text, each group in part order (the first part, then
 * its repeats), groups ordered by their first part.
 */
export function repeatedPartGroups(repeats: ReadonlyArray<RepeatedPart>): number[][] {
  const groups = new Map<number, Set<number>>();
  for (const { index, sameAs } of repeats) {
    const group = groups.get(sameAs) ?? new Set([sameAs]);
    group.add(index);
    groups.set(sameAs, group);
  }
  return [...groups.entries()].sort(([a], [b]) => a - b).map(([, group]) => [...group].sort((a, b) => a - b));
}

/**
 * One sentence for a person, with 1-based part numbers and no final full stop (like the API's other
 * field messages), e.g. "parts 2 and 4 of the X thread have the same text, and X refuses a repeated
 * post: turn on numbering (thread.numbering) or change the text". Several groups are one sentence:
 * "parts 1, 3 and 5 of the X thread have the same text, so do parts 2 and 4, and X refuses …".
 * `remedy` replaces the advice after the colon (the dashboard names its own checkbox).
 * Empty when there is nothing repeated.
 */
export function describeRepeatedParts(platformLabel: string, repeats: ReadonlyArray<RepeatedPart>, remedy: string = REPEATED_PARTS_REMEDY): string {
  const groups = repeatedPartGroups(repeats);
  if (groups.length === 0) return '';
  const [first, ...others] = groups.map((group) => `parts ${listNumbers(group)}`);
  const alsoSame = others.map((parts) => `, so do ${parts}`).join('');
  return `${first} of the ${platformLabel} thread have the same text${alsoSame}, and ${platformLabel} refuses a repeated post: ${remedy}`;
}

/** 0-based indexes as "2 and 4" or "1, 3 and 5" (1-based). */
function listNumbers(indexes: readonly number[]): string {
  const numbers = indexes.map((index) => String(index + 1));
  if (numbers.length <= 1) return numbers.join('');
  return `${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]}`;
}
