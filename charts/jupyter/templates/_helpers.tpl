{{/* Chart name. */}}
{{- define "jupyter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: <release>-jupyter unless overridden. */}}
{{- define "jupyter.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "jupyter.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Selector labels (immutable). */}}
{{- define "jupyter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "jupyter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "jupyter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "jupyter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: notebooks
app.kubernetes.io/part-of: mlops-platform
{{- end }}

{{- define "jupyter.secretName" -}}
{{- .Values.existingSecret | default (.Values.global).credentialsSecret | default "mlops-credentials" }}
{{- end }}

{{- define "jupyter.configMapName" -}}
{{- .Values.configMap | default (.Values.global).configMap | default "mlops-settings" }}
{{- end }}
