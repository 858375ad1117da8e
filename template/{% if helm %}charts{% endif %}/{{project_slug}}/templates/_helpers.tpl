{{/*
Expand the name of the chart.
*/}}
{{- define "app.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "app.fullname" -}}
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

{{/*
Create chart name and version as used by the chart label.
*/}}
{{- define "app.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "app.labels" -}}
helm.sh/chart: {{ include "app.chart" . }}
{{ include "app.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels
*/}}
{{- define "app.selectorLabels" -}}
app.kubernetes.io/name: {{ include "app.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "app.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "app.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The label that lets a pod of the namespace through the NetworkPolicy to the service.
*/}}
{{- define "app.clientLabel" -}}
{{ include "app.fullname" . | trunc 56 | trimSuffix "-" }}-client
{{- end }}

{{/*
The port the image serves HTTP on: fixed by the image, and the one its settings name.
*/}}
{{- define "app.containerPort" -}}
8080
{{- end }}

{{/*
The image reference: repository, tag (default: appVersion) and, when given, digest.
*/}}
{{- define "app.image" -}}
{{- $reference := printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- if .Values.image.digest }}
{{- $reference = printf "%s@%s" $reference .Values.image.digest }}
{{- end }}
{{- $reference }}
{{- end }}

{{/*
The pull policy: as given, else IfNotPresent for a digest and Always for a tag (which may move).
*/}}
{{- define "app.imagePullPolicy" -}}
{{- .Values.image.pullPolicy | default (ternary "IfNotPresent" "Always" (not (empty .Values.image.digest))) }}
{{- end }}

{{/*
Pod security context: the image's unprivileged user, and the runtime's default seccomp profile.
*/}}
{{- define "app.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container security context: no privilege, no capability, nothing written outside mounted volumes.
*/}}
{{- define "app.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
The workload kind: a Deployment for rolling updates, an Argo Rollouts Rollout otherwise.
*/}}
{{- define "app.workloadKind" -}}
{{- if eq .Values.deploymentStrategy "rolling" }}Deployment{{ else }}Rollout{{ end }}
{{- end }}

{{/*
The Service the new version is reached by during a rollout: canary or preview.
*/}}
{{- define "app.rolloutServiceName" -}}
{{- $suffix := ternary "canary" "preview" (eq .Values.deploymentStrategy "canary") }}
{{- printf "%s-%s" (include "app.fullname" . | trunc 55 | trimSuffix "-") $suffix }}
{{- end }}

{{/*
The fewest replicas the workload runs: the autoscaler's minimum, else replicaCount.
*/}}
{{- define "app.minReplicas" -}}
{{- if .Values.autoscaling.enabled }}{{ .Values.autoscaling.minReplicas | int }}{{ else }}{{ .Values.replicaCount | int }}{{ end }}
{{- end }}

{{/*
The Vault KV v2 path the secrets are read from.
*/}}
{{- define "app.vaultSecretPath" -}}
{{- printf "%s/data/%s" .Values.vault.kvMount .Values.vault.kvPath }}
{{- end }}

{{/*
The Vault Agent template (Consul Template syntax, kept literal here): one
<envPrefix><KEY>=<value> line per key of the secret, the dotenv file the service reads.
*/}}
{{- define "app.vaultAgentTemplate" -}}
{{ printf "{{ with secret %q }}{{ range $key, $value := .Data.data }}" (include "app.vaultSecretPath" .) }}
{{- printf "%s{{ $key | toUpper }}={{ $value }}" .Values.envPrefix }}
{{ "{{ end }}{{ end }}" }}
{{- end }}

{{/*
Refuse values the schema cannot express (relations between values), naming each value.
*/}}
{{- define "app.validateValues" -}}
{{- $errors := list }}
{{- $minReplicas := include "app.minReplicas" . | int }}
{{- if and .Values.autoscaling.enabled (gt (.Values.autoscaling.minReplicas | int) (.Values.autoscaling.maxReplicas | int)) }}
{{- $errors = append $errors (printf "autoscaling.minReplicas (%d) exceeds autoscaling.maxReplicas (%d)" (.Values.autoscaling.minReplicas | int) (.Values.autoscaling.maxReplicas | int)) }}
{{- end }}
{{- if and .Values.podDisruptionBudget.enabled (ge (.Values.podDisruptionBudget.minAvailable | int) $minReplicas) }}
{{- $errors = append $errors (printf "podDisruptionBudget.minAvailable (%d) must be below the fewest replicas (%d, autoscaling.minReplicas or replicaCount), or no pod may ever be evicted and node drains block" (.Values.podDisruptionBudget.minAvailable | int) $minReplicas) }}
{{- end }}
{{- $shutdown := add .Values.preStopSleepSeconds .Values.settings.gracefulShutdownSeconds 5 }}
{{- if lt (.Values.terminationGracePeriodSeconds | int) ($shutdown | int) }}
{{- $errors = append $errors (printf "terminationGracePeriodSeconds (%d) must be at least preStopSleepSeconds (%d) + settings.gracefulShutdownSeconds (%d) + 5, or the kubelet kills pods still draining requests" (.Values.terminationGracePeriodSeconds | int) (.Values.preStopSleepSeconds | int) (.Values.settings.gracefulShutdownSeconds | int)) }}
{{- end }}
{{- if and .Values.ingress.enabled (empty .Values.ingress.hosts) }}
{{- $errors = append $errors "ingress.hosts must list at least one host when ingress.enabled is true" }}
{{- end }}
{{- $managed := list "ENVIRONMENT" "LOG_LEVEL" "HOST" "PORT" "WORKERS" "DATABASE_URL" "MIGRATE_ON_STARTUP" "CACHE_URL" "GRACEFUL_SHUTDOWN_SECONDS" "KEEP_ALIVE_SECONDS" "FORWARDED_ALLOW_IPS" "VAULT_SECRETS_FILE" "VAULT_ROLE" "VAULT_AUTH_MOUNT" "VAULT_KV_MOUNT" "VAULT_KV_PATH" "VAULT_DATABASE_ROLE" "VAULT_DATABASE_MOUNT" }}
{{- range $name, $_ := .Values.settings.extra }}
{{- if has $name $managed }}
{{- $errors = append $errors (printf "settings.extra.%s is set by the chart: use its own value instead" $name) }}
{{- else if regexMatch "(PASSWORD|SECRET|TOKEN|KEY)$" $name }}
{{- $errors = append $errors (printf "settings.extra.%s looks like a secret: put it in the Secret named by existingSecret, never in values" $name) }}
{{- end }}
{{- end }}
{{- if .Values.auth }}
{{- $errors = concat $errors (include "app.authErrors" . | splitList "\n" | compact) }}
{{- end }}
{{- if $errors }}
{{- fail (printf "\n%s" (join "\n" $errors)) }}
{{- end }}
{{- end }}

{{/*
Policy checks (checkov) the workload skips, each with the reason it does not apply.
*/}}
{{- define "app.checkovSkips" -}}
{{- if not (dig "limits" "cpu" "" .Values.resources) }}
checkov.io/skip1: "CKV_K8S_11=no CPU limit by design: it throttles a latency-bound server, while CPU requests reserve capacity and drive the autoscaler"
{{- end }}
{{- if not .Values.image.digest }}
checkov.io/skip2: "CKV_K8S_43=no image.digest given, so the tag is pulled Always: set image.digest at deploy time to pin the image"
{{- end }}
{{- if .Values.existingSecret }}
checkov.io/skip3: "CKV_K8S_35=the service reads settings from environment variables only, and never logs them"
{{- end }}
{{- end }}

{{/*
Labels of the `helm test` objects: not the selector labels, so no Service, PDB or NetworkPolicy of the service selects them.
*/}}
{{- define "app.testLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: helm-test
{{- end }}
