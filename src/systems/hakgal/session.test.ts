import { describe, expect, test } from 'vitest';
import { aclAllows, formatBlob, hashedId, localDay, parseBlob, saltDays, sessionKey } from './session.ts';

describe('session ids, salts and keys (spec seeds-001-004 §1)', () => {
  test('ids depend on the secret, the tenant, the user and the day', () => {
    const id = hashedId('k', 'acme', 'alice', 1);
    expect(hashedId('k', 'acme', 'alice', 1)).toBe(id);
    expect(hashedId('other', 'acme', 'alice', 1)).not.toBe(id);
    expect(hashedId('k', 'acme', 'alice', 2)).not.toBe(id);
    expect(hashedId('k', 'acme', 'bob', 1)).not.toBe(id);
  });

  test('tenant "a" with user "b:c" and tenant "a:b" with user "c" get the same id', () => {
    expect(hashedId('k', 'a', 'b:c', 7)).toBe(hashedId('k', 'a:b', 'c', 7));
    expect(sessionKey('a', 'h')).not.toBe(sessionKey('a:b', 'h'));
  });

  test('the ACL glob of tenant acme also matches the keys of tenant acme:eu', () => {
    expect(aclAllows('acme', sessionKey('acme', 'h'))).toBe(true);
    expect(aclAllows('acme', sessionKey('acme:eu', 'h'))).toBe(true);
    expect(aclAllows('acme:eu', sessionKey('acme', 'h'))).toBe(false);
  });

  test('as built the salt changes at the pod\'s local midnight; with the fix an hour later, trying the day before', () => {
    const start = 24 * 3600e6 - 10e6; // 23:59:50
    expect(localDay(9e6, start)).toBe(localDay(0, start));
    expect(localDay(11e6, start)).toBe(localDay(0, start) + 1);
    expect(saltDays(11e6, start, false)).toEqual([localDay(0, start) + 1]);
    expect(saltDays(11e6, start, true)).toEqual([localDay(0, start), localDay(0, start) - 1]);
  });

  test('a blob reads back as written, keys in a fixed order', () => {
    const b = { sid: 'p/1/1', tenant: 't', user: 'u', tx: 3, trajectory: 2, createdAt: 5, version: 4 };
    expect(parseBlob(formatBlob(b))).toEqual(b);
    expect(formatBlob({ ...b })).toBe(formatBlob(b));
  });
});
