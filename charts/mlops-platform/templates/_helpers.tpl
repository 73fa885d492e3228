{{/* Chart name. */}}
{{- define "mlops.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Common labels of the umbrella's own objects. */}}
{{- define "mlops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "mlops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlops-platform
{{- end }}

{{/* PostgreSQL host (global.databaseHost is templated). */}}
{{- define "mlops.databaseHost" -}}
{{- tpl .Values.global.databaseHost . }}
{{- end }}

{{/* In-cluster URL of a subchart's Service: mlops.serviceUrl (list . "mlflow" 5000). */}}
{{- define "mlops.serviceUrl" -}}
{{- $root := index . 0 }}
{{- printf "http://%s-%s:%v" $root.Release.Name (index . 1) (index . 2) }}
{{- end }}

{{/*
Credentials: the values already in the cluster's Secret when there is one (so upgrades keep
them), else freshly generated ones. Returns a YAML dict of plain-text values.
*/}}
{{- define "mlops.credentials" -}}
{{- $existing := (lookup "v1" "Secret" .Release.Namespace .Values.global.credentialsSecret).data | default dict }}
{{- $out := dict }}
{{- range $key := list "postgres-password" "airflow-db-password" "mlflow-db-password" "data-db-password" "s3-secret-key" "api-admin-token" "grafana-admin-password" "airflow-admin-password" "jupyter-token" }}
{{- $_ := set $out $key (get $existing $key | b64dec | default (randAlphaNum 32)) }}
{{- end }}
{{- range $client := list "ui" "locust" "jupyter" "helm-test" }}
{{- $key := printf "api-key-%s" $client }}
{{- $_ := set $out $key (get $existing $key | b64dec | default (printf "rk_%s" (randAlphaNum 43))) }}
{{- end }}
{{- $_ := set $out "s3-access-key" (get $existing "s3-access-key" | b64dec | default (printf "mlops-%s" (randAlphaNum 12 | lower))) }}
{{- $_ := set $out "grafana-admin-user" "admin" }}
{{- toYaml $out }}
{{- end }}

{{/* A PostgreSQL URL: mlops.dbUrl (list $root user password database). */}}
{{- define "mlops.dbUrl" -}}
{{- $root := index . 0 }}
{{- printf "postgresql://%s:%s@%s:%v/%s" (index . 1) (index . 2 | urlquery) (include "mlops.databaseHost" $root) $root.Values.global.databasePort (index . 3) }}
{{- end }}

{{/* NetworkPolicy peer: pods of one of our subcharts (list name release). */}}
{{- define "mlops.np.app" -}}
podSelector:
  matchLabels:
    app.kubernetes.io/name: {{ index . 0 }}
    app.kubernetes.io/instance: {{ index . 1 }}
{{- end }}

{{/* NetworkPolicy peer: pods of the Airflow chart. */}}
{{- define "mlops.np.airflow" -}}
podSelector:
  matchLabels:
    tier: airflow
    release: {{ . }}
{{- end }}

{{/*
Name prefix of the kube-prometheus-stack subchart's objects: that chart truncates its fullname to
26 characters (release "mlops" → "mlops-kube-prometheus-stac"), so its Prometheus Service is
"<that>-prometheus". Mirrors the upstream rule for names printed in NOTES.txt.
*/}}
{{- define "mlops.kpsFullname" -}}
{{- $kps := index .Values "kube-prometheus-stack" }}
{{- if $kps.fullnameOverride }}
{{- $kps.fullnameOverride | trunc 26 | trimSuffix "-" }}
{{- else if contains "kube-prometheus-stack" .Release.Name }}
{{- .Release.Name | trunc 26 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-kube-prometheus-stack" .Release.Name | trunc 26 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{/*
NetworkPolicy peers (a list) of the Prometheus that scrapes us: the release's own (pods the
Prometheus Operator labels app.kubernetes.io/name=prometheus, prometheus=<its name>) when
kube-prometheus-stack is bundled, and pods of networkPolicies.monitoringNamespace when set.
*/}}
{{- define "mlops.np.prometheus" -}}
{{- if index .Values "kube-prometheus-stack" "enabled" }}
- podSelector:
    matchLabels:
      app.kubernetes.io/name: prometheus
      prometheus: {{ include "mlops.kpsFullname" . }}-prometheus
{{- end }}
{{- with .Values.networkPolicies.monitoringNamespace }}
- namespaceSelector:
    matchLabels:
      {{- toYaml . | nindent 6 }}
{{- end }}
{{- end }}

{{/* NetworkPolicy peer: the release's Grafana (it queries Prometheus). */}}
{{- define "mlops.np.grafana" -}}
podSelector:
  matchLabels:
    app.kubernetes.io/name: grafana
    app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
