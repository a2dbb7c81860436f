{{/*
Names and labels. Every helper here needs only .Values, .Release and .Chart, so the sidecar templates
(_sidecar.tpl) also work when a parent chart passes this chart's context (index .Subcharts "mcp-authz").
*/}}
{{- define "mcp-authz.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-authz.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mcp-authz.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcp-authz.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcp-authz.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mcp-authz.labels" -}}
helm.sh/chart: {{ include "mcp-authz.chart" . }}
{{ include "mcp-authz.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcp-authz
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "mcp-authz.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcp-authz.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* image reference: repository[:tag][@digest]; the tag defaults to the chart's appVersion. */}}
{{- define "mcp-authz.imageRef" -}}
{{- $img := .image }}
{{- $ref := $img.repository }}
{{- $tag := default .defaultTag $img.tag | toString }}
{{- if $img.digest }}
{{- $ref = printf "%s@%s" $ref $img.digest }}
{{- else if $tag }}
{{- $ref = printf "%s:%s" $ref $tag }}
{{- end }}
{{- $ref }}
{{- end }}

{{/* Ports of the sidecar, read from the config it is given. */}}
{{- /* How long the sidecar drains after SIGTERM (shutdownDelayMs + shutdownGraceMs), in milliseconds. */}}
{{- define "mcp-authz.drainMs" -}}
{{- $cfg := .Values.config | default dict }}
{{- add (dig "server" "shutdownDelayMs" 5000 $cfg | int) (dig "server" "shutdownGraceMs" 10000 $cfg | int) }}
{{- end }}
{{- /*
The MCP server's preStop wait: the drain, plus 2 s for the sidecar to end its streams and close its pool.
terminationGracePeriodSeconds must be at least this + 5 s, for the server to stop after its SIGTERM (validate).
*/}}
{{- define "mcp-authz.drainSeconds" -}}
{{- add (div (add (include "mcp-authz.drainMs" . | int) 999) 1000) 2 }}
{{- end }}
{{- /*
The MCP server container's lifecycle: Kubernetes signals every container at once, so the server waits in a
preStop sleep while the sidecar drains (it still forwards requests then). For your own Deployment (mode sidecar):
  lifecycle:
    {{- include "mcp-authz.mcpServerLifecycle" $authz | nindent 12 }}
*/}}
{{- define "mcp-authz.mcpServerLifecycle" -}}
preStop:
  sleep:
    seconds: {{ include "mcp-authz.drainSeconds" . }}
{{- end }}
{{- define "mcp-authz.port" -}}
{{- dig "server" "port" 8080 (.Values.config | default dict) | int }}
{{- end }}
{{- define "mcp-authz.adminPort" -}}
{{- dig "admin" "port" 9090 (.Values.config | default dict) | int }}
{{- end }}

{{/* The MCP server's address inside the pod. */}}
{{- define "mcp-authz.upstreamUrl" -}}
{{- $host := toString .Values.mcpServer.host }}
{{- if contains ":" $host }}{{ $host = printf "[%s]" $host }}{{ end }}
{{- printf "http://%s:%d%s" $host (int .Values.mcpServer.port) .Values.mcpServer.path }}
{{- end }}

{{- define "mcp-authz.policyConfigMapName" -}}
{{- default (printf "%s-policy" (include "mcp-authz.fullname" .)) .Values.policy.configMap.existingName }}
{{- end }}

{{/* Where things are mounted in the sidecar container. */}}
{{- define "mcp-authz.configDir" -}}/etc/mcp-authz{{- end }}
{{- define "mcp-authz.policyDir" -}}/var/lib/mcp-authz/policy{{- end }}
{{- define "mcp-authz.secretsDir" -}}/var/run/secrets/mcp-authz{{- end }}
{{- define "mcp-authz.tlsDir" -}}/var/run/secrets/mcp-authz/tls{{- end }}
{{- define "mcp-authz.tlsClientCaDir" -}}/var/run/secrets/mcp-authz/tls-client-ca{{- end }}

{{/* The secrets the chart knows, as name → (values key, config path). */}}
{{- define "mcp-authz.secretSpecs" -}}
apiKeyPepper: { volume: api-key-pepper, path: [authn, apiKeys, pepperFile] }
jwtHsSecret: { volume: jwt-hs-secret, path: [authn, jwt, hsSecretFile] }
redisPassword: { volume: redis-password, path: [store, passwordFile] }
reportToken: { volume: report-token, path: [admin, reportTokenFile] }
bundleVerificationKey: { volume: bundle-verification-key, path: [policy, verification, keyFile] }
bundleToken: { volume: bundle-token, path: [policy, bundleTokenFile] }
introspectionClientSecret: { volume: introspection-client-secret, path: [authn, introspection, clientSecretFile] }
{{- end }}

{{/*
The sidecar's config as a dict: .Values.config with the keys the chart owns set from mcpServer, policy, redis
and secrets (validate.yaml refuses those keys in .Values.config).
*/}}
{{- define "mcp-authz.configDict" -}}
{{- $cfg := deepCopy (.Values.config | default dict) }}
{{- $upstream := get $cfg "upstream" | default dict }}
{{- $_ := set $upstream "url" (include "mcp-authz.upstreamUrl" .) }}
{{- $_ = set $cfg "upstream" $upstream }}
{{- $policy := get $cfg "policy" | default dict }}
{{- if eq .Values.policy.source "url" }}
{{- /* A URL from a Secret reaches the sidecar as AUTHZ_POLICY_BUNDLE (_sidecar.tpl), which wins over this. */}}
{{- $_ = set $policy "bundle" (.Values.policy.url | default "https://policy-url.invalid/from-the-secret-in-AUTHZ_POLICY_BUNDLE") }}
{{- if .Values.policy.persist }}
{{- $_ = set $policy "persistDir" "/tmp/mcp-authz-bundle" }}
{{- end }}
{{- else if eq .Values.policy.source "configMap" }}
{{- $dir := include "mcp-authz.policyDir" . }}
{{- $_ = set $policy "bundle" (ternary (printf "%s/%s" $dir .Values.policy.configMap.bundleFile) $dir (ne .Values.policy.configMap.bundleFile "")) }}
{{- else }}
{{- $_ = set $policy "bundle" "/app/policy/bundle.tar.gz" }}
{{- end }}
{{- $_ = set $cfg "policy" $policy }}
{{- with .Values.redis.url }}
{{- $store := get $cfg "store" | default dict }}
{{- $_ := set $store "redisUrl" . }}
{{- $_ = set $cfg "store" $store }}
{{- end }}
{{- with .Values.tls.secretName }}
{{- $dir := include "mcp-authz.tlsDir" $ }}
{{- $server := get $cfg "server" | default dict }}
{{- $tls := dict "certFile" (printf "%s/tls.crt" $dir) "keyFile" (printf "%s/tls.key" $dir) "minVersion" $.Values.tls.minVersion }}
{{- if $.Values.tls.requireClientCert }}
{{- $_ := set $tls "clientCaFile" (printf "%s/ca.crt" (ternary (include "mcp-authz.tlsClientCaDir" $) $dir (ne $.Values.tls.clientCaSecretName ""))) }}
{{- end }}
{{- $_ := set $server "tls" $tls }}
{{- $_ = set $cfg "server" $server }}
{{- end }}
{{- $specs := include "mcp-authz.secretSpecs" . | fromYaml }}
{{- range $name, $spec := $specs }}
{{- $s := get $.Values.secrets $name }}
{{- if $s.existingSecret }}
{{- $section := index $spec.path 0 }}
{{- $node := get $cfg $section | default dict }}
{{- $_ := set $cfg $section $node }}
{{- if eq (len $spec.path) 3 }}
{{- $child := get $node (index $spec.path 1) | default dict }}
{{- $_ := set $node (index $spec.path 1) $child }}
{{- $node = $child }}
{{- end }}
{{- $_ := set $node (last $spec.path) (printf "%s/%s/%s" (include "mcp-authz.secretsDir" $) $spec.volume $s.key) }}
{{- end }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{- define "mcp-authz.configYaml" -}}
# mcp-authz config, rendered by the Helm chart from .Values.config (see docs/configuration.md)
{{ include "mcp-authz.configDict" . }}
{{- end }}

{{- define "mcp-authz.configMapName" -}}
{{- printf "%s-config" (include "mcp-authz.fullname" .) }}
{{- end }}

{{/* The Deployment's pod selector, or the one given for sidecar mode. */}}
{{- define "mcp-authz.podSelector" -}}
{{- if eq .Values.mode "sidecar" }}
{{- toYaml .Values.networkPolicy.podSelector }}
{{- else }}
{{- include "mcp-authz.selectorLabels" . }}
{{- end }}
{{- end }}
