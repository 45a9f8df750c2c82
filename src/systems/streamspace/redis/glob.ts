/**
 * Redis's glob matcher, as SCAN's MATCH (and KEYS, PSUBSCRIBE) applies it: a line-for-line port of
 * `stringmatchlen` in Redis 7.0.15 `src/util.c`, case-sensitive (SCAN passes `nocase = 0`).
 *
 * - `*` any run of characters (consecutive stars are one), `?` exactly one character;
 * - `[abc]`, `[a-z]` (a reversed range `[z-a]` is swapped), `[^...]` negation; `\` inside a class
 *   takes the next character literally; an unterminated `[` ends the class at the pattern's end;
 * - `\x` outside a class matches `x` literally; a trailing lone `\` matches a `\`.
 * Quirks kept on purpose: the main loop runs only while both the pattern and the string have
 * characters left, so a non-empty pattern never matches the empty string, not even `*` (SCAN never
 * calls it for the pattern `*`: see `Keyspace.scan`); trailing stars match the end of the string.
 * The early exit of 7.0.10+ (`skipLongerMatches`, the fix for exponential backtracking) is kept too:
 * it changes only the running time.
 *
 * Characters are compared as UTF-16 code units where Redis compares bytes (signed `char`): identical
 * for ASCII, which every StreamSpace key and pattern is (`session:*`, `agent:<id>:pod`).
 */
export function stringMatch(pattern: string, subject: string): boolean {
  return matchFrom(pattern, 0, pattern.length, subject, 0, subject.length, { skipLongerMatches: false });
}

function matchFrom(pattern: string, p: number, patternLen: number, s: string, i: number, stringLen: number, state: { skipLongerMatches: boolean }): boolean {
  while (patternLen > 0 && stringLen > 0) {
    switch (pattern[p]) {
      case '*': {
        while (patternLen > 0 && pattern[p + 1] === '*') {
          p++;
          patternLen--;
        }
        if (patternLen === 1) return true;
        while (stringLen > 0) {
          if (matchFrom(pattern, p + 1, patternLen - 1, s, i, stringLen, state)) return true;
          if (state.skipLongerMatches) return false;
          i++;
          stringLen--;
        }
        // No match for the rest of the pattern from anywhere in the rest of the string: no earlier
        // star can do better by matching more (util.c's comment on skipLongerMatches).
        state.skipLongerMatches = true;
        return false;
      }
      case '?':
        i++;
        stringLen--;
        break;
      case '[': {
        p++;
        patternLen--;
        const not = pattern[p] === '^';
        if (not) {
          p++;
          patternLen--;
        }
        let match = false;
        for (;;) {
          if (pattern[p] === '\\' && patternLen >= 2) {
            p++;
            patternLen--;
            if (pattern[p] === s[i]) match = true;
          } else if (pattern[p] === ']') {
            break;
          } else if (patternLen === 0) {
            p--;
            patternLen++;
            break;
          } else if (patternLen >= 3 && pattern[p + 1] === '-') {
            let start = pattern.charCodeAt(p);
            let end = pattern.charCodeAt(p + 2);
            const c = s.charCodeAt(i);
            if (start > end) [start, end] = [end, start];
            p += 2;
            patternLen -= 2;
            if (c >= start && c <= end) match = true;
          } else if (pattern[p] === s[i]) {
            match = true;
          }
          p++;
          patternLen--;
        }
        if (not) match = !match;
        if (!match) return false;
        i++;
        stringLen--;
        break;
      }
      default:
        // util.c's `case '\\'` falls through to here: a backslash with a character after it
        // compares that character literally; a lone trailing one compares itself.
        if (pattern[p] === '\\' && patternLen >= 2) {
          p++;
          patternLen--;
        }
        if (pattern[p] !== s[i]) return false;
        i++;
        stringLen--;
        break;
    }
    p++;
    patternLen--;
    if (stringLen === 0) {
      while (pattern[p] === '*') {
        p++;
        patternLen--;
      }
      break;
    }
  }
  return patternLen === 0 && stringLen === 0;
}
