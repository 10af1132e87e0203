{{/* Chart name. */}}
{{- define "medbatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release name + chart name, unless the release name already contains it. */}}
{{- define "medbatch.fullname" -}}
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

{{/* Selector labels. */}}
{{- define "medbatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "medbatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Common labels. */}}
{{- define "medbatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "medbatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The kopf peering object of this release's replicas. */}}
{{- define "medbatch.peeringName" -}}
{{- default (include "medbatch.fullname" .) .Values.operator.peeringName }}
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "medbatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "medbatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* RBAC rules generated from the operator's code (files/rbac.yaml). */}}
{{- define "medbatch.rules" -}}
{{- $rules := .Files.Get "files/rbac.yaml" | fromYaml }}
{{- toYaml (index $rules .scope) }}
{{- end }}

{{/* The rules on a tenant's own objects (Secrets, RayJobs, ...), indented for a rules list. */}}
{{- define "medbatch.tenantRules" -}}
{{- include "medbatch.rules" (dict "Files" .Files "scope" "tenant") | nindent 2 }}
{{- if .Values.rayClusters.allowed }}
{{- include "medbatch.rules" (dict "Files" .Files "scope" "tenant-rayClusters") | nindent 2 }}
{{- end }}
{{- end }}

{{/* Non-empty when the operator watches every namespace (clusterWide or namespaceOptIn). */}}
{{- define "medbatch.allNamespaces" -}}
{{- if and .Values.clusterWide .Values.namespaceOptIn -}}
{{- fail "set clusterWide or namespaceOptIn, not both: namespaceOptIn grants less (only where a namespace's admin opts in)" -}}
{{- end -}}
{{- if or .Values.clusterWide .Values.namespaceOptIn -}}true{{- end -}}
{{- end }}

{{/* The ClusterRole a namespace admin binds to opt the namespace in (namespaceOptIn). */}}
{{- define "medbatch.tenantRoleName" -}}
{{ include "medbatch.fullname" . }}-tenant
{{- end }}

{{/* The namespaces a namespace-limited install watches, as a JSON list: watchNamespaces, or the release's own. */}}
{{- define "medbatch.watchedNamespaces" -}}
{{- if .Values.watchNamespaces -}}
{{- toJson .Values.watchNamespaces -}}
{{- else -}}
{{- toJson (list .Release.Namespace) -}}
{{- end -}}
{{- end }}
