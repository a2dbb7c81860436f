/**
 * Where the policy toolchain keeps things and what it is pinned to: the project paths, the cache layout under
 * `.cache/opa-toolchain/`, the default policy folder, output and entrypoints, the Go release, and the Debian
 * sid package set that builds tools/policyc (which is also the default set of the shared Debian/Go helpers).
 * The verified OPA release is stated in scripts/policy-toolchain.mjs itself.
 *
 * @module
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root (this file is scripts/toolchain/config.mjs). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CACHE = join(ROOT, '.cache', 'opa-toolchain');
export const TOOL_SRC = join(ROOT, 'tools', 'policyc');
export const POLICYC = join(CACHE, 'bin', 'policyc');
export const STAMP = join(CACHE, 'stamp.json');
export const WASM_CAPABILITIES = join(
  ROOT,
  'node_modules',
  '@open-policy-agent',
  'opa-wasm',
  'capabilities.json',
);

export const DEFAULT_SRC = 'policies';
export const DEFAULT_OUT = join('build', 'policy');
export const DEFAULT_ENTRYPOINTS = Object.freeze(['mcp/authz/decision', 'mcp/authz/visible']);
/** JSON Schema of the policy input (generated from src/policy/input-schema.ts): Rego is type-checked against it. */
export const INPUT_SCHEMA = join(ROOT, 'schema', 'policy-input.json');
export const GO_VERSION = '1.26';

/** Debian sid packages that build tools/policyc: Go (pinned) + OPA's Go sources and their dependencies. */
export const DEBIAN_PACKAGES = Object.freeze([
  `golang-${GO_VERSION}-go`,
  `golang-${GO_VERSION}-src`,
  'golang-github-agnivade-levenshtein-dev',
  'golang-github-beorn7-perks-dev',
  'golang-github-cespare-xxhash-v2-dev',
  'golang-github-go-ini-ini-dev',
  'golang-github-go-logr-logr-dev',
  'golang-github-go-logr-stdr-dev',
  'golang-github-gobwas-glob-dev',
  'golang-github-google-uuid-dev',
  'golang-github-gorilla-mux-dev',
  'golang-github-munnerz-goautoneg-dev',
  'golang-github-open-policy-agent-opa-dev',
  'golang-github-prometheus-client-golang-dev',
  'golang-github-prometheus-client-model-dev',
  'golang-github-prometheus-common-dev',
  'golang-github-prometheus-procfs-dev',
  'golang-github-rcrowley-go-metrics-dev',
  'golang-github-sirupsen-logrus-dev',
  'golang-github-tchap-go-patricia-dev',
  'golang-github-xeipuuv-gojsonpointer-dev',
  'golang-github-xeipuuv-gojsonreference-dev',
  'golang-github-yashtewari-glob-intersection-dev',
  'golang-golang-x-sys-dev',
  'golang-google-protobuf-dev',
  'golang-gopkg-yaml.v2-dev',
  'golang-gopkg-yaml.v3-dev',
  'golang-k8s-sigs-yaml-dev',
  'golang-opentelemetry-otel-dev',
]);

export const HOW_TO_GET =
  'Install OPA (any recent 1.x `opa` executable) and put it on PATH or set OPA_BIN to it, ' +
  "or allow this machine to reach Debian's package mirrors so the project's own compiler (tools/policyc) can be built.";

/** The policy compiler's Go build cache, which other tools built from Debian sid may share. */
export const GO_BUILD_CACHE = join(CACHE, 'gocache');

/** The policy compiler's set: the default of every shared Debian/Go helper. @type {import('./debian.mjs').DebianSet} */
export const POLICYC_SET = Object.freeze({
  cache: CACHE,
  packages: DEBIAN_PACKAGES,
  label: 'policy toolchain',
  owner: 'DEBIAN_PACKAGES in scripts/policy-toolchain.mjs',
  summary: ['golang-github-open-policy-agent-opa-dev', `golang-${GO_VERSION}-go`],
  howToGet: HOW_TO_GET,
});
