import { splitForPlatform } from '../../src/domain/platform-rules';
import { describeRepeatedParts, findRepeatedParts, repeatedPartGroups } from '../../src/domain/repeated-parts';
import { splitForX } from '../../src/domain/thread';
import { XPublisher } from '../../src/platforms/x';

/** Parts numbered in order, as the splitter returns them. */
const parts = (...texts: string[]) => texts.map((text, index) => ({ index, text }));

/**
 * An announcement whose practical details are repeated as its last paragraph: each paragraph is too
 * long to share an X post with the next, so without numbering the thread has the same post twice.
 */
const DETAILS =
  'Doors open at 7 pm at the Old Mill on Harbour Street. Entry is free, but places are limited: reply to this post or write to tickets@acme.example to reserve yours, and bring a friend who loves live music!';
const ANNOUNCEMENT = [
  'Our summer concert is back this Friday, with three local bands, food trucks from the Saturday market and a late bar on the terrace overlooking the harbour.',
  DETAILS,
  'The line-up: The Gulls at 7:30, Low Tide at 8:30 and Harbour Lights at 9:30, with a surprise guest closing the night.',
  DETAILS,
].join('\n\n');

describe('findRepeatedParts', () => {
  test('when every part has its own text, then nothing is repeated', () => {
    expect(findRepeatedParts(parts('One.', 'Two.', 'Three.'))).toEqual([]);
    expect(findRepeatedParts([])).toEqual([]);
    expect(findRepeatedParts(parts('Alone.'))).toEqual([]);
  });

  test('when a part has the same text as an earlier one, then it is reported with the index of that earlier part', () => {
    expect(findRepeatedParts(parts('Intro.', 'Chorus.', 'Verse.', 'Chorus.'))).toEqual([{ index: 3, sameAs: 1 }]);
  });

  test('when three parts share a text, then each repeat points at the first of them, in part order', () => {
    expect(findRepeatedParts(parts('A.', 'B.', 'A.', 'B.', 'A.'))).toEqual([
      { index: 2, sameAs: 0 },
      { index: 3, sameAs: 1 },
      { index: 4, sameAs: 0 },
    ]);
  });

  test('when parts differ only in whitespace runs, line breaks or surrounding spaces, then they count as the same text', () => {
    expect(findRepeatedParts(parts('Same  words\nhere.', ' Same words here. ', 'Same\u00a0words\t\there.'))).toEqual([
      { index: 1, sameAs: 0 },
      { index: 2, sameAs: 0 },
    ]);
  });

  test('when parts differ only in Unicode normalisation (composed or decomposed accents), then they count as the same text', () => {
    const composed = 'Caf\u00e9 ouvert.';
    const decomposed = 'Cafe\u0301 ouvert.';
    expect(composed).not.toBe(decomposed);
    expect(findRepeatedParts(parts(composed, decomposed))).toEqual([{ index: 1, sameAs: 0 }]);
  });

  test('when parts differ in case or punctuation, then they are different texts', () => {
    expect(findRepeatedParts(parts('Join us.', 'join us.', 'Join us!', 'Join us'))).toEqual([]);
  });

  test('when the parts carry their own indexes, then those indexes are reported, not positions in the list', () => {
    expect(findRepeatedParts([{ index: 4, text: 'x' }, { index: 7, text: 'y' }, { index: 9, text: 'x' }])).toEqual([{ index: 9, sameAs: 4 }]);
  });
});

describe('describeRepeatedParts', () => {
  test('when one pair repeats, then the sentence names both parts 1-based and suggests numbering', () => {
    expect(describeRepeatedParts('X', [{ index: 3, sameAs: 1 }])).toBe(
      'parts 2 and 4 of the X thread have the same text, and X refuses a repeated post: turn on numbering (thread.numbering) or change the text',
    );
  });

  test('when three parts share a text, then they are named in one list', () => {
    expect(describeRepeatedParts('LinkedIn', [{ index: 2, sameAs: 0 }, { index: 4, sameAs: 0 }])).toBe(
      'parts 1, 3 and 5 of the LinkedIn thread have the same text, and LinkedIn refuses a repeated post: turn on numbering (thread.numbering) or change the text',
    );
  });

  test('when several texts repeat, then every group is named in the one sentence, ordered by first part', () => {
    const repeats = findRepeatedParts(parts('A.', 'B.', 'A.', 'B.', 'A.', 'C.', 'C.'));
    expect(describeRepeatedParts('X', repeats)).toBe(
      'parts 1, 3 and 5 of the X thread have the same text, so do parts 2 and 4, so do parts 6 and 7, and X refuses a repeated post: turn on numbering (thread.numbering) or change the text',
    );
    expect(repeatedPartGroups(repeats)).toEqual([[0, 2, 4], [1, 3], [5, 6]]);
  });

  test('when the repeats come in any order, then the sentence is the same', () => {
    const sorted = describeRepeatedParts('X', [{ index: 3, sameAs: 1 }, { index: 4, sameAs: 0 }]);
    expect(describeRepeatedParts('X', [{ index: 4, sameAs: 0 }, { index: 3, sameAs: 1 }])).toBe(sorted);
    expect(sorted).toMatch(/^parts 1 and 5 of the X thread have the same text, so do parts 2 and 4, /);
  });

  test('when a remedy is given, then it replaces the default advice', () => {
    expect(describeRepeatedParts('X', [{ index: 1, sameAs: 0 }], 'number the parts or change the text')).toBe(
      'parts 1 and 2 of the X thread have the same text, and X refuses a repeated post: number the parts or change the text',
    );
  });

  test('when nothing repeats, then there is nothing to say', () => {
    expect(describeRepeatedParts('X', [])).toBe('');
  });
});

describe('repeated parts in real splits', () => {
  test('when a paragraph is repeated in an announcement split for X, then two parts are the same without numbering and none with numbering', () => {
    const plain = splitForX(ANNOUNCEMENT);
    expect(plain.parts.map((part) => part.text)).toEqual(ANNOUNCEMENT.split('\n\n'));
    const repeats = findRepeatedParts(plain.parts);
    expect(repeats).toEqual([{ index: 3, sameAs: 1 }]);
    expect(describeRepeatedParts('X', repeats)).toBe(
      'parts 2 and 4 of the X thread have the same text, and X refuses a repeated post: turn on numbering (thread.numbering) or change the text',
    );

    const numbered = splitForX(ANNOUNCEMENT, { numbering: true });
    expect(numbered.parts).toHaveLength(plain.parts.length);
    expect(findRepeatedParts(numbered.parts)).toEqual([]);
  });

  test('when the X publisher splits the same text, then it finds the same repeat (the engine publishes its split)', () => {
    const publisher = new XPublisher({ baseUrl: 'http://x.invalid', timeoutMs: 1000 });
    expect(findRepeatedParts(publisher.split(ANNOUNCEMENT, {}).parts)).toEqual([{ index: 3, sameAs: 1 }]);
    expect(findRepeatedParts(publisher.split(ANNOUNCEMENT, { numbering: true }).parts)).toEqual([]);
  });

  test('when a long paragraph is repeated in a LinkedIn post, then its comments are the same without numbering and differ with numbering', () => {
    const paragraph = `${'Our quarterly report is out, with the numbers for every region and what they mean for next year. '.repeat(11).trim()}`;
    expect(paragraph.length).toBeGreaterThan(1000);
    expect(paragraph.length).toBeLessThan(1200);
    const text = [paragraph, paragraph, paragraph, paragraph].join('\n\n');

    const plain = splitForPlatform('linkedin', text);
    expect(plain.parts).toHaveLength(3); // the post (two paragraphs), then a comment per paragraph
    expect(findRepeatedParts(plain.parts)).toEqual([{ index: 2, sameAs: 1 }]);
    expect(findRepeatedParts(splitForPlatform('linkedin', text, { numbering: true }).parts)).toEqual([]);
  });
});
