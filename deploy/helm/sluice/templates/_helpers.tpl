{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: <release>-<chart> unless the release name already holds the chart name. */}}
{{- define "sluice.fullname" -}}
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

{{/* <fullname>-<component>, the full name truncated so that the component suffix survives. */}}
{{- define "sluice.componentName" -}}
{{- $root := index . 0 }}{{- $component := index . 1 }}
{{- printf "%s-%s" (include "sluice.fullname" $root | trunc (int (sub 62 (len $component))) | trimSuffix "-") $component }}
{{- end }}

{{- define "sluice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "sluice.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of one component (driver, executor): [root, component]. */}}
{{- define "sluice.componentLabels" -}}
{{ include "sluice.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "sluice.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "sluice.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sluice.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where the job module comes from: a file of the chart's ConfigMap, a ConfigMap of the user's, or the image. */}}
{{- define "sluice.jobModule" -}}
{{- if or .Values.job.file .Values.job.existingConfigMap.name -}}
/etc/sluice/job/job.js
{{- else -}}
{{- required "job.module, job.file or job.existingConfigMap.name is required" .Values.job.module }}
{{- end }}
{{- end }}

{{/* `sluice <role> --job ... --config ...`: the container's command and args. [root, role] */}}
{{- define "sluice.commandArgs" -}}
{{- $root := index . 0 }}{{- $role := index . 1 }}
{{- $values := index $root.Values $role }}
command: ["sluice"]
args:
  - {{ $role }}
  - --job
  - {{ include "sluice.jobModule" $root | quote }}
  - --config
  - /etc/sluice/config/config.json
  {{- with $root.Values.job.name }}
  - --name
  - {{ . | quote }}
  {{- end }}
  {{- if eq (default "direct" $root.Values.job.sourceMode) "receiver" }}
  - --source-mode
  - receiver
  {{- end }}
  {{- range $values.extraArgs }}
  - {{ . | quote }}
  {{- end }}
{{- end }}

{{/* Grace period: explicit, or the shutdown timeout plus 15 s. [values of the role] */}}
{{- define "sluice.gracePeriod" -}}
{{- if not (kindIs "invalid" .terminationGracePeriodSeconds) -}}
{{- .terminationGracePeriodSeconds }}
{{- else if not (kindIs "invalid" .shutdownTimeoutMs) -}}
{{- add (div (add .shutdownTimeoutMs 999) 1000) 15 }}
{{- else -}}
60
{{- end }}
{{- end }}

{{/* The Secret holding the gRPC token: the user's, or the one the chart generates (templates/grpc-token-secret.yaml). */}}
{{- define "sluice.grpcTokenSecret" -}}
{{- default (include "sluice.componentName" (list . "grpc-token")) .Values.grpc.token.existingSecret }}
{{- end }}

{{/* Environment shared by both roles: Kafka, Redis, gRPC security. Secrets only as file paths. */}}
{{- define "sluice.commonEnv" -}}
- name: KAFKA_BROKERS
  value: {{ join "," .Values.kafka.brokers | quote }}
{{- if .Values.redis.existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.urlKey }}
{{- else }}
- name: REDIS_URL
  value: {{ required "redis.url or redis.existingSecret is required" .Values.redis.url | quote }}
{{- end }}
{{- with .Values.redis.username }}
- name: SLUICE_REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.redis.password.existingSecret }}
- name: SLUICE_REDIS_PASSWORD_FILE
  value: /var/run/secrets/sluice/redis-password/password
{{- end }}
{{- with .Values.redis.tls }}
{{- if .existingSecret }}
- name: SLUICE_REDIS_TLS_CA_FILE
  value: /var/run/secrets/sluice/redis-tls/ca.crt
{{- if .certKey }}
- name: SLUICE_REDIS_TLS_CERT_FILE
  value: /var/run/secrets/sluice/redis-tls/tls.crt
{{- end }}
{{- if .keyKey }}
- name: SLUICE_REDIS_TLS_KEY_FILE
  value: /var/run/secrets/sluice/redis-tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.kafka.ssl }}
{{- if .enabled }}
- name: SLUICE_KAFKA_SSL
  value: "true"
{{- if .existingSecret }}
{{- if .caKey }}
- name: SLUICE_KAFKA_SSL_CA_FILE
  value: /var/run/secrets/sluice/kafka-tls/ca.crt
{{- end }}
{{- if .certKey }}
- name: SLUICE_KAFKA_SSL_CERT_FILE
  value: /var/run/secrets/sluice/kafka-tls/tls.crt
{{- end }}
{{- if .keyKey }}
- name: SLUICE_KAFKA_SSL_KEY_FILE
  value: /var/run/secrets/sluice/kafka-tls/tls.key
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- with .Values.kafka.sasl }}
{{- if ne .mechanism "none" }}
- name: SLUICE_KAFKA_SASL_MECHANISM
  value: {{ .mechanism | quote }}
- name: SLUICE_KAFKA_SASL_USERNAME
  value: {{ required "kafka.sasl.username is required with a SASL mechanism" .username | quote }}
- name: SLUICE_KAFKA_SASL_PASSWORD_FILE
  value: /var/run/secrets/sluice/kafka-sasl/password
{{- end }}
{{- end }}
{{- with .Values.grpc.tls }}
{{- if ne .mode "off" }}
- name: SLUICE_GRPC_TLS
  value: {{ .mode | quote }}
- name: SLUICE_GRPC_TLS_CERT_FILE
  value: /var/run/secrets/sluice/grpc-tls/tls.crt
- name: SLUICE_GRPC_TLS_KEY_FILE
  value: /var/run/secrets/sluice/grpc-tls/tls.key
- name: SLUICE_GRPC_TLS_CA_FILE
  value: /var/run/secrets/sluice/grpc-tls/ca.crt
{{- with .serverName }}
- name: SLUICE_GRPC_TLS_SERVER_NAME
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if .Values.grpc.token.enabled }}
- name: SLUICE_GRPC_TOKEN_FILE
  value: /var/run/secrets/sluice/grpc-token/token
{{- end }}
{{- end }}

{{/* A Secret volume: [name, secretName, list of (key, path) pairs]; read-only files, mode 0440 (group fsGroup). */}}
{{- define "sluice.secretVolume" -}}
- name: {{ index . 0 }}
  secret:
    secretName: {{ index . 1 }}
    defaultMode: 288 # 0440 in octal, written in decimal so that YAML 1.1 and 1.2 readers agree
    items:
      {{- range (index . 2) }}
      - key: {{ index . 0 }}
        path: {{ index . 1 }}
      {{- end }}
{{- end }}

{{/* Volumes of both roles: config, job file, tmp, and one per referenced Secret. */}}
{{- define "sluice.volumes" -}}
- name: config
  configMap:
    name: {{ include "sluice.fullname" . }}
    items:
      - key: config.json
        path: config.json
{{- if .Values.job.existingConfigMap.name }}
- name: job
  configMap:
    name: {{ .Values.job.existingConfigMap.name }}
    items:
      - key: {{ .Values.job.existingConfigMap.key }}
        path: job.js
{{- else if .Values.job.file }}
- name: job
  configMap:
    name: {{ include "sluice.fullname" . }}
    items:
      - key: job.js
        path: job.js
{{- end }}
- name: tmp
  emptyDir: {}
{{- if .Values.redis.password.existingSecret }}
{{ include "sluice.secretVolume" (list "redis-password" .Values.redis.password.existingSecret (list (list .Values.redis.password.key "password"))) }}
{{- end }}
{{- with .Values.redis.tls }}
{{- if .existingSecret }}
{{- $items := list (list .caKey "ca.crt") }}
{{- if .certKey }}{{ $items = append $items (list .certKey "tls.crt") }}{{ end }}
{{- if .keyKey }}{{ $items = append $items (list .keyKey "tls.key") }}{{ end }}
{{ include "sluice.secretVolume" (list "redis-tls" .existingSecret $items) }}
{{- end }}
{{- end }}
{{- with .Values.kafka.ssl }}
{{- if and .enabled .existingSecret }}
{{- $items := list }}
{{- if .caKey }}{{ $items = append $items (list .caKey "ca.crt") }}{{ end }}
{{- if .certKey }}{{ $items = append $items (list .certKey "tls.crt") }}{{ end }}
{{- if .keyKey }}{{ $items = append $items (list .keyKey "tls.key") }}{{ end }}
{{ include "sluice.secretVolume" (list "kafka-tls" .existingSecret $items) }}
{{- end }}
{{- end }}
{{- if ne .Values.kafka.sasl.mechanism "none" }}
{{ include "sluice.secretVolume" (list "kafka-sasl" (required "kafka.sasl.existingSecret is required with a SASL mechanism" .Values.kafka.sasl.existingSecret) (list (list .Values.kafka.sasl.passwordKey "password"))) }}
{{- end }}
{{- with .Values.grpc.tls }}
{{- if ne .mode "off" }}
{{ include "sluice.secretVolume" (list "grpc-tls" (required "grpc.tls.existingSecret is required when grpc.tls.mode is tls or mtls" .existingSecret) (list (list .certKey "tls.crt") (list .keyKey "tls.key") (list .caKey "ca.crt"))) }}
{{- end }}
{{- end }}
{{- if .Values.grpc.token.enabled }}
{{ include "sluice.secretVolume" (list "grpc-token" (include "sluice.grpcTokenSecret" .) (list (list .Values.grpc.token.key "token"))) }}
{{- end }}
{{- end }}

{{- define "sluice.volumeMounts" -}}
- name: config
  mountPath: /etc/sluice/config
  readOnly: true
{{- if or .Values.job.file .Values.job.existingConfigMap.name }}
- name: job
  mountPath: /etc/sluice/job
  readOnly: true
{{- end }}
- name: tmp
  mountPath: /tmp
{{- if .Values.redis.password.existingSecret }}
- { name: redis-password, mountPath: /var/run/secrets/sluice/redis-password, readOnly: true }
{{- end }}
{{- if .Values.redis.tls.existingSecret }}
- { name: redis-tls, mountPath: /var/run/secrets/sluice/redis-tls, readOnly: true }
{{- end }}
{{- if and .Values.kafka.ssl.enabled .Values.kafka.ssl.existingSecret }}
- { name: kafka-tls, mountPath: /var/run/secrets/sluice/kafka-tls, readOnly: true }
{{- end }}
{{- if ne .Values.kafka.sasl.mechanism "none" }}
- { name: kafka-sasl, mountPath: /var/run/secrets/sluice/kafka-sasl, readOnly: true }
{{- end }}
{{- if ne .Values.grpc.tls.mode "off" }}
- { name: grpc-tls, mountPath: /var/run/secrets/sluice/grpc-tls, readOnly: true }
{{- end }}
{{- if .Values.grpc.token.enabled }}
- { name: grpc-token, mountPath: /var/run/secrets/sluice/grpc-token, readOnly: true }
{{- end }}
{{- end }}

{{/* The pod spec parts both roles share. [root, role] */}}
{{- define "sluice.podCommon" -}}
{{- $root := index . 0 }}{{- $values := index $root.Values (index . 1) }}
serviceAccountName: {{ include "sluice.serviceAccountName" $root }}
automountServiceAccountToken: {{ $root.Values.automountServiceAccountToken }}
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ include "sluice.gracePeriod" $values }}
{{- with $values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  {{- include "sluice.volumes" $root | nindent 2 }}
{{- end }}

{{/* Probes and resources of a container. [values of the role] */}}
{{- define "sluice.probesResources" -}}
{{- with .livenessProbe }}
livenessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .readinessProbe }}
readinessProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .startupProbe }}
startupProbe:
  {{- toYaml . | nindent 2 }}
{{- end }}
resources:
  {{- toYaml .resources | nindent 2 }}
{{- end }}
