{{/*
Helpers shared by the pdp-sidecar templates. Every public template takes the
application chart's root context (.) and reads the sidecar's values from
.Values.pdp (the library is a dependency with `alias: pdp`), except
pdp-sidecar.resources, which also needs the pod's selector labels.
*/}}

{{/*
pdp-sidecar.fullname: prefix of the objects the library renders,
"<app fullname>-pdp" (the app fullname as `helm create` derives it).
*/}}
{{- define "pdp-sidecar.fullname" -}}
{{- $app := "" -}}
{{- if .Values.fullnameOverride -}}
{{- $app = .Values.fullnameOverride -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- $app = .Release.Name -}}
{{- else -}}
{{- $app = printf "%s-%s" .Release.Name $name -}}
{{- end -}}
{{- end -}}
{{- printf "%s-pdp" ($app | trunc 59 | trimSuffix "-") -}}
{{- end -}}

{{/* pdp-sidecar.selectorLabels: the stable subset of pdp-sidecar.labels. */}}
{{- define "pdp-sidecar.selectorLabels" -}}
app.kubernetes.io/name: pdp
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: policy-decision-point
{{- end -}}

{{/* pdp-sidecar.labels: labels of the objects the library renders. */}}
{{- define "pdp-sidecar.labels" -}}
{{ include "pdp-sidecar.selectorLabels" . }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/*
pdp-sidecar.image: repository@digest, or repository:tag with the tag
defaulting to this library chart's appVersion (the pdp release it was made
for; .Subcharts.pdp is the library as the app chart's dependency).
*/}}
{{- define "pdp-sidecar.image" -}}
{{- $i := .Values.pdp.image -}}
{{- if $i.digest -}}
{{- printf "%s@%s" $i.repository $i.digest -}}
{{- else -}}
{{- $tag := $i.tag -}}
{{- if not $tag -}}
{{- with index (.Subcharts | default dict) "pdp" -}}
{{- $tag = .Chart.AppVersion -}}
{{- end -}}
{{- end -}}
{{- if not $tag -}}
{{- fail "pdp.image: set pdp.image.tag or pdp.image.digest" -}}
{{- end -}}
{{- printf "%s:%s" $i.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* pdp-sidecar.loopback: "true" when host is a loopback address. */}}
{{- define "pdp-sidecar.loopback" -}}
{{- if has . (list "127.0.0.1" "::1") -}}true{{- end -}}
{{- end -}}

{{/* pdp-sidecar.hostPort: HOST:PORT, with brackets around IPv6 hosts. */}}
{{- define "pdp-sidecar.hostPort" -}}
{{- $host := index . 0 -}}
{{- if contains ":" $host -}}{{- $host = printf "[%s]" $host -}}{{- end -}}
{{- printf "%s:%d" $host (int (index . 1)) -}}
{{- end -}}

{{/* pdp-sidecar.probed: "true" when the kubelet can reach the health port. */}}
{{- define "pdp-sidecar.probed" -}}
{{- if not (include "pdp-sidecar.loopback" .Values.pdp.health.host) -}}true{{- end -}}
{{- end -}}

{{/* pdp-sidecar.pluginsOn: "true" when plugins are configured. */}}
{{- define "pdp-sidecar.pluginsOn" -}}
{{- if ne .Values.pdp.plugins.source "none" -}}true{{- end -}}
{{- end -}}

{{/* pdp-sidecar.policiesOn: "true" when policies are mounted (else embedded). */}}
{{- define "pdp-sidecar.policiesOn" -}}
{{- if or .Values.pdp.policies.chartFiles .Values.pdp.policies.existingConfigMap -}}true{{- end -}}
{{- end -}}

{{/* pdp-sidecar.adminSecretName: the token Secret's name. */}}
{{- define "pdp-sidecar.adminSecretName" -}}
{{- .Values.pdp.admin.existingSecret | default (printf "%s-admin" (include "pdp-sidecar.fullname" .)) -}}
{{- end -}}

{{/* Paths inside the sidecar container. */}}
{{- define "pdp-sidecar.configDir" -}}/etc/pdp/config{{- end -}}
{{- define "pdp-sidecar.cacheDir" -}}/var/cache/pdp{{- end -}}
{{- define "pdp-sidecar.copiedPluginsDir" -}}/pdp-plugins{{- end -}}

{{/*
pdp-sidecar.validate fails rendering with a clear message on combinations
the schema cannot express. Every public template calls it.
*/}}
{{- define "pdp-sidecar.validate" -}}
{{- if not (kindIs "map" .Values.pdp) -}}
{{- fail "pdp-sidecar: no .Values.pdp: add the library to Chart.yaml dependencies with `alias: pdp`" -}}
{{- end -}}
{{- $p := .Values.pdp -}}
{{- $restricted := or $p.networkPolicy.enabled $p.networkPolicy.external -}}
{{- if and (not (include "pdp-sidecar.loopback" $p.listen.host)) (not $restricted) -}}
{{- fail (printf "pdp.listen.host %s exposes the decision API beyond the pod: enable pdp.networkPolicy (or set pdp.networkPolicy.external=true when the namespace's own policies restrict the port), or bind 127.0.0.1 (the default: probes and metrics use pdp.health)" $p.listen.host) -}}
{{- end -}}
{{- if and $p.admin.enabled (not (include "pdp-sidecar.loopback" $p.admin.host)) (not $restricted) -}}
{{- fail (printf "pdp.admin.host %s exposes the operator API beyond the pod: enable pdp.networkPolicy (with pdp.networkPolicy.admin.from) or set pdp.networkPolicy.external=true" $p.admin.host) -}}
{{- end -}}
{{- if or (eq (int $p.listen.port) (int $p.admin.port)) (eq (int $p.listen.port) (int $p.health.port)) (eq (int $p.admin.port) (int $p.health.port)) -}}
{{- fail "pdp.listen.port, pdp.admin.port and pdp.health.port must differ" -}}
{{- end -}}
{{- if and (or $p.monitoring.podMonitor.enabled $p.monitoring.serviceMonitor.enabled) (include "pdp-sidecar.loopback" $p.health.host) -}}
{{- fail "pdp.monitoring needs the health port on the pod IP: set pdp.health.host to 0.0.0.0" -}}
{{- end -}}
{{- if and $p.admin.enabled (not $p.admin.existingSecret) (not $p.admin.generateToken) -}}
{{- fail "pdp.admin.enabled needs pdp.admin.existingSecret (a Secret with the token file) or pdp.admin.generateToken=true" -}}
{{- end -}}
{{- if and $p.admin.enabled (eq (toString (dig "state" "enabled" true $p.config)) "false") -}}
{{- fail "pdp.admin.enabled needs risk state: pdp.config.state.enabled must not be false" -}}
{{- end -}}
{{- if and $p.policies.chartFiles $p.policies.existingConfigMap -}}
{{- fail "pdp.policies: set chartFiles or existingConfigMap, not both" -}}
{{- end -}}
{{- if and $p.policies.items (not $p.policies.existingConfigMap) -}}
{{- fail "pdp.policies.items applies to pdp.policies.existingConfigMap only" -}}
{{- end -}}
{{- if and (eq $p.plugins.source "configMap") (not $p.plugins.configMap) -}}
{{- fail "pdp.plugins.source=configMap needs pdp.plugins.configMap" -}}
{{- end -}}
{{- if and (has $p.plugins.source (list "image" "initContainer")) (not $p.plugins.image.reference) -}}
{{- fail (printf "pdp.plugins.source=%s needs pdp.plugins.image.reference" $p.plugins.source) -}}
{{- end -}}
{{- if and (eq $p.state.volume "persistentVolumeClaim") (not $p.state.persistentVolumeClaim.claimName) -}}
{{- fail "pdp.state.volume=persistentVolumeClaim needs pdp.state.persistentVolumeClaim.claimName" -}}
{{- end -}}
{{- range $p.extraEnv -}}
{{- if hasPrefix "PDP_" .name -}}
{{- fail (printf "pdp.extraEnv: %s: set pdp settings through the chart's values, not PDP_* variables" .name) -}}
{{- end -}}
{{- if has .name (list "GOMAXPROCS" "GOMEMLIMIT") -}}
{{- fail (printf "pdp.extraEnv: %s is set from pdp.goRuntime" .name) -}}
{{- end -}}
{{- end -}}
{{- end -}}
