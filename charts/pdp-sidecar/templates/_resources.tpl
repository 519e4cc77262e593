{{/*
pdp-sidecar.resources: the objects the sidecar needs next to the app's
workload, as a YAML stream. Call it from one template of the app chart:

  {{ include "pdp-sidecar.resources" (dict "root" . "selectorLabels" (include "app.selectorLabels" . | fromYaml)) }}

selectorLabels are the labels of the app's pods (for the NetworkPolicy and
the monitors). With pdp.dashboards / pdp.alerts it also renders the Grafana
dashboard's ConfigMap and the PrometheusRule (_monitoring.tpl).
*/}}
{{- define "pdp-sidecar.resources" -}}
{{- $root := .root -}}
{{- include "pdp-sidecar.validate" $root -}}
{{- $p := $root.Values.pdp -}}
{{- $name := include "pdp-sidecar.fullname" $root -}}
{{- $labels := include "pdp-sidecar.labels" $root -}}
{{- if not .selectorLabels -}}
{{- fail "pdp-sidecar.resources needs the app pods' selectorLabels" -}}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}-config
  labels:
    {{- $labels | nindent 4 }}
data:
  config.yaml: |
    {{- include "pdp-sidecar.configFile" $root | nindent 4 }}
{{- if $p.policies.chartFiles }}
{{- $dir := $p.policies.chartFiles | trimSuffix "/" }}
{{- $data := dict }}
{{- $size := 0 }}
{{- range $key, $path := include "pdp-sidecar.policyFiles" $root | fromYaml }}
{{- $body := $root.Files.Get (printf "%s/%s" $dir $path) }}
{{- $size = add $size (len $body) }}
{{- $_ := set $data $key $body }}
{{- end }}
{{- if gt $size 1048576 }}
{{- fail (printf "pdp.policies.chartFiles: %d bytes do not fit a ConfigMap (1 MiB): publish them in your own ConfigMaps and use pdp.policies.existingConfigMap" $size) }}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $name }}-policies
  labels:
    {{- $labels | nindent 4 }}
data:
  {{- toYaml $data | nindent 2 }}
{{- end }}
{{- if and $p.admin.enabled $p.admin.generateToken (not $p.admin.existingSecret) }}
{{- $secretName := include "pdp-sidecar.adminSecretName" $root }}
{{- $tokens := printf "%s write helm-generated\n" (randAlphaNum 48) }}
{{- with lookup "v1" "Secret" $root.Release.Namespace $secretName }}
{{- $tokens = index .data $p.admin.secretKey | b64dec }}
{{- end }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ $secretName }}
  labels:
    {{- $labels | nindent 4 }}
type: Opaque
data:
  {{ $p.admin.secretKey }}: {{ $tokens | b64enc | quote }}
{{- end }}
{{- if $p.networkPolicy.enabled }}
{{ include "pdp-sidecar.networkPolicy" . }}
{{- end }}
{{- if $p.monitoring.podMonitor.enabled }}
---
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
    {{- with $p.monitoring.podMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- toYaml .selectorLabels | nindent 6 }}
  podMetricsEndpoints:
    - port: pdp-health
      path: /metrics
      interval: {{ $p.monitoring.podMonitor.interval }}
{{- end }}
{{- if $p.monitoring.serviceMonitor.enabled }}
---
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}-metrics
  labels:
    {{- $labels | nindent 4 }}
spec:
  clusterIP: None
  selector:
    {{- toYaml .selectorLabels | nindent 4 }}
  ports:
    - name: pdp-health
      port: {{ int $p.health.port }}
      targetPort: pdp-health
      protocol: TCP
---
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ $name }}
  labels:
    {{- $labels | nindent 4 }}
    {{- with $p.monitoring.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "pdp-sidecar.selectorLabels" $root | nindent 6 }}
  endpoints:
    - port: pdp-health
      path: /metrics
      interval: {{ $p.monitoring.serviceMonitor.interval }}
{{- end }}
{{- if $p.dashboards.enabled }}
{{ include "pdp-sidecar.dashboard" $root }}
{{- end }}
{{- if $p.alerts.enabled }}
{{ include "pdp-sidecar.prometheusRule" $root }}
{{- end }}
{{- end -}}

{{/*
pdp-sidecar.networkPolicy: the pdp ports of the pod. The decision port is
open to no one: the app reaches the sidecar over the pod's loopback, which
no NetworkPolicy filters. The health port (health and metrics only) is open
to metrics.from; the kubelet's probes come from the node, which
NetworkPolicy always allows. The operator API is open to admin.from only.
allowOtherPorts keeps the app's own ports open: selecting a pod for Ingress
denies whatever no policy allows, so every TCP port but the three pdp ports
(ranges around them) and UDP are allowed.
*/}}
{{- define "pdp-sidecar.networkPolicy" -}}
{{- $root := .root -}}
{{- $p := $root.Values.pdp -}}
{{- $np := $p.networkPolicy -}}
{{- $decision := int $p.listen.port -}}
{{- $admin := int $p.admin.port -}}
{{- $health := int $p.health.port -}}
{{- $lo := min $decision $admin $health -}}
{{- $hi := max $decision $admin $health -}}
{{- $mid := sub (add $decision $admin $health) (add $lo $hi) -}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "pdp-sidecar.fullname" $root }}
  labels:
    {{- include "pdp-sidecar.labels" $root | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- toYaml .selectorLabels | nindent 6 }}
  policyTypes:
    - Ingress
  ingress:
    {{- if $np.allowOtherPorts }}
    - ports:
        {{- if gt $lo 1 }}
        - protocol: TCP
          port: 1
          endPort: {{ sub $lo 1 }}
        {{- end }}
        {{- range list (list $lo $mid) (list $mid $hi) }}
        {{- $from := index . 0 }}
        {{- $to := index . 1 }}
        {{- if gt (sub $to $from) 1 }}
        - protocol: TCP
          port: {{ add $from 1 }}
          endPort: {{ sub $to 1 }}
        {{- end }}
        {{- end }}
        {{- if lt $hi 65535 }}
        - protocol: TCP
          port: {{ add $hi 1 }}
          endPort: 65535
        {{- end }}
        - protocol: UDP
    {{- end }}
    {{- with $np.metrics.from }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - protocol: TCP
          port: {{ $health }}
    {{- end }}
    {{- if $p.admin.enabled }}
    {{- with $np.admin.from }}
    - from:
        {{- toYaml . | nindent 8 }}
      ports:
        - protocol: TCP
          port: {{ $admin }}
    {{- end }}
    {{- end }}
{{- end -}}