import {
  LITTLE_RESERVED_CHARACTERS,
  escapeLittleText,
  firstUnescapedReserved,
  isLittleReserved,
  unescapeLittleText,
} from '../../src/platforms/little-text';

const EVERY_RESERVED = '#tag (note) @me *bold* _x_ ~y~ [a] {b} <c> | \\';

describe('escapeLittleText', () => {
  it.each([...LITTLE_RESERVED_CHARACTERS])('when the text contains %s, then it is preceded by a backslash', (character) => {
    expect(escapeLittleText(`a${character}b`)).toBe(`a\\${character}b`);
  });

  it('when the text has no reserved characters, then it is unchanged (accents, emoji, punctuation, URLs without them)', () => {
    const text = 'Café 👋 — "quoted", 50% off! https://example.com/a?b=1&c=2';

    expect(escapeLittleText(text)).toBe(text);
  });

  it('when every reserved character appears, then nothing unescaped is left for LinkedIn to cut at', () => {
    const escaped = escapeLittleText(EVERY_RESERVED);

    expect(firstUnescapedReserved(escaped)).toBeUndefined();
    expect(escaped).toBe('\\#tag \\(note\\) \\@me \\*bold\\* \\_x\\_ \\~y\\~ \\[a\\] \\{b\\} \\<c\\> \\| \\\\');
  });

  it('when a backslash already precedes a reserved character, then both are escaped (the text means a backslash and the character)', () => {
    expect(escapeLittleText('\\(')).toBe('\\\\\\(');
    expect(unescapeLittleText(escapeLittleText('\\('))).toBe('\\(');
  });
});

describe('unescapeLittleText', () => {
  it('when escaped text is unescaped, then the original comes back, for every reserved character and runs of backslashes', () => {
    const samples = [EVERY_RESERVED, '\\\\\\', 'end with \\', '\\n is not a newline', '((()))', '#1 @2 _3_', ''];

    for (const sample of samples) expect(unescapeLittleText(escapeLittleText(sample))).toBe(sample);
  });

  it('when a backslash precedes an ordinary character, then the backslash is kept', () => {
    expect(unescapeLittleText('a\\nb \\é')).toBe('a\\nb \\é');
  });

  it('when the text ends with a lone backslash, then it is kept', () => {
    expect(unescapeLittleText('abc\\')).toBe('abc\\');
  });

  it('when random texts over the reserved alphabet are escaped and unescaped, then each comes back unchanged', () => {
    const alphabet = `${LITTLE_RESERVED_CHARACTERS}ab \\`;
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const text = Array.from({ length: 1 + Math.floor(random() * 20) }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
      const escaped = escapeLittleText(text);
      expect(unescapeLittleText(escaped)).toBe(text);
      expect(firstUnescapedReserved(escaped)).toBeUndefined();
    }
  });
});

describe('firstUnescapedReserved', () => {
  it('when the text has an unescaped reserved character, then its index is returned', () => {
    expect(firstUnescapedReserved('Hello (world)')).toBe(6);
    expect(firstUnescapedReserved('a \\( b ( c')).toBe(7);
  });

  it('when every reserved character is escaped, then there is none', () => {
    expect(firstUnescapedReserved('a \\( \\) \\# \\\\ b')).toBeUndefined();
  });

  it('when an escaped backslash is followed by a reserved character, then that character is unescaped', () => {
    // "\\\\(" is an escaped backslash and then a bare parenthesis.
    expect(firstUnescapedReserved('x\\\\(')).toBe(3);
  });

  it('when the text ends with a lone backslash, then the backslash itself is the first unescaped one', () => {
    expect(firstUnescapedReserved('abc\\')).toBe(3);
  });
});

describe('isLittleReserved', () => {
  it('when asked about reserved and ordinary characters, then it tells them apart', () => {
    for (const character of LITTLE_RESERVED_CHARACTERS) expect(isLittleReserved(character)).toBe(true);
    for (const character of 'aZ0 .,!?-+=/:;"\'$%&^`') expect(isLittleReserved(character)).toBe(false);
  });
});
