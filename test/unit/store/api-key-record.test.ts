import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, MalformedApiKeyRecord } from '../../../src/store/api-key-record.js';
import type { ApiKeyRecord } from '../../../src/store/store.js';

const RECORD: ApiKeyRecord = {
  id: 'AbCdEfGhIjKlMnOp',
  hash: 'a'.repeat(64),
  subject: 'svc-ci',
  tenant: 'acme',
  roles: ['analyst'],
  scopes: ['mcp:tools'],
  clearance: null,
  description: 'CI bot',
  createdAt: '2026-12-01T10:00:00.000Z',
  expiresAt: '2027-12-01T10:00:00.000Z',
  active: true,
  lastUsedAt: null,
  usageCount: 3,
};

describe('API key record hash', () => {
  it('decodes what it encodes', () => {
    expect(decodeRecord(RECORD.id, encodeRecord(RECORD))).toEqual(RECORD);
    expect(decodeRecord(RECORD.id, {})).toBeNull();
  });

  it('reads the dates keys create writes, years past 9999 included, and dates with an offset', () => {
    for (const expiresAt of [
      '+010000-01-01T00:00:00.000Z',
      '2027-01-01T10:00:00+02:00',
      '2027-01-01T08:00:00Z',
    ]) {
      expect(decodeRecord(RECORD.id, { ...encodeRecord(RECORD), expiresAt })?.expiresAt).toBe(expiresAt);
    }
  });

  it('reads an old record without the optional fields as what createApiKey meant by them', () => {
    const { id, hash, subject, createdAt } = encodeRecord(RECORD);
    expect(decodeRecord(RECORD.id, { id, hash, subject, createdAt } as Record<string, string>)).toMatchObject(
      {
        tenant: null,
        roles: [],
        expiresAt: null,
        active: false,
        usageCount: 0,
      },
    );
  });

  // Each of these would reach a check or the policy as something createApiKey never writes: an expiry
  // compared as NaN (never expires), an empty tenant or role, a role list that is no list.
  const cases: [string, string, string][] = [
    ['expiresAt', '1700000000', 'expiresAt'],
    ['expiresAt', 'never', 'expiresAt'],
    ['expiresAt', '2026-02-30T00:00:00Z', 'expiresAt'],
    ['createdAt', '', 'createdAt'],
    ['lastUsedAt', 'yesterday', 'lastUsedAt'],
    ['tenant', '', 'tenant'],
    ['roles', '[""]', 'roles'],
    ['roles', '[admin', 'roles is not JSON'],
    ['scopes', '"mcp:tools"', 'scopes'],
    ['subject', '\ud800', 'subject'],
    ['hash', 'not-hex', 'hash'],
    ['active', 'true', 'active'],
    ['usageCount', '-1', 'usageCount'],
    ['id', 'OtherKeyId000000', 'id names another key'],
  ];
  for (const [field, value, problem] of cases) {
    it(`refuses ${field} = ${JSON.stringify(value)}, naming the field and never the hash`, () => {
      const h = { ...encodeRecord(RECORD), [field]: value };
      let thrown: unknown;
      try {
        decodeRecord(RECORD.id, h);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(MalformedApiKeyRecord);
      const err = thrown as MalformedApiKeyRecord;
      expect(err.keyId).toBe(RECORD.id);
      expect(err.problem).toContain(problem);
      expect(err.message).not.toContain(RECORD.hash);
    });
  }
});
