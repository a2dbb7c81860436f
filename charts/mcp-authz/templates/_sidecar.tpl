{{/*
The sidecar for a pod spec, as named templates. This chart's Deployment uses them, and so can a Deployment of
your own (mode: sidecar), from a chart that depends on this one:

  {{- $authz := index .Subcharts "mcp-authz" }}
  metadata:
    annotations:
      {{- include "mcp-authz.podAnnotations" $authz | nindent 8 }}
  spec:
    containers:
      - name: my-mcp-server            # listening on 127.0.0.1:<mcpServer.port> only
      {{- include "mcp-authz.sidecar" $authz | nindent 6 }}
    volumes:
      {{- include "mcp-authz.volumes" $authz | nindent 6 }}

See examples/own-chart/. Each template needs only .Values, .Release and .Chart of this chart.
*/}}

{{/* Pod annotations: pods roll when the rendered config changes. */}}
{{- define "mcp-authz.podAnnotations" -}}
checksum/config: {{ include "mcp-authz.configYaml" . | sha256sum }}
{{- end }}

{{/* The sidecar container (one list item of spec.containers). */}}
{{- define "mcp-authz.sidecar" -}}
- name: mcp-authz
  image: {{ include "mcp-authz.imageRef" (dict "image" .Values.image "defaultTag" .Chart.AppVersion) | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy | quote }}
  args: ["serve", "--config", "{{ include "mcp-authz.configDir" . }}/config.yaml"]
  ports:
    - name: http
      containerPort: {{ include "mcp-authz.port" . }}
      protocol: TCP
    - name: admin
      containerPort: {{ include "mcp-authz.adminPort" . }}
      protocol: TCP
  env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    - name: POD_NAMESPACE
      valueFrom:
        fieldRef:
          fieldPath: metadata.namespace
    - name: POD_UID
      valueFrom:
        fieldRef:
          fieldPath: metadata.uid
    - name: NODE_NAME
      valueFrom:
        fieldRef:
          fieldPath: spec.nodeName
    - name: CONTAINER_NAME
      value: mcp-authz
    - name: NODE_ENV
      value: production
    # Kubernetes gives every container <SERVICE>_PORT=tcp://… for each Service of the namespace unless the
    # pod sets enableServiceLinks: false: a Service named authz would set AUTHZ_PORT. These win over them.
    - name: AUTHZ_PORT
      value: {{ include "mcp-authz.port" . | quote }}
    - name: AUTHZ_ADMIN_PORT
      value: {{ include "mcp-authz.adminPort" . | quote }}
    {{- if and (eq .Values.policy.source "url") .Values.policy.urlSecret.existingSecret }}
    # The bundle URL from its Secret: its query may hold a credential, kept out of the ConfigMap.
    - name: AUTHZ_POLICY_BUNDLE
      valueFrom:
        secretKeyRef:
          name: {{ .Values.policy.urlSecret.existingSecret | quote }}
          key: {{ .Values.policy.urlSecret.key | quote }}
    {{- end }}
    {{- include "mcp-authz.otelEnv" . | trim | nindent 4 }}
    {{- with .Values.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.extraEnvFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  startupProbe:
    httpGet:
      path: {{ .Values.probes.startup.path | quote }}
      port: admin
    periodSeconds: {{ .Values.probes.startup.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.startup.failureThreshold }}
  livenessProbe:
    httpGet:
      path: {{ .Values.probes.liveness.path | quote }}
      port: admin
    initialDelaySeconds: {{ .Values.probes.liveness.initialDelaySeconds }}
    periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
  readinessProbe:
    httpGet:
      path: {{ .Values.probes.readiness.path | quote }}
      port: admin
    initialDelaySeconds: {{ .Values.probes.readiness.initialDelaySeconds }}
    periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
  {{- with .Values.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.securityContext | nindent 4 }}
  volumeMounts:
    - name: mcp-authz-config
      mountPath: {{ include "mcp-authz.configDir" . }}
      readOnly: true
    {{- if eq .Values.policy.source "configMap" }}
    - name: mcp-authz-policy
      mountPath: {{ include "mcp-authz.policyDir" . }}
      readOnly: true
    {{- end }}
    {{- range $name, $spec := include "mcp-authz.secretSpecs" . | fromYaml }}
    {{- if (get $.Values.secrets $name).existingSecret }}
    - name: mcp-authz-{{ $spec.volume }}
      mountPath: {{ include "mcp-authz.secretsDir" $ }}/{{ $spec.volume }}
      readOnly: true
    {{- end }}
    {{- end }}
    {{- if .Values.tls.secretName }}
    - name: mcp-authz-tls
      mountPath: {{ include "mcp-authz.tlsDir" . }}
      readOnly: true
    {{- if and .Values.tls.requireClientCert .Values.tls.clientCaSecretName }}
    - name: mcp-authz-tls-client-ca
      mountPath: {{ include "mcp-authz.tlsClientCaDir" . }}
      readOnly: true
    {{- end }}
    {{- end }}
    - name: mcp-authz-tmp
      mountPath: /tmp
    {{- with .Values.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}

{{/* OTEL_* environment of the sidecar. */}}
{{- define "mcp-authz.otelEnv" -}}
{{- if .Values.otel.enabled }}
- name: OTEL_SERVICE_NAME
  value: {{ default (include "mcp-authz.fullname" .) .Values.otel.serviceName | quote }}
{{- with .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .Values.otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .Values.otel.tracesSampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .Values.otel.tracesSamplerArg | toString | quote }}
{{- with .Values.otel.resourceAttributes }}
{{- $attrs := list }}
{{- range $k, $v := . }}
{{- $attrs = append $attrs (printf "%s=%v" $k $v) }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ join "," $attrs | quote }}
{{- end }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}

{{/* The sidecar's volumes (list items of spec.volumes). */}}
{{- define "mcp-authz.volumes" -}}
- name: mcp-authz-config
  configMap:
    name: {{ include "mcp-authz.configMapName" . }}
    items:
      - key: config.yaml
        path: config.yaml
{{- if eq .Values.policy.source "configMap" }}
- name: mcp-authz-policy
  configMap:
    name: {{ include "mcp-authz.policyConfigMapName" . }}
{{- end }}
{{- range $name, $spec := include "mcp-authz.secretSpecs" . | fromYaml }}
{{- $s := get $.Values.secrets $name }}
{{- if $s.existingSecret }}
- name: mcp-authz-{{ $spec.volume }}
  secret:
    secretName: {{ $s.existingSecret }}
    defaultMode: 288 # 0440: readable by the pod's fsGroup
    items:
      - key: {{ $s.key }}
        path: {{ $s.key | quote }}
{{- end }}
{{- end }}
{{- with .Values.tls.secretName }}
- name: mcp-authz-tls
  secret:
    secretName: {{ . }}
    defaultMode: 288 # 0440: readable by the pod's fsGroup
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
      {{- if and $.Values.tls.requireClientCert (not $.Values.tls.clientCaSecretName) }}
      - key: ca.crt
        path: ca.crt
      {{- end }}
{{- if and $.Values.tls.requireClientCert $.Values.tls.clientCaSecretName }}
- name: mcp-authz-tls-client-ca
  secret:
    secretName: {{ $.Values.tls.clientCaSecretName }}
    defaultMode: 288 # 0440: readable by the pod's fsGroup
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}
- name: mcp-authz-tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}
