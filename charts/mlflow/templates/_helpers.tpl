{{/* Chart name. */}}
{{- define "mlflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: <release>-mlflow unless overridden. */}}
{{- define "mlflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "mlflow.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/* Selector labels (immutable). */}}
{{- define "mlflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "mlflow.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "mlflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: tracking-server
app.kubernetes.io/part-of: mlops-platform
{{- end }}

{{/* The Secret with the backend URI and S3 keys. */}}
{{- define "mlflow.secretName" -}}
{{- .Values.existingSecret | default (.Values.global).credentialsSecret | default "mlops-credentials" }}
{{- end }}

{{/* Environment shared by the migration init container and the server. */}}
{{- define "mlflow.env" -}}
- name: MLFLOW_BACKEND_STORE_URI
  valueFrom:
    secretKeyRef:
      name: {{ include "mlflow.secretName" . }}
      key: {{ .Values.backendStoreUriKey }}
- name: MLFLOW_S3_ENDPOINT_URL
  value: {{ tpl (.Values.s3Endpoint | default (.Values.global).s3Endpoint | required "mlflow.s3Endpoint or global.s3Endpoint is required") . | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ include "mlflow.secretName" . }}
      key: {{ .Values.s3AccessKeyKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "mlflow.secretName" . }}
      key: {{ .Values.s3SecretKeyKey }}
- name: AWS_DEFAULT_REGION
  value: us-east-1
# No job runner: its huey workers serve GenAI features this platform does not use.
- name: MLFLOW_SERVER_ENABLE_JOB_EXECUTION
  value: "false"
{{- end }}
