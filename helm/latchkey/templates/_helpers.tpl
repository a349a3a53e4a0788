{{- define "latchkey.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "latchkey.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "latchkey.selectorLabels" -}}
app.kubernetes.io/name: {{ include "latchkey.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "latchkey.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "latchkey.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "latchkey.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "latchkey.secretName" -}}
{{- .Values.existingSecret | default (include "latchkey.fullname" .) -}}
{{- end -}}

{{- define "latchkey.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "latchkey.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* latchkey.toml: the values' config plus what the chart owns. */}}
{{- define "latchkey.toml" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "grpc" (merge (dict "listen" (printf "0.0.0.0:%v" .Values.service.grpcPort)) ($config.grpc | default dict)) -}}
{{- $_ := set $config "http" (merge (dict "listen" (printf "0.0.0.0:%v" .Values.service.httpPort)) ($config.http | default dict)) -}}
{{- $_ := set $config "metrics" (dict "enabled" true "listen" (printf "0.0.0.0:%v" .Values.service.metricsPort)) -}}
{{- $_ := set $config "log" (merge (dict "format" "json") ($config.log | default dict)) -}}
{{- if .Values.tls.enabled -}}
{{- $tls := dict "cert_file" "/etc/latchkey/tls/tls.crt" "key_file" "/etc/latchkey/tls/tls.key" -}}
{{- if .Values.tls.clientCaKey -}}
{{- $_ := set $tls "client_ca_file" (printf "/etc/latchkey/tls/%s" .Values.tls.clientCaKey) -}}
{{- end -}}
{{- $_ := set $config "tls" $tls -}}
{{- end -}}
{{- include "latchkey.integers" $config -}}
{{- toToml $config -}}
{{- end -}}

{{/*
Helm reads every number in values as a float, and toToml would write 20 as 20.0, which
Latchkey's integer settings refuse. Whole numbers are turned back into integers, in
place, at every depth.
*/}}
{{- define "latchkey.integers" -}}
{{- range $key, $value := . -}}
{{- if and (kindIs "float64" $value) (eq $value (floor $value)) -}}
{{- $_ := set $ $key (int64 $value) -}}
{{- else if kindIs "map" $value -}}
{{- include "latchkey.integers" $value -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "latchkey.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
