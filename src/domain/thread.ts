/**
 * Pure thread splitter: cuts a long text into parts that each fit a platform's length rule.
 *
 * The splitter is platform-neutral: a platform supplies `TextRules` (how to measure, the limit,
 * which ranges must never be cut). It is deterministic and pure — no clock, no randomness, no I/O —
 * so workflows may call it and tests may pin its output.
 *
 * Cut points, best first (the first class that offers any cut that fits wins; within that class
 * the cut that fills the part the most wins — plain greedy packing, no look-ahead):
 *   paragraph (blank line) → line break → sentence end (. ! ? … and CJK 。！？) → whitespace →
 *   between CJK / emoji characters (scripts that are written without spaces).
 * None of them may fall inside a protected range (URL, @mention, #hashtag, $cashtag).
 * Only when nothing of that fits is a part cut "hard" (with a `hard_split` warning): first at a
 * grapheme boundary outside protected ranges, then at any grapheme boundary (a protected token
 * longer than the limit), then at a code-point boundary (a single grapheme longer than the limit).
 * Surrogate pairs are never split.
 */
import { extractEntitiesWithIndices, parseTweet } from 'twitter-text';
import type { ThreadOptions } from './types';

export interface TextRules {
  /** Largest allowed `measure(part)`. */
  maxLength: number;
  /** Length of a text as the platform counts it (X: weighted length; others: characters). */
  measure(text: string): number;
  /** Full platform validity (length and content); parts that fail it get an `invalid` warning. */
  isValid?(text: string): boolean;
  /** UTF-16 [start, end) ranges that must not be cut (links, mentions, tags). */
  protectedRanges?(text: string): Array<[start: number, end: number]>;
  /** Normalise the input first, so our indices match the platform's (X counts NFC text). */
  normalize?: 'NFC';
}

/** `index` is 0-based; `length` is `rules.measure(text)`, numbering suffix included. */
export interface ThreadPart {
  index: number;
  text: string;
  length: number;
}

/**
 * - `hard_split`: the part was cut inside a word or protected token because no better cut fitted.
 * - `too_long`: the part is still over the limit (a single code point measures more than the limit).
 * - `invalid`: the part fits but `rules.isValid` rejects it (X: U+FFFE, U+FEFF, U+FFFF inside).
 * - `empty`: the input has no visible content; there are no parts.
 */
export type SplitWarningCode = 'hard_split' | 'too_long' | 'invalid' | 'empty';

export interface SplitWarning {
  code: SplitWarningCode;
  message: string;
  partIndex?: number;
}

export interface SplitResult {
  parts: ThreadPart[];
  warnings: SplitWarning[];
}

/* ---------------------------------------------------------------- platform rules */

const X_MAX_WEIGHTED_LENGTH = 280;

/**
 * X: twitter-text's weighted length (NFC, URLs 23, emoji and CJK 2). Entity indices from
 * `extractEntitiesWithIndices` are UTF-16 indices into the string as given, hence `normalize`.
 */
export const xTextRules: TextRules = {
  maxLength: X_MAX_WEIGHTED_LENGTH,
  normalize: 'NFC',
  measure: (text) => parseTweet(text).weightedLength,
  isValid: (text) => parseTweet(text).valid,
  protectedRanges: (text) => extractEntitiesWithIndices(text).map((entity) => entity.indices),
};

/**
 * Splits for X. Every part is `parseTweet`-valid, except that characters X always rejects
 * (U+FFFE, U+FFFF, and U+FEFF unless it sits at a cut or at either end, where it is trimmed as
 * whitespace) are kept as they are and the parts containing them get an `invalid` warning:
 * the splitter cuts text, it does not edit it. The parts are NFC-normalised, as X stores them.
 */
export function splitForX(text: string, options?: ThreadOptions): SplitResult {
  return splitText(text, xTextRules, options);
}

const PLAIN_URL = /https?:\/\/\S+/g;

/** Platforms that count Unicode code points (LinkedIn 3000, Facebook); URLs are kept whole. */
export function plainTextRules(maxLength: number): TextRules {
  return {
    maxLength,
    measure: countCodePoints,
    protectedRanges: (text) => Array.from(text.matchAll(PLAIN_URL), (m): [number, number] => [m.index, m.index + m[0].length]),
  };
}

function countCodePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point: skip the low half.
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++;
    count++;
  }
  return count;
}

/* ---------------------------------------------------------------- entry point */

export function splitText(text: string, rules: TextRules, options: ThreadOptions = {}): SplitResult {
  const prepared = (rules.normalize === 'NFC' ? text.normalize('NFC') : text).trim();
  if (prepared.length === 0) {
    return { parts: [], warnings: [{ code: 'empty', message: 'The text is empty: there is nothing to post.' }] };
  }
  if (rules.measure(prepared) <= rules.maxLength) {
    return finalize([{ text: prepared, hardSplit: false }], rules, false);
  }
  const layout = analyse(prepared, rules);
  if (!options.numbering) return finalize(pack(prepared, layout, rules, () => ''), rules, false);
  return finalize(packNumbered(prepared, layout, rules), rules, true);
}

/**
 * The " i/n" suffix counts inside the limit but n is only known after splitting: reserve room for
 * an n of `digits` digits, and redo with one digit more when the split needed more parts than that.
 * n only grows as the reserve grows, so this ends (at the latest when digits covers text.length).
 */
function packNumbered(text: string, layout: Layout, rules: TextRules): RawPart[] {
  for (let digits = 1; ; digits++) {
    const widestTotal = '9'.repeat(digits);
    const parts = pack(text, layout, rules, (partIndex) => numberSuffix(partIndex, widestTotal));
    if (String(parts.length).length <= digits) return parts;
  }
}

function numberSuffix(partIndex: number, total: string | number): string {
  return ` ${partIndex + 1}/${total}`;
}

interface RawPart {
  text: string;
  hardSplit: boolean;
}

function finalize(rawParts: RawPart[], rules: TextRules, numbering: boolean): SplitResult {
  const total = rawParts.length;
  const warnings: SplitWarning[] = [];
  const parts = rawParts.map((raw, index): ThreadPart => {
    const text = numbering && total > 1 ? raw.text + numberSuffix(index, total) : raw.text;
    const length = rules.measure(text);
    warnings.push(...warningsForPart(raw, text, length, index, rules));
    return { index, text, length };
  });
  return { parts, warnings };
}

function warningsForPart(raw: RawPart, text: string, length: number, index: number, rules: TextRules): SplitWarning[] {
  const where = `Part ${index + 1}`;
  if (length > rules.maxLength) {
    return [{ code: 'too_long', partIndex: index, message: `${where} measures ${length} (limit ${rules.maxLength}) and cannot be split further.` }];
  }
  const warnings: SplitWarning[] = [];
  if (raw.hardSplit) {
    warnings.push({ code: 'hard_split', partIndex: index, message: `${where} had to be cut inside a word or link: no better break fits.` });
  }
  if (rules.isValid && !rules.isValid(text)) {
    warnings.push({ code: 'invalid', partIndex: index, message: `${where} fits the length limit but the platform rejects its content.` });
  }
  return warnings;
}

/* ---------------------------------------------------------------- packing */

/**
 * Greedy: from `start`, take the furthest cut of the best cut level that still fits, then continue
 * after the whitespace at that cut. `suffixFor` is appended when measuring (numbering).
 */
function pack(text: string, layout: Layout, rules: TextRules, suffixFor: (partIndex: number) => string): RawPart[] {
  const parts: RawPart[] = [];
  let start = 0;
  while (start < text.length) {
    const suffix = suffixFor(parts.length);
    const fitsUpTo = (end: number): boolean => rules.measure(text.slice(start, end).trimEnd() + suffix) <= rules.maxLength;
    const cut = chooseCut(layout, start, fitsUpTo);
    const isLast = cut.end >= text.length; // every level ends with text.length: "the rest fits"
    parts.push({ text: text.slice(start, cut.end).trimEnd(), hardSplit: cut.hard && !isLast });
    start = isLast ? text.length : skipWhitespace(text, cut.next);
  }
  return parts;
}

interface Cut {
  /** The part ends here (exclusive). */
  end: number;
  /** The next part starts here (after the whitespace that the cut drops). */
  next: number;
  hard: boolean;
}

function chooseCut(layout: Layout, start: number, fitsUpTo: (end: number) => boolean): Cut {
  // One search over all entity-safe positions finds how far this part can reach; each cut class
  // then offers its furthest cut within reach, so the classes cost no search of their own. The
  // re-check only matters if measuring were not monotone; such a class is then passed over.
  const reach = furthestFitting(layout.safeLevel.ends, start, fitsUpTo);
  if (reach !== undefined) {
    for (const level of [...layout.softLevels, layout.safeLevel]) {
      const end = lastWithin(level.ends, start, reach);
      if (end !== undefined && (end === reach || fitsUpTo(end))) return cutAt(level, end);
    }
  }
  for (const level of layout.unsafeLevels) {
    const end = furthestFitting(level.ends, start, fitsUpTo);
    if (end !== undefined) return cutAt(level, end);
  }
  // Not even one code point fits (a limit below one character's weight): take it anyway so the
  // loop advances; `finalize` reports the part as too long.
  const end = start + String.fromCodePoint(layout.text.codePointAt(start)!).length;
  return { end, next: end, hard: false };
}

function cutAt(level: CutLevel, end: number): Cut {
  return { end, next: level.nextAfter?.get(end) ?? end, hard: level.hard };
}

/** The largest position in sorted `ends` with after < position <= limit. */
function lastWithin(ends: readonly number[], after: number, limit: number): number | undefined {
  const index = firstIndexAbove(ends, limit) - 1;
  return index >= 0 && ends[index] > after ? ends[index] : undefined;
}

/**
 * The largest position in sorted `ends` that is > `after` and fits. Assumes that fitting is
 * monotone along the text (a longer part never measures less); that holds at positions outside
 * entities (a cut inside "https://exa…" may measure oddly, but those are only last resorts).
 * Gallops forward, then bisects, so each part costs O(log n) measurements of bounded slices.
 */
function furthestFitting(ends: readonly number[], after: number, fits: (end: number) => boolean): number | undefined {
  let best = firstIndexAbove(ends, after);
  if (best >= ends.length || !fits(ends[best])) return undefined;
  let beyond = ends.length; // first index known (or assumed, at the end) not to fit
  for (let step = 1; best + step < ends.length; step *= 2) {
    if (!fits(ends[best + step])) {
      beyond = best + step;
      break;
    }
    best += step;
  }
  while (best + 1 < beyond) {
    const middle = (best + beyond) >>> 1;
    if (fits(ends[middle])) best = middle;
    else beyond = middle;
  }
  return ends[best];
}

function firstIndexAbove(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle] <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

function skipWhitespace(text: string, position: number): number {
  let at = Math.max(position, 0);
  while (at < text.length && /\s/.test(text[at])) at++;
  return at;
}

/* ---------------------------------------------------------------- text analysis */

/** Soft cut classes, best first; each level also offers every better class's cuts. */
const SOFT_RANKS = ['paragraph', 'line', 'sentence', 'word', 'character'] as const;
type SoftRank = (typeof SOFT_RANKS)[number];

interface CutLevel {
  /** Sorted, distinct end positions. */
  ends: number[];
  /** Where the next part starts, for cuts that drop whitespace; absent means "at the end". */
  nextAfter?: Map<number, number>;
  hard: boolean;
}

interface Layout {
  text: string;
  /** Paragraph, line, sentence, word, character cuts (each includes the better classes' cuts). */
  softLevels: CutLevel[];
  /** Every grapheme boundary outside protected ranges: a hard cut, but one that keeps entities. */
  safeLevel: CutLevel;
  /** Inside a protected token, then inside a grapheme (between code points): last resorts. */
  unsafeLevels: CutLevel[];
}

interface TextFacts {
  text: string;
  /** isGraphemeBoundary[p] = 1 when a cut at p keeps grapheme clusters (emoji, flags) whole. */
  isGraphemeBoundary: Uint8Array;
  /** insideProtected[p] = 1 when p is strictly inside a protected range. */
  insideProtected: Uint8Array;
  graphemeStarts: number[];
}

function analyse(text: string, rules: TextRules): Layout {
  const facts = collectFacts(text, rules);
  const softCuts = findSoftCuts(facts);
  const innerGraphemeStarts = facts.graphemeStarts.filter((p) => p > 0);
  const layout: Layout = {
    text,
    softLevels: SOFT_RANKS.map((_, rank) => softLevel(softCuts, rank)),
    safeLevel: { ends: innerGraphemeStarts.filter((p) => !facts.insideProtected[p]), hard: true },
    unsafeLevels: [
      { ends: innerGraphemeStarts, hard: true },
      { ends: codePointStarts(text), hard: true },
    ],
  };
  // The end of the text is the last cut of every level: reaching it means "the rest fits".
  for (const level of [...layout.softLevels, layout.safeLevel, ...layout.unsafeLevels]) level.ends.push(text.length);
  return layout;
}

interface SoftCut {
  end: number;
  next: number;
  rank: number;
}

function softLevel(cuts: SoftCut[], rank: number): CutLevel {
  const usable = cuts.filter((cut) => cut.rank <= rank);
  return { ends: usable.map((cut) => cut.end), nextAfter: new Map(usable.map((cut) => [cut.end, cut.next])), hard: false };
}

function collectFacts(text: string, rules: TextRules): TextFacts {
  const graphemeStarts = graphemeStartsOf(text);
  const isGraphemeBoundary = new Uint8Array(text.length + 1);
  for (const start of graphemeStarts) isGraphemeBoundary[start] = 1;
  isGraphemeBoundary[text.length] = 1;
  const insideProtected = new Uint8Array(text.length + 1);
  for (const [start, end] of rules.protectedRanges?.(text) ?? []) {
    for (let p = Math.max(start + 1, 0); p < Math.min(end, text.length + 1); p++) insideProtected[p] = 1;
  }
  return { text, isGraphemeBoundary, insideProtected, graphemeStarts };
}

const GRAPHEME_WINDOW = 512;

/**
 * Start offsets of the grapheme clusters (emoji ZWJ sequences, flags, letters with accents).
 * Node 20's Intl.Segmenter gets quadratically slow on long strings, so segment in windows. Each
 * window restarts at the last cluster start of the previous one: that start is a true boundary,
 * because whether p is a boundary depends only on the text before p and the character at p.
 */
function graphemeStartsOf(text: string): number[] {
  const segmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });
  const starts: number[] = [];
  let windowStart = 0;
  let windowSize = GRAPHEME_WINDOW;
  while (windowStart < text.length) {
    const windowEnd = Math.min(text.length, windowStart + windowSize);
    const local = Array.from(segmenter.segment(text.slice(windowStart, windowEnd)), (s) => windowStart + s.index);
    if (windowEnd === text.length) return starts.concat(local);
    const lastStart = local[local.length - 1];
    if (lastStart === windowStart) {
      windowSize *= 2; // a single cluster fills the whole window: look further
      continue;
    }
    starts.push(...local.slice(0, -1));
    windowStart = lastStart;
    windowSize = GRAPHEME_WINDOW;
  }
  return starts;
}

/** All soft cuts, one per end position (the best class wins), sorted by end. */
function findSoftCuts(facts: TextFacts): SoftCut[] {
  const byEnd = new Map<number, SoftCut>();
  const candidates = [...whitespaceCuts(facts), ...cjkSentenceCuts(facts), ...characterCuts(facts)];
  for (const cut of candidates) {
    if (!isCleanCut(facts, cut)) continue;
    const existing = byEnd.get(cut.end);
    if (!existing || cut.rank < existing.rank) byEnd.set(cut.end, cut);
  }
  return [...byEnd.values()].sort((a, b) => a.end - b.end);
}

/** A cut must keep graphemes whole and must not touch the inside of a protected range. */
function isCleanCut(facts: TextFacts, cut: SoftCut): boolean {
  if (cut.end <= 0 || cut.next >= facts.text.length) return false;
  if (!facts.isGraphemeBoundary[cut.end] || !facts.isGraphemeBoundary[cut.next]) return false;
  for (let p = cut.end; p <= cut.next; p++) if (facts.insideProtected[p]) return false;
  return true;
}

const rankOf = (name: SoftRank): number => SOFT_RANKS.indexOf(name);

const LINE_TERMINATOR = /\r\n|[\n\r\u2028\u2029\u0085]/g;
/** Sentence punctuation, optionally followed by closing quotes/brackets, right before the cut. */
const SENTENCE_END_BEFORE = /[.!?…‼⁇⁈⁉。！？][)\]"'»”’」』）]*$/;

function whitespaceCuts(facts: TextFacts): SoftCut[] {
  const { text } = facts;
  return Array.from(text.matchAll(/\s+/g), (match) => {
    const end = match.index;
    const next = end + match[0].length;
    const lineBreaks = match[0].match(LINE_TERMINATOR)?.length ?? 0;
    let name: SoftRank = 'word';
    if (lineBreaks >= 2 || match[0].includes('\u2029')) name = 'paragraph';
    else if (lineBreaks === 1) name = 'line';
    else if (SENTENCE_END_BEFORE.test(text.slice(Math.max(0, end - 8), end))) name = 'sentence';
    return { end, next, rank: rankOf(name) };
  });
}

/** CJK sentences end without a following space: "…です。次の…" may be cut right after 。. */
function cjkSentenceCuts(facts: TextFacts): SoftCut[] {
  return Array.from(facts.text.matchAll(/[。！？]+[」』）〉》】"”’]*(?=\S)/g), (match) => {
    const end = match.index + match[0].length;
    return { end, next: end, rank: rankOf('sentence') };
  });
}

/** Chinese/Japanese and emoji runs have no spaces; cutting between such characters is ordinary. */
const SPACELESS_CHARACTER = /^[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Extended_Pictographic}\p{Regional_Indicator}]/u;

function characterCuts(facts: TextFacts): SoftCut[] {
  const { text, graphemeStarts } = facts;
  const cuts: SoftCut[] = [];
  for (let i = 1; i < graphemeStarts.length; i++) {
    const before = text.slice(graphemeStarts[i - 1], graphemeStarts[i]);
    const after = text.slice(graphemeStarts[i], graphemeStarts[i + 1] ?? text.length);
    if (/\s/.test(before) || /\s/.test(after)) continue;
    if (SPACELESS_CHARACTER.test(before) || SPACELESS_CHARACTER.test(after)) {
      cuts.push({ end: graphemeStarts[i], next: graphemeStarts[i], rank: rankOf('character') });
    }
  }
  return cuts;
}

/** Every position that does not split a surrogate pair (the last resort for huge graphemes). */
function codePointStarts(text: string): number[] {
  const starts: number[] = [];
  let position = 0;
  for (const codePoint of text) {
    if (position > 0) starts.push(position);
    position += codePoint.length;
  }
  return starts;
}

/**
 * A first part measured by `first` and the following parts by `rest`: a post followed by comments,
 * whose limits differ. With numbering, room for " i/n" is reserved in every part, n growing one digit
 * at a time as in the plain splitter.  */
export function splitPostThenComments(text: string, first: TextRules, rest: TextRules, options: ThreadOptions = {}): SplitResult {
  const single = splitText(text, first, options);
  if (single.parts.length <= 1) return single;
  const prepared = (first.normalize === 'NFC' ? text.normalize('NFC') : text).trim();
  for (let digits = 1; ; digits++) {
    const reserve = options.numbering ? 2 * digits + 2 : 0; // " 99/99"
    const headSplit = splitText(prepared, { ...first, maxLength: first.maxLength - reserve });
    const head = headSplit.parts[0]!; // a prefix of `prepared`: the splitter only cuts and trims
    const tailSplit = splitText(prepared.slice(head.text.length), { ...rest, maxLength: rest.maxLength - reserve });
    const total = 1 + tailSplit.parts.length;
    if (options.numbering && String(total).length > digits) continue;
    const texts = [head.text, ...tailSplit.parts.map((part) => part.text)];
    const parts = texts.map((partText, index) => {
      const numbered = options.numbering ? `${partText} ${index + 1}/${total}` : partText;
      return { index, text: numbered, length: (index === 0 ? first : rest).measure(numbered) };
    });
    const warnings = [...headSplit.warnings.filter((w) => w.partIndex === 0), ...tailSplit.warnings.map(shiftWarning)];
    return { parts, warnings };
  }
}

/** A warning about part i of the tail is about part i + 1 of the whole thread. */
function shiftWarning(warning: SplitWarning): SplitWarning {
  if (warning.partIndex === undefined) return warning;
  const partIndex = warning.partIndex + 1;
  return { ...warning, partIndex, message: warning.message.replace(/^Part \d+/, `Part ${partIndex + 1}`) };
}

/**
 * A platform without threads: the whole text is one part, whatever its length; a warning says when
 * the platform will refuse it.
 */
export function singlePart(text: string, maxLength: number, platformName: string): SplitResult {
  const rules = plainTextRules(maxLength);
  const single = splitText(text, { ...rules, maxLength: Number.MAX_SAFE_INTEGER });
  const part = single.parts[0];
  if (!part || part.length <= maxLength) return single;
  const message = `Part 1 measures ${part.length} (limit ${maxLength}): ${platformName} refuses a text this long.`;
  return { parts: single.parts, warnings: [...single.warnings, { code: 'too_long', partIndex: 0, message }] };
}
