/**
 * The CORS allow-list (src/server/cors.ts): an entry matches the origin a browser sends for it, however it
 * was written (case, a trailing slash, the scheme's default port).
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { createCors } from '../../../src/server/cors.js';

describe('createCors().allows', () => {
  it('matches an entry written with its default port, a trailing slash or capitals', () => {
    const cors = createCors(['https://App.example.com:443/', 'http://localhost:3000', 'null']);
    expect(cors.allows('https://app.example.com')).toBe(true);
    expect(cors.allows('http://localhost:3000')).toBe(true);
    expect(cors.allows('null')).toBe(true);
    expect(cors.allows('https://app.example.com:8443')).toBe(false);
    expect(cors.allows('http://app.example.com')).toBe(false);
  });
});
