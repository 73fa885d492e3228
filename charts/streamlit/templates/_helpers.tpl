{{/* Chart name. */}}
{{- define "streamlit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: <release>-streamlit unless overridden. */}}
{{- define "streamlit.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "streamlit.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Selector labels (immutable). */}}
{{- define "streamlit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "streamlit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "streamlit.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "streamlit.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: ui
app.kubernetes.io/part-of: mlops-platform
{{- end }}

{{/* The Secret holding the app's API key: existingSecret, else the umbrella's credentials. */}}
{{- define "streamlit.secretName" -}}
{{- .Values.existingSecret | default (.Values.global).credentialsSecret | default "mlops-credentials" }}
{{- end }}
