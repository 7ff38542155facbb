{{/* Names, labels and the values derived from several others. */}}

{{- define "switchboard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's objects are named after it: "switchboard" when the release is called so. */}}
{{- define "switchboard.fullname" -}}
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

{{- define "switchboard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "switchboard.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "switchboard.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: switchboard
{{- end }}

{{- define "switchboard.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "switchboard.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "switchboard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The injected sidecar: the operator's image unless sidecar.image says otherwise. */}}
{{- define "switchboard.sidecarImage" -}}
{{- $repository := default .Values.image.repository .Values.sidecar.image.repository }}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.sidecar.image.tag }}
{{- printf "%s:%s" $repository $tag }}
{{- end }}

{{- define "switchboard.sidecarPullPolicy" -}}
{{- default .Values.image.pullPolicy .Values.sidecar.image.pullPolicy }}
{{- end }}

{{/*
The namespaces a namespaced operator watches, as a JSON list: operator.watchNamespaces plus the release
namespace (where `helm test` puts its resources). Unused with operator.allNamespaces.
*/}}
{{- define "switchboard.watchedNamespaces" -}}
{{- $names := list .Release.Namespace }}
{{- range .Values.operator.watchNamespaces }}
{{- $names = append $names . }}
{{- end }}
{{- $names | uniq | toJson }}
{{- end }}

{{- define "switchboard.webhookHost" -}}
{{- printf "%s.%s.svc" (include "switchboard.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "switchboard.webhookTlsSecret" -}}
{{- printf "%s-webhook-tls" (include "switchboard.fullname" .) }}
{{- end }}

{{- define "switchboard.certManager" -}}
{{- if eq .Values.webhook.certificates.source "cert-manager" }}true{{ end }}
{{- end }}

{{/* The image of the `helm test` pods. */}}
{{- define "switchboard.testImage" -}}
{{- default (include "switchboard.image" .) .Values.tests.image }}
{{- end }}
