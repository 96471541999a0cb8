import { extractEntitiesWithIndices, parseTweet } from 'twitter-text';
import { plainTextRules, splitForX, splitText, xTextRules, type SplitResult, type TextRules } from '../../src/domain/thread';

/* ---------------------------------------------------------------- helpers */

const X_LIMIT = 280;

/**
 * ASCII words ("w0000 w0001 …", numbering from `seed`) cut to exactly `length` characters; a
 * trailing space at the cut is replaced by "z" so the text really has that length (each weighs 1 on X).
 */
function asciiText(length: number, seed = 0): string {
  let text = '';
  for (let i = seed; text.length < length; i++) text += (text ? ' ' : '') + `w${String(i).padStart(4, '0')}`;
  return text.slice(0, length).trimEnd().padEnd(length, 'z');
}

function texts(result: SplitResult): string[] {
  return result.parts.map((part) => part.text);
}

function removeWhitespace(text: string): string {
  return text.replace(/\s+/g, '');
}

function collapseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * Checks that the parts are consecutive slices of the (NFC, trimmed) input and that only
 * whitespace lies between them — i.e. joining them reproduces the input apart from whitespace at
 * the cut points. Returns each part's [start, end) in the input.
 */
function expectPartsTileInput(input: string, partTexts: string[]): Array<[number, number]> {
  const source = input.normalize('NFC');
  const ranges: Array<[number, number]> = [];
  let position = 0;
  for (const text of partTexts) {
    while (position < source.length && /\s/.test(source[position])) position++;
    if (source.slice(position, position + text.length) !== text) {
      throw new Error(`part ${JSON.stringify(text.slice(0, 40))} is not the next slice of the input at ${position}`);
    }
    ranges.push([position, position + text.length]);
    position += text.length;
  }
  expect(source.slice(position).trim()).toBe('');
  return ranges;
}

function expectEveryPartValidForX(result: SplitResult): void {
  expect(result.parts.length).toBeGreaterThan(0);
  result.parts.forEach((part, index) => {
    const parsed = parseTweet(part.text);
    expect({ index, valid: parsed.valid }).toEqual({ index, valid: true });
    expect(part.index).toBe(index);
    expect(part.length).toBe(parsed.weightedLength);
    expect(part.length).toBeLessThanOrEqual(X_LIMIT);
    expect(part.text).toBe(part.text.trim());
    expect(part.text.length).toBeGreaterThan(0);
  });
}

const NUMBER_SUFFIX = / (\d+)\/(\d+)$/;

function expectNumbered(result: SplitResult): string[] {
  const total = result.parts.length;
  return result.parts.map((part, index) => {
    expect(part.text.endsWith(` ${index + 1}/${total}`)).toBe(true);
    return part.text.replace(NUMBER_SUFFIX, '');
  });
}

function graphemes(text: string): string[] {
  return Array.from(new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text), (s) => s.segment);
}

/** A tiny deterministic generator (Numerical Recipes LCG), so the property test needs no dependency. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x100000000;
  };
}

/* ---------------------------------------------------------------- fitting text */

describe('splitForX when the text fits', () => {
  it('when the text is short, then it returns one part with the text unchanged', () => {
    const text = 'Hello @herald, see https://example.com/launch #launch $HRLD 🚀';
    const result = splitForX(text);
    expect(result).toEqual({ parts: [{ index: 0, text, length: parseTweet(text).weightedLength }], warnings: [] });
  });

  it('when the text has surrounding whitespace, then the single part is trimmed and otherwise unchanged', () => {
    expect(texts(splitForX('  \n hello\n\n  world \t\n'))).toEqual(['hello\n\n  world']);
  });

  it('when the text weighs exactly 280, then it is one part', () => {
    const text = asciiText(280);
    expect(parseTweet(text).weightedLength).toBe(280);
    expect(texts(splitForX(text))).toEqual([text]);
  });

  it('when the text weighs 281, then it is two valid parts', () => {
    const text = asciiText(281);
    expect(parseTweet(text).weightedLength).toBe(281);
    const result = splitForX(text);
    expect(result.parts).toHaveLength(2);
    expectEveryPartValidForX(result);
    expectPartsTileInput(text, texts(result));
    expect(result.warnings).toEqual([]);
  });

  it('when the text is only whitespace, then there are no parts and an empty warning', () => {
    const result = splitForX(' \n\t ');
    expect(result.parts).toEqual([]);
    expect(result.warnings.map((w) => w.code)).toEqual(['empty']);
  });

  it('when the text is not NFC, then it is normalised the way X counts it', () => {
    const decomposed = 'e\u0301'.repeat(200); // 400 code units, 200 weighted after NFC
    const result = splitForX(decomposed);
    expect(texts(result)).toEqual(['\u00e9'.repeat(200)]);
    expect(result.parts[0].length).toBe(200);
  });
});

/* ---------------------------------------------------------------- cut preferences */

describe('splitForX cut preferences', () => {
  const sentence = (n: number, length: number): string => `S${n} ${asciiText(length - 4, n * 100)}.`;

  it('when paragraphs fit, then it cuts at the furthest blank line rather than filling with the next paragraph', () => {
    const p1 = `${sentence(1, 50)} ${sentence(2, 49)}`; // 100
    const p2 = `${sentence(3, 60)}\n${sentence(4, 39)}`; // 100, with a line break inside
    const p3 = `Short one. ${sentence(5, 150)}`; // a sentence cut would have filled part 1 with "Short one."
    const result = splitForX(`${p1}\n\n${p2}\n\n${p3}`);
    expect(texts(result)).toEqual([`${p1}\n\n${p2}`, p3]);
  });

  it('when there are no blank lines, then it cuts at the furthest line break before any sentence end', () => {
    const l1 = `${sentence(1, 90)} ${sentence(2, 90)}`; // 181
    const l2 = sentence(3, 90);
    const l3 = `Tiny. ${sentence(4, 120)}`;
    expect(texts(splitForX(`${l1}\n${l2}\n${l3}`))).toEqual([`${l1}\n${l2}`, l3]);
  });

  it('when there are no line breaks, then it cuts after the furthest sentence that fits', () => {
    const sentences = [sentence(1, 99), sentence(2, 99), sentence(3, 99), sentence(4, 99)];
    const result = splitForX(sentences.join(' '));
    expect(texts(result)).toEqual([`${sentences[0]} ${sentences[1]}`, `${sentences[2]} ${sentences[3]}`]);
  });

  it('when sentences end with ! ? … or a closing quote, then those are sentence ends too', () => {
    const a = `${asciiText(60, 1)}!`; // 61
    const b = `He asked "${asciiText(150, 2)}?"`; // 162: "a b" = 224 fits only if '?"' ends a sentence
    const c = `${asciiText(100, 3)}…`; // 101: "c d" = 302 does not fit, so part 2 must end at '…'
    const d = asciiText(200, 4);
    expect(texts(splitForX([a, b, c, d].join(' ')))).toEqual([`${a} ${b}`, c, d]);
  });

  it('when the text is one long sentence, then it cuts at the furthest word boundary', () => {
    const words = Array.from({ length: 120 }, (_, i) => `word${i}`);
    const result = splitForX(words.join(' '));
    let firstPart = words[0];
    for (const word of words.slice(1)) {
      if (`${firstPart} ${word}`.length > X_LIMIT) break;
      firstPart += ` ${word}`;
    }
    expect(result.parts[0].text).toBe(firstPart);
    expect(result.parts.flatMap((part) => part.text.split(' '))).toEqual(words);
    expectEveryPartValidForX(result);
    expect(result.warnings).toEqual([]);
  });
});

/* ---------------------------------------------------------------- entities */

describe('splitForX protected entities', () => {
  const longUrl = `https://example.com/${'a'.repeat(180)}`;

  it('when a 200-char URL sits in 250 chars of text, then the URL counts 23 and the text stays one part', () => {
    expect(longUrl).toHaveLength(200);
    const text = `${asciiText(125)} ${longUrl} ${asciiText(123, 50)}`;
    const result = splitForX(text);
    expect(texts(result)).toEqual([text]);
    expect(result.parts[0].length).toBe(125 + 1 + 23 + 1 + 123);
    expectEveryPartValidForX(result);
  });

  it('when the limit falls inside a URL, then the URL moves whole to the next part', () => {
    const text = `${asciiText(270)} ${longUrl} and some more words after it`;
    const result = splitForX(text);
    expect(texts(result)).toEqual([asciiText(270), `${longUrl} and some more words after it`]);
    expectEveryPartValidForX(result);
  });

  it('when the limit falls inside a URL in text without spaces, then the hard cut lands before the URL', () => {
    const text = `${'x'.repeat(270)}(${longUrl})${'y'.repeat(50)}`;
    const result = splitForX(text);
    expect(result.parts[1].text.startsWith(longUrl)).toBe(true);
    expectEveryPartValidForX(result);
    expect(result.warnings.map((w) => w.code)).toEqual(['hard_split']);
  });

  it.each([
    ['@mention', '@someuser_x'],
    ['#hashtag', '#launchday'],
    ['list @mention', '@someuser/mylist'],
  ])('when the limit falls inside a %s in text without spaces, then the token is not cut', (_kind, token) => {
    const text = `${'x'.repeat(277)}(${token})${'y'.repeat(60)}`; // a cut at 280 would fall inside the token
    expect(extractEntitiesWithIndices(text).map((e) => text.slice(...e.indices))).toEqual([token]);
    const result = splitForX(text);
    expect(result.parts[1].text.startsWith(token)).toBe(true);
    expectEveryPartValidForX(result);
  });

  it('when the limit falls inside a CJK hashtag, then the cut between CJK characters avoids it', () => {
    const text = `${'あ'.repeat(135)}、#日本語タグ、${'で'.repeat(30)}`;
    const result = splitForX(text);
    expect(texts(result)).toEqual(['あ'.repeat(135), `、#日本語タグ、${'で'.repeat(30)}`]);
    expect(result.warnings).toEqual([]);
  });
});

/* ---------------------------------------------------------------- emoji and CJK */

describe('splitForX emoji and CJK', () => {
  const EMOJI = ['👨‍👩‍👧‍👦', '🇺🇸', '🇯🇵', '😀', '👍🏽', '🏳️‍🌈', '❤️', '1️⃣'];

  it('when the text is 200 emoji without spaces, then ZWJ sequences and flags stay whole and each counts 2', () => {
    const sequence = Array.from({ length: 200 }, (_, i) => EMOJI[i % EMOJI.length]);
    const text = sequence.join('');
    const result = splitForX(text);
    expect(result.parts.map((part) => part.length)).toEqual([280, 120]);
    expectEveryPartValidForX(result);
    expect(result.parts.flatMap((part) => graphemes(part.text))).toEqual(sequence);
    expect(texts(result).join('')).toBe(text);
    expect(result.warnings).toEqual([]);
  });

  it('when the cut point is right before a ZWJ family, then the family moves whole to the next part', () => {
    const text = `${'a'.repeat(279)}👨‍👩‍👧‍👦${'b'.repeat(10)}`;
    const result = splitForX(text);
    expect(texts(result)).toEqual(['a'.repeat(279), `👨‍👩‍👧‍👦${'b'.repeat(10)}`]);
  });

  it('when CJK sentences end with 。, then each part ends at the furthest 。 that fits', () => {
    // 13 characters = 26 weighted: ten sentences weigh 260, so a cut between any two characters
    // (which would fill to 280) gives a different answer than a cut at 。.
    const sentences = Array.from({ length: 25 }, (_, i) => `${'漢字'.repeat(6).slice(0, 11)}${'かな'.charAt(i % 2)}。`);
    expect(sentences[0]).toHaveLength(13);
    const result = splitForX(sentences.join(''));
    expect(texts(result)).toEqual([sentences.slice(0, 10).join(''), sentences.slice(10, 20).join(''), sentences.slice(20).join('')]);
    expect(result.parts[0].length).toBe(260);
    expectEveryPartValidForX(result);
  });

  it('when CJK text has no punctuation, then it splits into 140-character parts without warnings', () => {
    const text = '中文字符'.repeat(75); // 300 characters
    const result = splitForX(text);
    expect(result.parts.map((part) => part.text.length)).toEqual([140, 140, 20]);
    expect(result.warnings).toEqual([]);
    expectEveryPartValidForX(result);
  });
});

/* ---------------------------------------------------------------- hard splits and odd content */

describe('splitForX text that cannot be split well', () => {
  it('when a single word is 400 characters long, then it is cut hard with a warning and every part is valid', () => {
    const word = 'a'.repeat(400);
    const result = splitForX(word);
    expect(texts(result)).toEqual(['a'.repeat(280), 'a'.repeat(120)]);
    expect(result.warnings).toEqual([expect.objectContaining({ code: 'hard_split', partIndex: 0 })]);
    expectEveryPartValidForX(result);
  });

  it('when a long word follows a short one, then the short word is its own part and only the long word is cut hard', () => {
    const result = splitForX(`hello ${'b'.repeat(400)}`);
    expect(texts(result)).toEqual(['hello', 'b'.repeat(280), 'b'.repeat(120)]);
    expect(result.warnings.map((w) => [w.code, w.partIndex])).toEqual([['hard_split', 1]]);
  });

  it('when a hard cut is needed next to a combining accent, then the letter and its accent stay together', () => {
    const text = `${'a'.repeat(279)}q\u0301${'b'.repeat(20)}`; // q + U+0301 has no precomposed form, so NFC keeps two code points
    const result = splitForX(text);
    expect(texts(result)).toEqual(['a'.repeat(279), `q\u0301${'b'.repeat(20)}`]);
    expect(result.warnings.map((w) => w.code)).toEqual(['hard_split']);
  });

  it('when the text contains a character X rejects, then the part holding it gets an invalid warning', () => {
    const text = `${asciiText(200)} bad\uFFFEchar ${asciiText(200, 50)}`;
    const result = splitForX(text);
    const invalid = result.warnings.filter((w) => w.code === 'invalid');
    expect(invalid).toHaveLength(1);
    expect(result.parts[invalid[0].partIndex!].text).toContain('\uFFFE');
    expect(result.parts.every((part) => part.length <= X_LIMIT)).toBe(true);
  });

  it('when a single character measures more than the limit, then it gets its own part with a too_long warning', () => {
    const rules: TextRules = { maxLength: 5, measure: (text) => [...text].reduce((sum, c) => sum + (c === 'W' ? 10 : 1), 0) };
    const result = splitText('abcWdef', rules);
    expect(texts(result)).toEqual(['abc', 'W', 'def']);
    expect(result.warnings.filter((w) => w.code === 'too_long').map((w) => w.partIndex)).toEqual([1]);
  });
});

/* ---------------------------------------------------------------- numbering */

describe('splitForX numbering', () => {
  it('when numbering is on, then every part ends with " i/n" and the suffix counts inside the limit', () => {
    const words = Array.from({ length: 150 }, () => 'abcd');
    const plain = splitForX(words.join(' '));
    expect(plain.parts[0].length).toBe(279); // unnumbered parts are full: a suffix outside the limit would overflow
    const numbered = splitForX(words.join(' '), { numbering: true });
    expectEveryPartValidForX(numbered);
    const contents = expectNumbered(numbered);
    expectPartsTileInput(words.join(' '), contents);
    expect(numbered.parts[0].text).toBe(`${words.slice(0, 55).join(' ')} 1/${numbered.parts.length}`);
  });

  it('when nine parts are needed, then the suffix is " i/9" and parts are filled to exactly 280', () => {
    const paragraph = `${Array.from({ length: 55 }, () => 'abcd').join(' ')} x`; // 276 weighted
    const result = splitForX(Array.from({ length: 9 }, () => paragraph).join('\n\n'), { numbering: true });
    expect(texts(result)).toEqual(Array.from({ length: 9 }, (_, i) => `${paragraph} ${i + 1}/9`));
    expect(result.parts.every((part) => part.length === 280)).toBe(true);
  });

  it('when the count grows from 9 to 10 parts, then it redoes the split with room for two-digit numbers', () => {
    const paragraph = `${Array.from({ length: 55 }, () => 'abcd').join(' ')} x`; // 276 + " 1/9" = 280, + " 1/10" = 281
    const text = Array.from({ length: 10 }, () => paragraph).join('\n\n');
    const result = splitForX(text, { numbering: true });
    expectEveryPartValidForX(result);
    const contents = expectNumbered(result);
    expect(result.parts).toHaveLength(20);
    expect(result.parts[19].text.endsWith(' 20/20')).toBe(true);
    expectPartsTileInput(text, contents);
  });

  it('when numbering is on but the text fits, then the single part has no suffix', () => {
    expect(texts(splitForX('just one tweet', { numbering: true }))).toEqual(['just one tweet']);
    expect(texts(splitForX(asciiText(280), { numbering: true }))).toEqual([asciiText(280)]);
  });
});

/* ---------------------------------------------------------------- whole-text properties */

describe('splitText general properties', () => {
  const mixed = [
    `Launch day! ${asciiText(120)}.`,
    `Thanks @someuser and #team — details at https://example.com/${'p'.repeat(90)} 🎉🇺🇸`,
    `${'日本語の文章です。'.repeat(12)}`,
    `${asciiText(300, 7)}`,
  ].join('\n\n');

  it('when parts are joined without numbering, then they equal the input apart from whitespace at the cuts', () => {
    const result = splitForX(mixed);
    expect(result.parts.length).toBeGreaterThan(2);
    expectPartsTileInput(mixed, texts(result));
    expect(removeWhitespace(texts(result).join(''))).toBe(removeWhitespace(mixed));
    expectEveryPartValidForX(result);
  });

  it('when space-separated text is cut, then the parts joined by a space equal the input with whitespace collapsed', () => {
    const text = `${asciiText(200)}.\n\n${asciiText(250, 40)}\n${asciiText(400, 90)}`;
    const result = splitForX(text);
    expect(result.parts.length).toBeGreaterThanOrEqual(3);
    expect(collapseWhitespace(texts(result).join(' '))).toBe(collapseWhitespace(text));
  });

  it('when the same input is split twice (with other splits in between), then the output is identical', () => {
    const first = splitForX(mixed, { numbering: true });
    splitForX(asciiText(900, 3));
    splitText(mixed, plainTextRules(100));
    expect(splitForX(mixed, { numbering: true })).toEqual(first);
  });

  it('when rules are plain characters with a 3000 limit, then 3000 code points fit and 3001 do not', () => {
    const rules = plainTextRules(3000);
    expect(texts(splitText(asciiText(3000), rules))).toEqual([asciiText(3000)]);
    const result = splitText(asciiText(3001), rules);
    expect(result.parts).toHaveLength(2);
    expect(result.parts.every((part) => part.length <= 3000)).toBe(true);
    expectPartsTileInput(asciiText(3001), texts(result));
  });

  it('when rules are plain characters, then emoji count as code points, not as 2', () => {
    const rules = plainTextRules(3000);
    expect(rules.measure('😀')).toBe(1);
    expect(rules.measure('👨‍👩‍👧‍👦')).toBe(7);
    expect(rules.measure('日本')).toBe(2);
    const text = '😀'.repeat(3000);
    expect(texts(splitText(text, rules))).toEqual([text]);
  });

  it('when a plain-text cut would fall inside a URL, then the URL moves whole to the next part', () => {
    const url = `https://example.com/${'q'.repeat(100)}`;
    const text = `${asciiText(2950)} ${url} tail words`;
    const result = splitText(text, plainTextRules(3000));
    expect(texts(result)).toEqual([asciiText(2950), `${url} tail words`]);
  });

  it('when a plain-text URL alone is longer than the limit, then it is cut hard with a warning', () => {
    const url = `https://example.com/${'q'.repeat(100)}`;
    const result = splitText(`see ${url}`, plainTextRules(50));
    expect(texts(result)).toEqual(['see', url.slice(0, 50), url.slice(50, 100), url.slice(100)]);
    expect(result.warnings.map((w) => [w.code, w.partIndex])).toEqual([['hard_split', 1], ['hard_split', 2]]);
  });

  it('when a single grapheme is longer than a tiny limit, then it is cut between code points, never inside a surrogate pair', () => {
    const family = '👨‍👩‍👧‍👦'; // 7 code points, 11 UTF-16 units
    const result = splitText(family, plainTextRules(3));
    expect(texts(result).join('')).toBe(family);
    for (const part of texts(result)) expect(part).toBe(part.normalize()); // lone surrogates would not survive round-trips
    expect(texts(result).every((part) => !/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(part))).toBe(true);
    expect(result.warnings.every((w) => w.code === 'hard_split')).toBe(true);
  });

  it('when long emoji runs are cut under many limits, then no cut ever falls inside a ZWJ sequence or flag', () => {
    // Plain rules count code points, so a cut inside a cluster would cost nothing extra: only
    // correct grapheme boundaries (also across the splitter's internal segmentation windows) keep them whole.
    const sequence = Array.from({ length: 300 }, (_, i) => ['👨‍👩‍👧‍👦', '🇺🇸', '🏳️‍🌈', '🇯🇵', '👍🏽'][i % 5]);
    for (let limit = 7; limit <= 40; limit++) {
      const result = splitText(sequence.join(''), plainTextRules(limit));
      expect({ limit, graphemes: result.parts.flatMap((part) => graphemes(part.text)) }).toEqual({ limit, graphemes: sequence });
    }
  });

  it('when xTextRules is used directly, then it normalises to NFC and measures with twitter-text', () => {
    expect(xTextRules.normalize).toBe('NFC');
    expect(xTextRules.maxLength).toBe(280);
    expect(xTextRules.measure(`https://example.com/${'a'.repeat(300)}`)).toBe(23);
    expect(xTextRules.protectedRanges!('hi @bob #tag $AAPL https://x.com/a')).toEqual([
      [3, 7],
      [8, 12],
      [13, 18],
      [19, 34],
    ]);
  });
});

/* ---------------------------------------------------------------- property-style */

describe('splitForX on pseudo-random texts', () => {
  const EMOJI = ['👨‍👩‍👧‍👦', '🇺🇸', '🇩🇪', '😀', '👍🏽', '🏳️‍🌈', '❤️', '1️⃣', '🧑🏽‍💻'];
  const SEPARATORS = [' ', ' ', ' ', ' ', '\n', '\n\n', '. ', '! ', '', ', '];

  function randomText(random: () => number): string {
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const letters = (n: number): string => Array.from({ length: n }, () => pick('abcdefghijklmnopqrstuvwxyz'.split(''))).join('');
    const tokens: Array<() => string> = [
      () => letters(1 + Math.floor(random() * 12)),
      () => letters(1 + Math.floor(random() * 12)),
      () => `https://example.com/${letters(Math.floor(random() * 120))}`,
      () => `@user_${letters(1 + Math.floor(random() * 8))}`,
      () => `#tag${letters(1 + Math.floor(random() * 10))}`,
      () => `$${letters(3).toUpperCase()}`,
      () => Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(EMOJI)).join(''),
      () => Array.from({ length: 1 + Math.floor(random() * 30) }, () => pick('日本語中文字符漢かなカナ'.split(''))).join('') + pick(['', '。', '！']),
      () => (random() < 0.1 ? letters(200 + Math.floor(random() * 300)) : letters(5)),
    ];
    const count = 5 + Math.floor(random() * 150);
    let text = '';
    for (let i = 0; i < count; i++) text += pick(tokens)() + pick(SEPARATORS);
    return text;
  }

  it('when 300 seeded texts are split, then every part is valid, non-empty, within the limit, and nothing is lost or reordered', () => {
    const random = lcg(20240601);
    for (let run = 0; run < 300; run++) {
      const text = randomText(random);
      const numbering = run % 3 === 0;
      const result = splitForX(text, { numbering });
      const source = text.normalize('NFC').trim();
      expectEveryPartValidForX(result);
      const contents = numbering && result.parts.length > 1 ? expectNumbered(result) : texts(result);
      expect(removeWhitespace(contents.join(''))).toBe(removeWhitespace(source));
      const ranges = expectPartsTileInput(source, contents);
      expectEntitiesAndGraphemesWhole(source, ranges);
    }
  });

  /** No cut inside a grapheme, nor inside a URL/mention/hashtag/cashtag that could fit in a part. */
  function expectEntitiesAndGraphemesWhole(source: string, ranges: Array<[number, number]>): void {
    const cuts = new Set(ranges.flatMap(([start, end]) => [start, end]));
    const fitsInAPart = (entity: string): boolean => parseTweet(entity).weightedLength <= X_LIMIT - ' 99/99'.length;
    for (const { indices } of extractEntitiesWithIndices(source)) {
      if (!fitsInAPart(source.slice(...indices))) continue; // e.g. a 400-letter hashtag: cut hard by design
      const cutInside = [...cuts].filter((cut) => cut > indices[0] && cut < indices[1]);
      expect({ entity: source.slice(...indices), cutInside }).toEqual({ entity: source.slice(...indices), cutInside: [] });
    }
    const boundaries = new Set(Array.from(new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(source), (s) => s.index));
    boundaries.add(source.length);
    for (const cut of cuts) expect({ cut, onBoundary: boundaries.has(cut) }).toEqual({ cut, onBoundary: true });
  }
});
