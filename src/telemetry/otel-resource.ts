/**
 * The OpenTelemetry resource of one sidecar: `service.name` (default `mcp-authz`) and `service.version`,
 * `k8s.*` from the Kubernetes downward-API variables, `service.instance.id` as the resource conventions ask
 * in Kubernetes, then `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_SERVICE_NAME`, which win over them.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { defaultResource, type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import { DEFAULT_SERVICE_NAME, parseKeyValueList, str } from './otel-config.js';
import * as sc from './semconv.js';

const K8S_ENV: readonly (readonly [string, readonly string[]])[] = [
  [sc.ATTR_K8S_POD_NAME, ['POD_NAME', 'K8S_POD_NAME']],
  [sc.ATTR_K8S_NAMESPACE_NAME, ['POD_NAMESPACE', 'K8S_NAMESPACE_NAME', 'K8S_POD_NAMESPACE']],
  [sc.ATTR_K8S_NODE_NAME, ['NODE_NAME', 'K8S_NODE_NAME']],
  [sc.ATTR_K8S_POD_UID, ['POD_UID', 'K8S_POD_UID']],
  [sc.ATTR_K8S_CONTAINER_NAME, ['CONTAINER_NAME', 'K8S_CONTAINER_NAME']],
];

/** service.*, k8s.* from the downward API, then OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME. */
export function resourceFromEnv(
  env: NodeJS.ProcessEnv,
  serviceVersion: string,
  warnings: string[] = [],
): Resource {
  const attrs: Record<string, string> = {
    [sc.ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME,
    [sc.ATTR_SERVICE_VERSION]: serviceVersion,
  };
  for (const [attr, names] of K8S_ENV) {
    const v = names.map((n) => str(env, n)).find((x) => x !== undefined);
    if (v !== undefined) attrs[attr] = v;
  }
  const pod = attrs[sc.ATTR_K8S_POD_NAME];
  if (pod) attrs[sc.ATTR_SERVICE_INSTANCE_ID] = k8sInstanceId(attrs);
  Object.assign(
    attrs,
    parseKeyValueList(str(env, 'OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', warnings),
  );
  const serviceName = str(env, 'OTEL_SERVICE_NAME');
  if (serviceName) attrs[sc.ATTR_SERVICE_NAME] = serviceName;
  return defaultResource().merge(resourceFromAttributes(attrs));
}

/** The namespace UUID the resource conventions give for a Kubernetes `service.instance.id`. */
const K8S_INSTANCE_NAMESPACE = '4d63009a-8d0f-11ee-aad7-4c796ed8e320';

/**
 * `service.instance.id` in Kubernetes, as the resource conventions ask: the UUID v5 (RFC 9562) of
 * `<k8s.namespace.name>.<k8s.pod.name>.<k8s.container.name>` (the parts known), unique across namespaces
 * where a pod name alone (`mcp-0` of a StatefulSet) is not.
 */
export function k8sInstanceId(attrs: Readonly<Record<string, string>>): string {
  const name = [sc.ATTR_K8S_NAMESPACE_NAME, sc.ATTR_K8S_POD_NAME, sc.ATTR_K8S_CONTAINER_NAME]
    .map((a) => attrs[a])
    .filter((v) => v !== undefined && v !== '')
    .join('.');
  return uuidV5(K8S_INSTANCE_NAMESPACE, name);
}

/** A name-based UUID, version 5 (SHA-1; RFC 9562 §5.5). */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name)
    .digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50; // version 5
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80; // RFC 9562 variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
