{{/* Release-scoped name, at most 63 characters. */}}
{{- define "tradewind.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tradewind.selectorLabels" -}}
app.kubernetes.io/name: tradewind-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tradewind.labels" -}}
{{ include "tradewind.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: tradewind
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tradewind.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tradewind.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* registry/repository(@digest | :tag), tag defaulting to appVersion. */}}
{{- define "tradewind.image" -}}
{{- $registry := .root.Values.image.registry | trimSuffix "/" -}}
{{- if .image.digest -}}
{{- printf "%s/%s@%s" $registry .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s/%s:%s" $registry .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Lease the replicas elect a leader with (fixed in the operator). */}}
{{- define "tradewind.leaseName" -}}tradewind-operator{{- end -}}

{{/* Login and ARM endpoints of the chosen Azure cloud. */}}
{{- define "tradewind.azureAuthorityHost" -}}
{{- if .Values.azure.authorityHost -}}{{ .Values.azure.authorityHost }}
{{- else if eq .Values.azure.cloud "AzureChina" -}}https://login.chinacloudapi.cn/
{{- else if eq .Values.azure.cloud "AzureUSGovernment" -}}https://login.microsoftonline.us/
{{- else -}}https://login.microsoftonline.com/
{{- end -}}
{{- end -}}
{{- define "tradewind.azureArmEndpoint" -}}
{{- if .Values.azure.armEndpoint -}}{{ .Values.azure.armEndpoint }}
{{- else if eq .Values.azure.cloud "AzureChina" -}}https://management.chinacloudapi.cn/
{{- else if eq .Values.azure.cloud "AzureUSGovernment" -}}https://management.usgovcloudapi.net/
{{- else -}}https://management.azure.com/
{{- end -}}
{{- end -}}

{{/* A map of labels as `k=v,k2=v2` (sorted), for the operator's flags. */}}
{{- define "tradewind.labelList" -}}
{{- $out := list -}}
{{- range $k, $v := . -}}{{- $out = append $out (printf "%s=%s" $k $v) -}}{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* The OpenTelemetry Collector's name (its Deployment, Service and ConfigMap). */}}
{{- define "tradewind.collectorName" -}}
{{- printf "%s-otel-collector" (include "tradewind.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Where the programs export: telemetry.otlpEndpoint, else the chart's collector when
telemetry.collector.enabled, else nothing.
*/}}
{{- define "tradewind.otlpEndpoint" -}}
{{- if .Values.telemetry.otlpEndpoint -}}
{{- .Values.telemetry.otlpEndpoint -}}
{{- else if .Values.telemetry.collector.enabled -}}
{{- printf "http://%s.%s.svc:4318" (include "tradewind.collectorName" .) .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/*
OpenTelemetry variables of a workload (an endpoint set or the collector enabled): endpoint, service
name, resource attributes, delta temporality. Call with (dict "root" . "service" NAME).
*/}}
{{- define "tradewind.otelEnv" -}}
{{- $endpoint := include "tradewind.otlpEndpoint" .root }}
{{- with .root.Values.telemetry }}
{{- if $endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $endpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ $.service | quote }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "service.namespace=tradewind,k8s.namespace.name=%s%s" $.root.Release.Namespace (ternary (printf ",%s" .resourceAttributes) "" (ne .resourceAttributes "")) | quote }}
- name: OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE
  value: delta
{{- end }}
{{- end }}
{{- end }}

{{/*
The collector's configuration: OTLP/HTTP in, a memory limiter and batches, Application
Insights out (the connection string from the environment, never written here). The
programs export traces and metrics only.
*/}}
{{- define "tradewind.collectorConfig" -}}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
    spike_limit_percentage: 20
  batch: {}
exporters:
  azuremonitor:
    connection_string: ${env:APPLICATIONINSIGHTS_CONNECTION_STRING}
extensions:
  health_check:
    endpoint: 0.0.0.0:13133
service:
  extensions: [health_check]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [azuremonitor]
    metrics:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [azuremonitor]
{{- end -}}
