{{/* Names, labels and the values every template shares. */}}

{{- define "outbound-sms.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<release>-<chart>", or the release name when it already holds the chart's name. Short enough
for the migration Job's "-migrate-<revision>" suffix to fit 63 characters. */}}
{{- define "outbound-sms.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 42 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 42 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 42 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "outbound-sms.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The labels that select the release's pods (every component). */}}
{{- define "outbound-sms.selectorLabels" -}}
app.kubernetes.io/name: {{ include "outbound-sms.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "outbound-sms.labels" -}}
helm.sh/chart: {{ include "outbound-sms.chart" . }}
{{ include "outbound-sms.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: outbound-sms
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "outbound-sms.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "outbound-sms.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "outbound-sms.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{/* The container port of the API; SMS_BIND listens on it. */}}
{{- define "outbound-sms.httpPort" -}}8080{{- end -}}

{{- define "outbound-sms.sentinelMode" -}}
{{- if .Values.redis.sentinel.hosts -}}true{{- end -}}
{{- end -}}

{{/* SMS_PUBLIC_URL: the value, or the first ingress host (https when a TLS entry names it). */}}
{{- define "outbound-sms.publicUrl" -}}
{{- if .Values.publicUrl -}}
{{- .Values.publicUrl -}}
{{- else if and .Values.ingress.enabled .Values.ingress.hosts -}}
{{- $host := (first .Values.ingress.hosts).host -}}
{{- $scheme := "http" -}}
{{- range .Values.ingress.tls -}}
{{- if has $host (.hosts | default list) -}}{{- $scheme = "https" -}}{{- end -}}
{{- end -}}
{{- printf "%s://%s" $scheme $host -}}
{{- end -}}
{{- end -}}

{{/* Refuses, with one line naming the values, the combinations the server would refuse at start
(or that would run wrongly). Called by the ConfigMap, which every installation renders. */}}
{{- define "outbound-sms.validate" -}}
{{- $v := .Values -}}
{{- if and (include "outbound-sms.sentinelMode" .) (or $v.redis.url $v.redis.existingSecret) -}}
{{- fail "redis.url/redis.existingSecret (REDIS_URL) and redis.sentinel.hosts (REDIS_SENTINELS) exclude each other: set one of them" -}}
{{- end -}}
{{- if and (include "outbound-sms.sentinelMode" .) (not $v.redis.sentinel.masterName) -}}
{{- fail "redis.sentinel.masterName (REDIS_SENTINEL_MASTER) is required with redis.sentinel.hosts" -}}
{{- end -}}
{{- if and $v.jwt.secret (not $v.jwt.existingSecret) -}}
{{- if lt (len $v.jwt.secret) 32 -}}
{{- fail "jwt.secret (SMS_JWT_SECRET) must be at least 32 bytes: openssl rand -hex 32" -}}
{{- end -}}
{{- if contains "change-me" $v.jwt.secret -}}
{{- fail "jwt.secret (SMS_JWT_SECRET) is a placeholder (contains change-me): openssl rand -hex 32" -}}
{{- end -}}
{{- end -}}
{{- if eq $v.provider "twilio" -}}
{{- if not $v.twilio.accountSid -}}
{{- fail "provider twilio needs twilio.accountSid (TWILIO_ACCOUNT_SID)" -}}
{{- end -}}
{{- if not (or $v.twilio.authToken $v.twilio.existingSecret) -}}
{{- fail "provider twilio needs twilio.authToken or twilio.existingSecret (TWILIO_AUTH_TOKEN)" -}}
{{- end -}}
{{- if not (hasPrefix "https://" (include "outbound-sms.publicUrl" .)) -}}
{{- fail "provider twilio needs an https publicUrl (SMS_PUBLIC_URL), or an ingress with TLS for its first host: Twilio's callbacks and signatures must not cross the internet in clear text" -}}
{{- end -}}
{{- end -}}
{{- if eq $v.provider "webhook" -}}
{{- if not $v.webhook.url -}}
{{- fail "provider webhook needs webhook.url (SMS_WEBHOOK_URL)" -}}
{{- end -}}
{{- if not (or $v.webhook.secret $v.webhook.existingSecret) -}}
{{- fail "provider webhook needs webhook.secret or webhook.existingSecret (SMS_WEBHOOK_SECRET)" -}}
{{- end -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (gt (int $v.autoscaling.minReplicas) (int $v.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" -}}
{{- end -}}
{{- if and $v.autoscaling.enabled (not (or $v.autoscaling.targetCPUUtilizationPercentage $v.autoscaling.targetMemoryUtilizationPercentage)) -}}
{{- fail "autoscaling needs targetCPUUtilizationPercentage or targetMemoryUtilizationPercentage" -}}
{{- end -}}
{{- end -}}

{{/* The data of the chart's own Secret: every secret given as a value (not an existingSecret). */}}
{{- define "outbound-sms.secretData" -}}
{{- $v := .Values -}}
{{- $data := dict -}}
{{- if and $v.jwt.secret (not $v.jwt.existingSecret) -}}
{{- $_ := set $data "SMS_JWT_SECRET" $v.jwt.secret -}}
{{- end -}}
{{- if and $v.database.url (not $v.database.existingSecret) -}}
{{- $_ := set $data "DATABASE_URL" $v.database.url -}}
{{- end -}}
{{- if and $v.redis.url (not $v.redis.existingSecret) -}}
{{- $_ := set $data "REDIS_URL" $v.redis.url -}}
{{- end -}}
{{- if include "outbound-sms.sentinelMode" . -}}
{{- if and $v.redis.sentinel.password (not $v.redis.sentinel.existingSecret) -}}
{{- $_ := set $data "REDIS_PASSWORD" $v.redis.sentinel.password -}}
{{- end -}}
{{- if and $v.redis.sentinel.sentinelPassword (not $v.redis.sentinel.sentinelExistingSecret) -}}
{{- $_ := set $data "REDIS_SENTINEL_PASSWORD" $v.redis.sentinel.sentinelPassword -}}
{{- end -}}
{{- end -}}
{{- if and $v.twilio.authToken (not $v.twilio.existingSecret) -}}
{{- $_ := set $data "TWILIO_AUTH_TOKEN" $v.twilio.authToken -}}
{{- end -}}
{{- if and $v.webhook.secret (not $v.webhook.existingSecret) -}}
{{- $_ := set $data "SMS_WEBHOOK_SECRET" $v.webhook.secret -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{- define "outbound-sms.generateJwt" -}}
{{- and (not .Values.jwt.secret) (not .Values.jwt.existingSecret) | ternary "true" "" -}}
{{- end -}}

{{/* The generated JWT secret: the one already in the cluster (read back with lookup, so it never
changes on an upgrade), or a new random one at the first install. Remembered for the rest of the
render, so the Secret and the pods' checksum annotation see the same value. */}}
{{- define "outbound-sms.generatedJwtSecret" -}}
{{- if not (hasKey .Values "__generatedJwtSecret") -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (printf "%s-jwt" (include "outbound-sms.fullname" .)) -}}
{{- $value := "" -}}
{{- if and $existing (hasKey ($existing.data | default dict) "SMS_JWT_SECRET") -}}
{{- $value = index $existing.data "SMS_JWT_SECRET" | b64dec -}}
{{- else -}}
{{- $value = randAlphaNum 64 -}}
{{- end -}}
{{- $_ := set .Values "__generatedJwtSecret" $value -}}
{{- end -}}
{{- index .Values "__generatedJwtSecret" -}}
{{- end -}}

{{/* sha256 of every secret value the chart holds: a change rolls the pods. (Secrets of yours,
existingSecret, are not seen: restart the Deployment after rotating them.) */}}
{{- define "outbound-sms.secretChecksum" -}}
{{- $all := dict "chart" (include "outbound-sms.secretData" . | fromJson) -}}
{{- if include "outbound-sms.generateJwt" . -}}
{{- $_ := set $all "jwt" (include "outbound-sms.generatedJwtSecret" .) -}}
{{- end -}}
{{- toJson $all | sha256sum -}}
{{- end -}}

{{/* The ConfigMap's data: the server's settings that are not secrets. */}}
{{- define "outbound-sms.configData" -}}
{{- $v := .Values -}}
{{- $data := dict
  "SMS_BIND" (printf "0.0.0.0:%s" (include "outbound-sms.httpPort" .))
  "SMS_DATA_DIR" "/tmp/sms"
  "SMS_SHUTDOWN_GRACE_SECS" (toString (int $v.shutdown.graceSeconds))
  "SMS_PROVIDER" $v.provider -}}
{{- if $v.metrics.separatePort.enabled -}}
{{- $_ := set $data "SMS_METRICS_BIND" (printf "0.0.0.0:%d" (int $v.metrics.separatePort.port)) -}}
{{- end -}}
{{- with include "outbound-sms.publicUrl" . -}}
{{- $_ := set $data "SMS_PUBLIC_URL" . -}}
{{- end -}}
{{- if $v.twilio.accountSid -}}
{{- $_ := set $data "TWILIO_ACCOUNT_SID" $v.twilio.accountSid -}}
{{- end -}}
{{- if $v.webhook.url -}}
{{- $_ := set $data "SMS_WEBHOOK_URL" $v.webhook.url -}}
{{- end -}}
{{- if include "outbound-sms.sentinelMode" . -}}
{{- $_ := set $data "REDIS_SENTINELS" (join "," $v.redis.sentinel.hosts) -}}
{{- $_ := set $data "REDIS_SENTINEL_MASTER" $v.redis.sentinel.masterName -}}
{{- end -}}
{{- range $key, $value := $v.config -}}
{{- if kindIs "float64" $value -}}
{{- $_ := set $data $key (toString (int64 $value)) -}}
{{- else if ne (toString $value) "" -}}
{{- $_ := set $data $key (toString $value) -}}
{{- end -}}
{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{/* A secret environment variable: from an existingSecret of yours, else from the chart's. */}}
{{- define "outbound-sms.secretEnvVar" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | default .chartSecret | quote }}
      key: {{ ternary .existingSecretKey .env (not (empty .existingSecret)) | quote }}
{{- end -}}

{{/* Every secret variable of the server. DATABASE_URL and the Redis connection are always
referenced: unset, the pod does not start (NOTES.txt says which value is missing) rather than
fall back to a private SQLite database and an in-process lock. */}}
{{- define "outbound-sms.secretEnv" -}}
{{- $v := .Values -}}
{{- $fullname := include "outbound-sms.fullname" . -}}
{{- $jwtSecret := ternary (printf "%s-jwt" $fullname) $fullname (not (empty (include "outbound-sms.generateJwt" .))) -}}
{{- include "outbound-sms.secretEnvVar" (dict "env" "SMS_JWT_SECRET" "existingSecret" $v.jwt.existingSecret "existingSecretKey" $v.jwt.existingSecretKey "chartSecret" $jwtSecret) }}
{{ include "outbound-sms.secretEnvVar" (dict "env" "DATABASE_URL" "existingSecret" $v.database.existingSecret "existingSecretKey" $v.database.existingSecretKey "chartSecret" $fullname) }}
{{- if include "outbound-sms.sentinelMode" . }}
{{- if or $v.redis.sentinel.password $v.redis.sentinel.existingSecret }}
{{ include "outbound-sms.secretEnvVar" (dict "env" "REDIS_PASSWORD" "existingSecret" $v.redis.sentinel.existingSecret "existingSecretKey" $v.redis.sentinel.existingSecretKey "chartSecret" $fullname) }}
{{- end }}
{{- if or $v.redis.sentinel.sentinelPassword $v.redis.sentinel.sentinelExistingSecret }}
{{ include "outbound-sms.secretEnvVar" (dict "env" "REDIS_SENTINEL_PASSWORD" "existingSecret" $v.redis.sentinel.sentinelExistingSecret "existingSecretKey" $v.redis.sentinel.sentinelExistingSecretKey "chartSecret" $fullname) }}
{{- end }}
{{- else }}
{{ include "outbound-sms.secretEnvVar" (dict "env" "REDIS_URL" "existingSecret" $v.redis.existingSecret "existingSecretKey" $v.redis.existingSecretKey "chartSecret" $fullname) }}
{{- end }}
{{- if or $v.twilio.authToken $v.twilio.existingSecret }}
{{ include "outbound-sms.secretEnvVar" (dict "env" "TWILIO_AUTH_TOKEN" "existingSecret" $v.twilio.existingSecret "existingSecretKey" $v.twilio.existingSecretKey "chartSecret" $fullname) }}
{{- end }}
{{- if or $v.webhook.secret $v.webhook.existingSecret }}
{{ include "outbound-sms.secretEnvVar" (dict "env" "SMS_WEBHOOK_SECRET" "existingSecret" $v.webhook.existingSecret "existingSecretKey" $v.webhook.existingSecretKey "chartSecret" $fullname) }}
{{- end }}
{{- end -}}

{{/* The /tmp volume: the only writable place of the read-only root filesystem. */}}
{{- define "outbound-sms.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end -}}
