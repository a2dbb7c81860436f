{{/*
Checks across values that values.schema.json cannot express. Each failure names the value to change.
*/}}
{{- define "mcp-authz.validate" -}}
{{- $v := .Values }}
{{- $cfg := $v.config | default dict }}
{{- $errors := list }}

{{- /* The MCP server must be reachable only through the sidecar. */}}
{{- $host := toString $v.mcpServer.host }}
{{- if not (regexMatch "^(127(\\.[0-9]{1,3}){3}|::1|localhost)$" $host) }}
{{- $errors = append $errors (printf "mcpServer.host must be a loopback address (127.0.0.1, ::1 or localhost) so only the sidecar can reach the MCP server; got %q" $host) }}
{{- end }}
{{- if and (eq $v.mode "deployment") (not $v.mcpServer.image.repository) }}
{{- $errors = append $errors "mcpServer.image.repository is required in deployment mode (the MCP server image to run next to the sidecar); use mode=sidecar to add the sidecar to a Deployment of your own" }}
{{- end }}
{{- /* A repository may carry its own tag or digest (example/mcp:1.4, example/mcp@sha256:…). */}}
{{- $pinnedRepo := regexMatch "(@sha256:[0-9a-f]+|:[^/:]+)$" (toString $v.mcpServer.image.repository) }}
{{- if and (eq $v.mode "deployment") $v.mcpServer.image.repository (not $v.mcpServer.image.tag) (not $v.mcpServer.image.digest) (not $pinnedRepo) }}
{{- $errors = append $errors "mcpServer.image.tag or mcpServer.image.digest is required in deployment mode: pin the MCP server's version (set the tag to latest only if you mean it)" }}
{{- end }}

{{- /*
A URL's password would be rendered into the ConfigMap (readable by more than Secrets are): a Redis URL may
name a user alone; a bundle URL no user information at all (a token as its user is a credential too).
*/}}
{{- /* The sidecar reads a Redis URL's userinfo up to the LAST "@" (a password may hold "/", "?" or "#", as
base64 ones do), so any ":" before an "@" is a password. */}}
{{- $redisPassword := "^[A-Za-z][A-Za-z0-9+.-]*://.*:.*@" }}
{{- $userInfo := "^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*@" }}
{{- range $where, $url := dict "redis.url" $v.redis.url "config.store.redisUrl" (dig "store" "redisUrl" "" $cfg) }}
{{- if regexMatch $redisPassword (toString $url) }}
{{- $errors = append $errors (printf "%s carries a password, which would be written into the ConfigMap: give it in secrets.redisPassword instead and leave it out of the URL" $where) }}
{{- end }}
{{- end }}
{{- /* A presigned (S3, GCS) or SAS (Azure) URL, or one with a token or API key parameter (GitLab's private_token, a
     Google API key=): its query is the credential. */}}
{{- $queryCredential := "(?i)[?&](sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|awsaccesskeyid|access_token|token|private_token|api_key|apikey|key)=" }}
{{- range $where, $url := dict "policy.url" $v.policy.url "config.policy.bundle" (dig "policy" "bundle" "" $cfg) }}
{{- if regexMatch $userInfo (toString $url) }}
{{- $errors = append $errors (printf "%s carries credentials, which would be written into the ConfigMap: give a token in secrets.bundleToken instead and leave them out of the URL" $where) }}
{{- else if regexMatch $queryCredential (toString $url) }}
{{- $errors = append $errors (printf "%s carries a credential in its query (a presigned or SAS URL), which would be written into the ConfigMap: give the URL in a Secret, policy.urlSecret.existingSecret, instead" $where) }}
{{- end }}
{{- end }}

{{- /* Ports must not collide inside the pod. */}}
{{- $port := include "mcp-authz.port" . | int }}
{{- $adminPort := include "mcp-authz.adminPort" . | int }}
{{- $upstreamPort := $v.mcpServer.port | int }}
{{- if eq $port $adminPort }}
{{- $errors = append $errors (printf "config.server.port and config.admin.port must differ (both %d)" $port) }}
{{- end }}
{{- if or (eq $upstreamPort $port) (eq $upstreamPort $adminPort) }}
{{- $errors = append $errors (printf "mcpServer.port %d collides with the sidecar's ports (config.server.port %d, config.admin.port %d)" $upstreamPort $port $adminPort) }}
{{- end }}
{{- if or (eq $port 0) (eq $adminPort 0) }}
{{- $errors = append $errors "config.server.port and config.admin.port must be fixed ports in a pod, not 0" }}
{{- end }}
{{- range $listener := list "server" "admin" }}
{{- $h := dig $listener "host" "" $cfg | toString }}
{{- if or (hasPrefix "127." $h) (eq $h "localhost") (eq $h "::1") }}
{{- $errors = append $errors (printf "config.%s.host must not be a loopback address (%s): the Service and the probes reach the sidecar on the pod's address" $listener $h) }}
{{- end }}
{{- end }}

{{- /* Keys of config.yaml that the chart sets itself. */}}
{{- $owned := dict "upstream.url" "mcpServer.host/port/path" "policy.bundle" "policy.source and policy.url/policy.configMap" "store.redisUrl" "redis.url" "store.passwordFile" "secrets.redisPassword.existingSecret" "authn.apiKeys.pepperFile" "secrets.apiKeyPepper.existingSecret" "authn.jwt.hsSecretFile" "secrets.jwtHsSecret.existingSecret" "admin.reportTokenFile" "secrets.reportToken.existingSecret" "policy.verification.keyFile" "secrets.bundleVerificationKey.existingSecret" "policy.bundleTokenFile" "secrets.bundleToken.existingSecret" "authn.introspection.clientSecretFile" "secrets.introspectionClientSecret.existingSecret" "server.tls" "tls.secretName" "policy.persistDir" "policy.persist (with policy.source url)" }}
{{- range $path, $instead := $owned }}
{{- $node := $cfg }}
{{- $found := true }}
{{- range $key := splitList "." $path }}
{{- if and $found (kindIs "map" $node) (hasKey $node $key) }}
{{- $node = index $node $key }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if $found }}
{{- $errors = append $errors (printf "config.%s is set by the chart: set %s instead" $path $instead) }}
{{- end }}
{{- end }}

{{- if and .Values.tls.requireClientCert (not .Values.tls.secretName) }}
{{- $errors = append $errors "tls.requireClientCert needs tls.secretName (the Secret's ca.crt is the client CA)" }}
{{- end }}
{{- if and .Values.tls.clientCaSecretName (not .Values.tls.requireClientCert) }}
{{- $errors = append $errors "tls.clientCaSecretName is used only with tls.requireClientCert: set it, or leave the client CA unset" }}
{{- end }}

{{- /* Policy source. */}}
{{- $urlSecret := ($v.policy.urlSecret | default dict).existingSecret }}
{{- if and (eq $v.policy.source "url") $urlSecret $v.policy.url }}
{{- $errors = append $errors "give policy.url or policy.urlSecret, not both" }}
{{- else if and (eq $v.policy.source "url") $urlSecret $v.secrets.bundleToken.existingSecret }}
{{- $errors = append $errors "policy.urlSecret carries its credential in the URL: leave secrets.bundleToken out (a presigned URL's server refuses a second one)" }}
{{- else if and (eq $v.policy.source "url") (not $urlSecret) (not (regexMatch "^https?://" (toString $v.policy.url))) }}
{{- $errors = append $errors "policy.url must be an http(s) URL of a bundle when policy.source is url (or give policy.urlSecret)" }}
{{- end }}
{{- if eq $v.policy.source "configMap" }}
{{- $cm := $v.policy.configMap }}
{{- $entries := merge (dict) ($cm.files | default dict) ($cm.binaryFiles | default dict) }}
{{- if and (not $cm.existingName) (not $entries) }}
{{- $errors = append $errors "policy.source is configMap: set policy.configMap.existingName, or give the bundle in policy.configMap.binaryFiles (base64) or policy.configMap.files" }}
{{- end }}
{{- if and (not $cm.existingName) $entries $cm.bundleFile (not (hasKey $entries $cm.bundleFile)) }}
{{- $errors = append $errors (printf "policy.configMap.bundleFile is %q but the chart-managed ConfigMap has no such entry (it has: %s); set bundleFile to \"\" to load the entries as a bundle folder" $cm.bundleFile (keys $entries | sortAlpha | join ", ")) }}
{{- end }}
{{- if and (not $cm.existingName) $entries (not $cm.bundleFile) }}
{{- range $f := list ".manifest" "policy.wasm" }}
{{- if not (hasKey $entries $f) }}
{{- $errors = append $errors (printf "policy.configMap: a bundle folder needs %s (policy.configMap.files or binaryFiles)" $f) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{- /* Secrets and the store. */}}
{{- if and (hasKey (get $cfg "policy" | default dict) "verification") (not $v.secrets.bundleVerificationKey.existingSecret) }}
{{- $errors = append $errors "config.policy.verification is set: set secrets.bundleVerificationKey.existingSecret to a Secret holding the bundle signing public key (or HMAC secret)" }}
{{- end }}
{{- $introspection := dig "authn" "introspection" (dict) $cfg }}
{{- if and $v.secrets.introspectionClientSecret.existingSecret (not (get $introspection "endpoint")) }}
{{- $errors = append $errors "secrets.introspectionClientSecret is used only with token introspection: set config.authn.introspection.endpoint and clientId" }}
{{- end }}
{{- $envNames := list }}
{{- range $v.extraEnv }}{{ $envNames = append $envNames .name }}{{ end }}
{{- /* extraEnvFrom's Secrets and ConfigMaps may hold any variable: a secret is then not known to be missing. */}}
{{- $envFrom := not (empty $v.extraEnvFrom) }}
{{- if and (get $introspection "endpoint") (not $v.secrets.introspectionClientSecret.existingSecret) (not (has "AUTHZ_INTROSPECTION_CLIENT_SECRET" $envNames)) (not $envFrom) }}
{{- $errors = append $errors "config.authn.introspection is set: set secrets.introspectionClientSecret.existingSecret to a Secret holding the client secret (or AUTHZ_INTROSPECTION_CLIENT_SECRET in extraEnv or extraEnvFrom)" }}
{{- end }}
{{- if and $v.secrets.bundleToken.existingSecret (ne $v.policy.source "url") }}
{{- $errors = append $errors (printf "secrets.bundleToken is sent only with a bundle URL: set policy.source=url (it is %s)" $v.policy.source) }}
{{- end }}
{{- $algs := dig "authn" "jwt" "algorithms" (list) $cfg }}
{{- range $alg := $algs }}
{{- if and (hasPrefix "HS" (toString $alg)) (not $v.secrets.jwtHsSecret.existingSecret) (not (has "AUTHZ_JWT_HS_SECRET" $envNames)) (not $envFrom) }}
{{- $errors = append $errors (printf "config.authn.jwt.algorithms lists %s: set secrets.jwtHsSecret.existingSecret to a Secret holding the shared secret (at least 32 bytes), or AUTHZ_JWT_HS_SECRET in extraEnv or extraEnvFrom" $alg) }}
{{- end }}
{{- end }}
{{- $issuersFromEnv := false }}
{{- range $e := $v.extraEnv }}{{- if eq (toString $e.name) "AUTHZ_JWT_ISSUERS" }}{{- $issuersFromEnv = true }}{{- end }}{{- end }}
{{- if and (dig "authn" "jwt" "jwksUri" "" $cfg) (not (dig "authn" "jwt" "issuers" (list) $cfg)) (not $issuersFromEnv) (ne (toString (dig "authn" "jwt" "enabled" true $cfg)) "false") }}
{{- $errors = append $errors "config.authn.jwt.jwksUri needs config.authn.jwt.issuers: the iss claim is checked against them, and the protected-resource metadata names them as authorization servers" }}
{{- end }}
{{- /* The metadata must name an authorization server (MCP): with introspection, its issuer or a configured one. */}}
{{- $named := or (dig "authn" "introspection" "issuer" "" $cfg) (dig "authn" "resourceMetadata" "authorizationServers" (list) $cfg) (dig "authn" "jwt" "issuers" (list) $cfg) $issuersFromEnv }}
{{- if and (dig "authn" "introspection" "endpoint" "" $cfg) (not $named) }}
{{- $errors = append $errors "config.authn.introspection needs config.authn.introspection.issuer (or config.authn.resourceMetadata.authorizationServers): the protected-resource metadata must name an authorization server, or MCP clients cannot find where to sign in" }}
{{- end }}
{{- $envNames := list }}
{{- range $e := $v.extraEnv }}{{- $envNames = append $envNames (toString $e.name) }}{{- end }}
{{- $jwtOn := ne (toString (dig "authn" "jwt" "enabled" true $cfg)) "false" }}
{{- $jwtKeys := or (dig "authn" "jwt" "jwksUri" "" $cfg) $v.secrets.jwtHsSecret.existingSecret (has "AUTHZ_JWT_JWKS_URI" $envNames) (has "AUTHZ_JWT_HS_SECRET" $envNames) }}
{{- $bound := or (dig "authn" "resource" "" $cfg) (dig "authn" "jwt" "audiences" (list) $cfg) (has "AUTHZ_RESOURCE" $envNames) (has "AUTHZ_JWT_AUDIENCES" $envNames) }}
{{- if and $jwtOn $jwtKeys (not $bound) }}
{{- $errors = append $errors "config.authn.resource (this server's URL, e.g. https://mcp.example.com/mcp) is required when JWTs are verified, so tokens are bound to this server (RFC 8707); or set config.authn.jwt.audiences" }}
{{- end }}
{{- /* extraEnv must not override what the chart sets (ports the probes use, the upstream, the bundle, secret paths). */}}
{{- $ownedEnv := list "AUTHZ_PORT" "AUTHZ_ADMIN_PORT" "AUTHZ_HOST" "AUTHZ_ADMIN_HOST" "AUTHZ_UPSTREAM_URL" "AUTHZ_POLICY_BUNDLE" "AUTHZ_POLICY_PERSIST_DIR" "AUTHZ_REDIS_URL" "AUTHZ_REDIS_PASSWORD_FILE" "AUTHZ_API_KEY_PEPPER_FILE" "AUTHZ_JWT_HS_SECRET_FILE" "AUTHZ_CONFIG" "NODE_ENV" "POD_NAME" "POD_NAMESPACE" "POD_UID" "NODE_NAME" "CONTAINER_NAME" "OTEL_SDK_DISABLED" }}
{{- range $n := $envNames }}
{{- if has $n $ownedEnv }}
{{- $errors = append $errors (printf "extraEnv %s is set by the chart: set the matching value (config.*, mcpServer.*, policy.*, redis.*, secrets.*, otel.*) instead" $n) }}
{{- end }}
{{- end }}
{{- /* A secret given as a literal value is written into the Deployment (and the release) in the clear; a value
that only references other variables ("$(REDIS_PASSWORD)", from extraEnvFrom) is filled in by the kubelet. */}}
{{- $secretEnv := list "AUTHZ_API_KEY_PEPPER" "AUTHZ_JWT_HS_SECRET" "AUTHZ_REDIS_PASSWORD" "AUTHZ_ADMIN_REPORT_TOKEN" "AUTHZ_BUNDLE_TOKEN" "AUTHZ_INTROSPECTION_CLIENT_SECRET" }}
{{- range $e := $v.extraEnv }}
{{- if and (has (toString $e.name) $secretEnv) (hasKey $e "value") (not (regexMatch "^(\\$\\([^()$]+\\))+$" (toString $e.value))) }}
{{- $errors = append $errors (printf "extraEnv %s carries its value in the values, written into the Deployment in the clear: take it from a Secret (valueFrom.secretKeyRef, or extraEnvFrom), or use secrets.* (a file the sidecar re-reads when it changes)" $e.name) }}
{{- end }}
{{- end }}
{{- if not $v.otel.enabled }}
{{- range $n := $envNames }}
{{- if hasPrefix "OTEL_EXPORTER_OTLP" $n }}
{{- $errors = append $errors (printf "extraEnv %s has no effect while otel.enabled is false (the chart sets OTEL_SDK_DISABLED): set otel.enabled and otel.endpoint" $n) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $v.secrets.redisPassword.existingSecret (not $v.redis.url) }}
{{- $errors = append $errors "secrets.redisPassword.existingSecret is set but redis.url is empty" }}
{{- end }}
{{- $replicas := ternary ($v.autoscaling.maxReplicas | int) ($v.replicaCount | int) (and (eq $v.mode "deployment") $v.autoscaling.enabled) }}
{{- if and (eq $v.mode "deployment") (gt $replicas 1) (not $v.redis.url) (not $v.redis.allowInMemoryWithReplicas) }}
{{- $errors = append $errors (printf "%d replicas need a shared store: set redis.url (without it every pod has its own in-memory store, so API keys, revocations and rate limits are not shared), or set redis.allowInMemoryWithReplicas=true" $replicas) }}
{{- end }}
{{- if and $v.autoscaling.enabled (gt ($v.autoscaling.minReplicas | int) ($v.autoscaling.maxReplicas | int)) }}
{{- $errors = append $errors "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
{{- /*
Utilisation is usage over the pod's requests: every container needs a request for each resource the HPA
targets. With neither target set the HPA defaults to 80% CPU.
*/}}
{{- if and (eq $v.mode "deployment") $v.autoscaling.enabled }}
{{- $as := $v.autoscaling }}
{{- $targets := dict "cpu" (or $as.targetCPUUtilizationPercentage (not $as.targetMemoryUtilizationPercentage)) "memory" $as.targetMemoryUtilizationPercentage }}
{{- $why := dict "cpu" (ternary "autoscaling.targetCPUUtilizationPercentage" "autoscaling (with no target set the HPA targets 80% CPU)" (not (empty $as.targetCPUUtilizationPercentage))) "memory" "autoscaling.targetMemoryUtilizationPercentage" }}
{{- range $resource := list "cpu" "memory" }}
{{- if get $targets $resource }}
{{- range $where, $resources := dict "mcpServer.resources" $v.mcpServer.resources "resources" $v.resources }}
{{- if not (dig "requests" $resource "" ($resources | default dict)) }}
{{- $label := ternary "CPU" "memory" (eq $resource "cpu") }}
{{- $errors = append $errors (printf "%s needs a %s request on every container of the pod to compute %s utilisation: set %s.requests.%s" (get $why $resource) $label $label $where $resource) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- /*
SIGTERM reaches both containers at once: the sidecar serves for shutdownDelayMs, lets requests finish for
shutdownGraceMs, then takes up to 2 s to end streams and close its pool; the MCP server waits all that in its
preStop sleep (mcp-authz.drainSeconds) and only then gets its own SIGTERM. The grace period runs from the
first SIGTERM: it must hold the preStop wait and 5 s more for the server to stop, the rule the docs give.
*/}}
{{- $preStopSeconds := include "mcp-authz.drainSeconds" . | int }}
{{- $graceNeeded := add $preStopSeconds 5 }}
{{- if and (eq $v.mode "deployment") (lt ($v.terminationGracePeriodSeconds | int) $graceNeeded) }}
{{- $errors = append $errors (printf "terminationGracePeriodSeconds (%d) must be at least %d: the MCP server's preStop wait (%d s: config.server.shutdownDelayMs + shutdownGraceMs, rounded up to whole seconds, + 2 s) + 5 s for the server to stop after its own SIGTERM; shorter, and the kubelet kills the pod mid-drain or the server mid-shutdown" ($v.terminationGracePeriodSeconds | int) $graceNeeded $preStopSeconds) }}
{{- end }}
{{- /* Labels the chart sets itself: a repeat would be a duplicate key, and in the pod template it would move the Deployment's selector. */}}
{{- range $k, $_ := ($v.podLabels | default dict) }}
{{- if has $k (list "app.kubernetes.io/name" "app.kubernetes.io/instance") }}
{{- $errors = append $errors (printf "podLabels.%s is the Deployment's selector label, set by the chart: choose another key (nameOverride changes app.kubernetes.io/name)" $k) }}
{{- end }}
{{- end }}
{{- $chartLabels := list "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/part-of" "app.kubernetes.io/component" }}
{{- $common := $v.commonLabels | default dict }}
{{- $m := $v.metrics | default dict }}
{{- /* Only labels of objects that are rendered: app.kubernetes.io/component is the metrics Service's. */}}
{{- $metricsService := and (eq $v.mode "deployment") (dig "serviceMonitor" "enabled" false $m) }}
{{- $rendered := dict "serviceMonitor" $metricsService "prometheusRule" (dig "prometheusRule" "enabled" false $m) "dashboard" (dig "dashboard" "enabled" false $m) }}
{{- range $k, $_ := $common }}
{{- if and (has $k $chartLabels) (or $metricsService (ne $k "app.kubernetes.io/component")) }}
{{- $errors = append $errors (printf "commonLabels.%s is set by the chart: choose another key" $k) }}
{{- end }}
{{- end }}
{{- range $name := list "serviceMonitor" "prometheusRule" "dashboard" }}
{{- if get $rendered $name }}
{{- range $k, $_ := (dig $name "labels" dict $m) }}
{{- if has $k $chartLabels }}
{{- $errors = append $errors (printf "metrics.%s.labels.%s is set by the chart: choose another key" $name $k) }}
{{- else if hasKey $common $k }}
{{- $errors = append $errors (printf "metrics.%s.labels.%s repeats commonLabels.%s: set it in one place" $name $k $k) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- /* A budget no eviction can meet hangs every node drain (kubectl drain, cluster upgrades) on this pod. */}}
{{- $pdb := $v.podDisruptionBudget | default dict }}
{{- if and (eq $v.mode "deployment") $pdb.enabled }}
{{- $replicas := ternary (int (dig "minReplicas" 1 ($v.autoscaling | default dict))) (int $v.replicaCount) (dig "enabled" false ($v.autoscaling | default dict)) }}
{{- $min := $pdb.minAvailable }}
{{- /* No replicas (scaled to zero): no pod for a drain to wait on. */}}
{{- if eq $replicas 0 }}
{{- else if not (kindIs "invalid" $min) }}
{{- /* Kubernetes rounds a percentage up: 50% of 1 replica is 1, so no pod may go. */}}
{{- $needed := 0 }}
{{- if and (kindIs "string" $min) (hasSuffix "%" (toString $min)) }}
{{- $needed = div (add (mul (atoi (trimSuffix "%" (toString $min))) $replicas) 99) 100 }}
{{- else }}
{{- $needed = int $min }}
{{- end }}
{{- if ge (int $needed) $replicas }}
{{- $errors = append $errors (printf "podDisruptionBudget.minAvailable %v leaves no pod of %d evictable: every node drain would hang; lower it or raise the replicas" $min $replicas) }}
{{- end }}
{{- else if has (toString $pdb.maxUnavailable) (list "0" "0%") }}
{{- $errors = append $errors "podDisruptionBudget.maxUnavailable 0 leaves no pod evictable: every node drain would hang; use 1 or more" }}
{{- end }}
{{- end }}
{{- if and $v.otel.enabled (not $v.otel.endpoint) }}
{{- $errors = append $errors "otel.enabled needs otel.endpoint (the OTLP/HTTP base URL, e.g. http://otel-collector:4318)" }}
{{- end }}

{{- if $errors }}
{{- fail (printf "\n\nmcp-authz: invalid values:\n  - %s\n" (join "\n  - " $errors)) }}
{{- end }}
{{- end }}
