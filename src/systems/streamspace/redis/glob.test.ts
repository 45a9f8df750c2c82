import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { stringMatch } from './glob.ts';

describe('stringMatch: Redis 7.0 util.c stringmatchlen', () => {
  test.each([
    // StreamSpace's patterns (cache.go SessionPattern, session_store.go DeleteUserSessions)
    ['session:*', 'session:3f2a9c', true],
    ['session:*', 'sessions', false],
    ['session:*', 'response:ab12', false],
    ['session:user:*:*', 'session:3f2a9c', false],
    ['session:user:*:*', 'session:user:42:abc', true],
    // * and ?
    ['*', 'anything', true],
    ['a*', 'a', true],
    ['a**', 'a', true],
    ['**a', 'ba', true],
    ['*a*b', 'xaxb', true],
    ['*a*b', 'xaxbx', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['a?', 'a', false],
    // classes, negation, ranges (a reversed range is swapped)
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-b]llo', 'hbllo', true],
    ['h[b-a]llo', 'hallo', true],
    ['h[a-b]llo', 'hcllo', false],
    ['[\\]]', ']', true],
    ['[\\-]', '-', true],
    // an unterminated class ends at the pattern's end
    ['a[b', 'ab', true],
    ['a[', 'a[', false],
    // escapes outside a class; a lone trailing backslash is itself
    ['k:\\*', 'k:*', true],
    ['k:\\*', 'k:a', false],
    ['k:\\?', 'k:?', true],
    ['a\\', 'a\\', true],
    // the empty string matches only the empty pattern (the loop needs a character on both sides)
    ['', '', true],
    ['*', '', false],
    ['', 'a', false],
  ] as const)('%j against %j: %s', (pattern, subject, expected) => {
    expect(stringMatch(pattern, subject)).toBe(expected);
  });

  test('stars and question marks agree with the equivalent regular expression on non-empty strings', () => {
    const toRegExp = (p: string) => new RegExp(`^${[...p].map((c) => (c === '*' ? '[^]*' : c === '?' ? '[^]' : c)).join('')}$`);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?]{0,8}$/), fc.stringMatching(/^[ab]{1,10}$/), (pattern, subject) => {
        expect(stringMatch(pattern, subject)).toBe(toRegExp(pattern).test(subject));
      }),
      { numRuns: 2000, seed: 11 },
    );
  });

  // Without 7.0.10's skipLongerMatches this match backtracks through about C(60, 11) ≈ 3e11 star
  // placements and never ends within the test's timeout; with it, it ends at once. No wall-clock
  // bound is asserted: the test's pass must not depend on the machine's speed.
  test('many stars against a long non-matching string end (7.0.10 skipLongerMatches)', () => {
    expect(stringMatch('a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(60))).toBe(false);
  });
});
