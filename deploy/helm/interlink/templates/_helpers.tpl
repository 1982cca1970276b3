{{/* Names and labels. */}}
{{- define "interlink.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "interlink.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "interlink.selectorLabels" -}}
app.kubernetes.io/name: {{ include "interlink.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: virtual-kubelet
{{- end -}}

{{- define "interlink.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "interlink.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: interlink
{{- end -}}

{{- define "interlink.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "interlink.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "interlink.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "interlink.pluginImage" -}}
{{- if .Values.plugin.image.repository -}}
{{- printf "%s:%s" .Values.plugin.image.repository (default .Chart.AppVersion .Values.plugin.image.tag) -}}
{{- else -}}
{{- include "interlink.image" . -}}
{{- end -}}
{{- end -}}

{{- define "interlink.inCluster" -}}
{{- if eq .Values.mode "in-cluster" }}true{{ else if eq .Values.mode "edge" }}{{ else }}{{ fail (printf "mode must be edge or in-cluster, not %q" .Values.mode) }}{{ end -}}
{{- end -}}

{{- define "interlink.tokenSecretName" -}}
{{- default (printf "%s-token" (include "interlink.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "interlink.tokenSecretKey" -}}
{{- if .Values.auth.existingSecret }}{{ .Values.auth.existingSecretKey }}{{ else }}token{{ end -}}
{{- end -}}

{{/* Where the unix sockets live in in-cluster mode (an emptyDir shared by the containers). */}}
{{- define "interlink.socketDir" -}}/var/run/interlink{{- end -}}

{{/*
vk.yaml: our canonical camelCase keys (src/vk/config.ts); test/deploy/chart.k8s.test.ts loads
the rendered file with the VK's own schema, so a renamed key fails a test, not a site.
*/}}
{{- define "interlink.vkConfig" -}}
{{- $inCluster := include "interlink.inCluster" . -}}
{{- $c := dict "nodeName" .Values.nodeName "logLevel" .Values.vk.logLevel "metricsPort" (int .Values.vk.metricsPort) -}}
{{- if $inCluster -}}
{{- $_ := set $c "interlinkUrl" (printf "unix://%s/api.sock" (include "interlink.socketDir" .)) -}}
{{- else -}}
{{- $_ := set $c "interlinkUrl" (required "interlink.url is required in edge mode (https://the-api-host)" .Values.interlink.url) -}}
{{- $_ := set $c "interlinkPort" (int .Values.interlink.port) -}}
{{- end -}}
{{- $_ := set $c "vkTokenFile" (default "/etc/interlink/token/token" .Values.auth.tokenFile) -}}
{{- $http := dict "insecure" .Values.tls.insecureSkipVerify -}}
{{- if and (not $inCluster) .Values.tls.caSecret -}}
{{- $_ := set $http "caCert" "/etc/interlink/api-ca/ca.crt" -}}
{{- end -}}
{{- $_ := set $c "http" $http -}}
{{- if and (not $inCluster) .Values.tls.clientCertSecret -}}
{{- $_ := set $c "tls" (dict "enabled" true "certFile" "/etc/interlink/client-tls/tls.crt" "keyFile" "/etc/interlink/client-tls/tls.key") -}}
{{- end -}}
{{- $r := .Values.virtualNode.resources -}}
{{- $_ := set $c "resources" (dict "cpu" (toString $r.cpu) "memory" (toString $r.memory) "pods" (toString $r.pods) "accelerators" $r.accelerators) -}}
{{- $_ := set $c "nodeLabels" .Values.virtualNode.labels -}}
{{- $_ := set $c "nodeTaints" .Values.virtualNode.taints -}}
{{- $k := dict "port" 10250 -}}
{{- if eq .Values.kubeletTls.mode "csr" -}}
{{- $_ := set $k "csr" true -}}
{{- $_ := set $k "selfApprove" .Values.kubeletTls.selfApprove -}}
{{- else if eq .Values.kubeletTls.mode "secret" -}}
{{- $_ := required "kubeletTls.secretName is required when kubeletTls.mode is secret" .Values.kubeletTls.secretName -}}
{{- $_ := set $k "certFile" "/etc/interlink/kubelet-tls/tls.crt" -}}
{{- $_ := set $k "keyFile" "/etc/interlink/kubelet-tls/tls.key" -}}
{{- else if ne .Values.kubeletTls.mode "selfSigned" -}}
{{- fail (printf "kubeletTls.mode must be csr, secret or selfSigned, not %q" .Values.kubeletTls.mode) -}}
{{- end -}}
{{- if .Values.kubeletTls.clientCaSecret -}}
{{- $_ := set $k "clientCaFile" "/etc/interlink/kubelet-client-ca/ca.crt" -}}
{{- end -}}
{{- $_ := set $c "kubeletHttp" $k -}}
{{- toYaml (mustMergeOverwrite $c .Values.vk.extraConfig) -}}
{{- end -}}

{{/* api.yaml (in-cluster mode): src/api/config.ts keys. */}}
{{- define "interlink.apiConfig" -}}
{{- $sock := include "interlink.socketDir" . -}}
{{- $auth := dict "tokenFile" "/etc/interlink/token/token" -}}
{{- if .Values.auth.oidc.enabled -}}
{{- $o := dict "issuer" (required "auth.oidc.issuer is required when auth.oidc.enabled" .Values.auth.oidc.issuer) "audience" (required "auth.oidc.audience is required when auth.oidc.enabled" .Values.auth.oidc.audience) "groupsClaim" .Values.auth.oidc.groupsClaim -}}
{{- with .Values.auth.oidc.jwksUrl }}{{ $_ := set $o "jwksUrl" . }}{{ end -}}
{{- with .Values.auth.oidc.requiredGroup }}{{ $_ := set $o "requiredGroup" . }}{{ end -}}
{{- $_ := set $auth "oidc" $o -}}
{{- end -}}
{{- $c := dict "interlinkUrl" (printf "unix://%s/api.sock" $sock) "sidecarUrl" (printf "unix://%s/plugin.sock" $sock) "sidecarService" .Values.plugin.name "logLevel" .Values.api.logLevel "auth" $auth -}}
{{- toYaml (mustMergeOverwrite $c .Values.api.extraConfig) -}}
{{- end -}}

{{/* plugin.yaml (in-cluster mode): the serving keys of src/plugins/serve.ts + the plugin's own. */}}
{{- define "interlink.pluginConfig" -}}
{{- $c := dict "socket" (printf "%s/plugin.sock" (include "interlink.socketDir" .)) -}}
{{- toYaml (mustMergeOverwrite $c .Values.plugin.config) -}}
{{- end -}}
