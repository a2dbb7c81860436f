/**
 * Test helper: a JWT principal (`alice` of tenant `acme`, role `user`) with any field overridden.
 *
 * @module
 */
import type { Principal } from '../../src/authn/principal.js';

export function principal(over: Partial<Principal> = {}): Principal {
  return {
    id: 'alice',
    tenant: 'acme',
    roles: ['user'],
    scopes: [],
    clearance: null,
    authMethod: 'jwt',
    claims: {},
    ...over,
  };
}
