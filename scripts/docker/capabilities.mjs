#!/usr/bin/env node
/**
 * Writes `<dir>/capabilities.json` for the Docker policy stage, which runs the official OPA image and so has no
 * Node: the builtins and wasm ABI versions of the JS runtime (@open-policy-agent/opa-wasm) plus the `rego_v1`
 * feature — the same file scripts/policy-toolchain.mjs compiles against — and `<dir>/capabilities.test.json`,
 * the same with `print`, which the stage's `opa check` needs (it compiles print() calls; the build drops them).
 *
 * usage: node scripts/docker/capabilities.mjs DIR
 *
 * @module
 */
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeCapabilities } from '../policy-toolchain.mjs';

const dir = resolve(process.argv[2] ?? 'build/docker');
await mkdir(dir, { recursive: true });
process.stdout.write(`${await writeCapabilities(dir)}\n`);
process.stdout.write(`${await writeCapabilities(dir, { forTests: true })}\n`);
