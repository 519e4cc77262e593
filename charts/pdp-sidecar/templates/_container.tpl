{{/*
The sidecar container and what an application pod includes to run it.

  spec:
    initContainers:
      {{- include "pdp-sidecar.initContainers" . | nindent 8 }}
    containers:
      - name: app
        env:
          {{- include "pdp-sidecar.appEnv" . | nindent 12 }}
      {{- include "pdp-sidecar.containers" . | nindent 8 }}
    volumes:
      {{- include "pdp-sidecar.volumes" . | nindent 8 }}

Each renders a (possibly empty) YAML list.
*/}}

{{/*
pdp-sidecar.initContainers: the plugin copy (plugins.source=initContainer)
and, as a native sidecar, pdp itself. Put it first in initContainers: init
containers after it start once pdp is ready.
*/}}
{{- define "pdp-sidecar.initContainers" -}}
{{- include "pdp-sidecar.validate" . -}}
{{- $items := list -}}
{{- if eq .Values.pdp.plugins.source "initContainer" -}}
{{- $items = append $items (include "pdp-sidecar.pluginCopyContainer" .) -}}
{{- end -}}
{{- if .Values.pdp.nativeSidecar -}}
{{- $items = append $items (include "pdp-sidecar.container" .) -}}
{{- end -}}
{{- join "\n" $items -}}
{{- end -}}

{{/* pdp-sidecar.containers: pdp as a classic extra container (nativeSidecar=false). */}}
{{- define "pdp-sidecar.containers" -}}
{{- include "pdp-sidecar.validate" . -}}
{{- if not .Values.pdp.nativeSidecar -}}
{{- include "pdp-sidecar.container" . -}}
{{- end -}}
{{- end -}}

{{/* pdp-sidecar.appEnv: the app container's variable pointing at the sidecar. */}}
{{- define "pdp-sidecar.appEnv" -}}
{{- $p := .Values.pdp -}}
{{- $host := ternary "::1" "127.0.0.1" (eq $p.listen.host "::1") -}}
- name: {{ $p.appEnv.name }}
  value: {{ printf "http://%s" (include "pdp-sidecar.hostPort" (list $host $p.listen.port)) | quote }}
{{- end -}}

{{/* pdp-sidecar.securityContext: the restricted Pod Security profile, per container. */}}
{{- define "pdp-sidecar.securityContext" -}}
{{- $p := .Values.pdp -}}
runAsNonRoot: true
{{- if not (kindIs "invalid" $p.runAsUser) }}
runAsUser: {{ int $p.runAsUser }}
{{- end }}
{{- if not (kindIs "invalid" $p.runAsGroup) }}
runAsGroup: {{ int $p.runAsGroup }}
{{- end }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* pdp-sidecar.args: the `pdp serve` flags (the image's entrypoint is /pdp serve). */}}
{{- define "pdp-sidecar.args" -}}
{{- $p := .Values.pdp -}}
- --config={{ include "pdp-sidecar.configDir" . }}/config.yaml
- --addr={{ include "pdp-sidecar.hostPort" (list $p.listen.host $p.listen.port) }}
- --health-addr={{ include "pdp-sidecar.hostPort" (list $p.health.host $p.health.port) }}
{{- if include "pdp-sidecar.policiesOn" . }}
- --policies={{ $p.policies.mountPath }}
{{- end }}
- --state={{ $p.state.mountPath }}/state.db
{{- if $p.decisionLog.enabled }}
- --decision-log={{ $p.decisionLog.mountPath }}/decisions.jsonl
{{- end }}
{{- if $p.shadow.existingConfigMap }}
- --shadow-policies={{ $p.shadow.mountPath }}
{{- end }}
{{- with $p.redis.addrs }}
- --redis-addr={{ join "," . }}
{{- end }}
{{- if eq $p.plugins.source "image" }}
- --plugins={{ $p.plugins.mountPath }}{{ $p.plugins.image.dir | trimSuffix "/" }}
{{- else if include "pdp-sidecar.pluginsOn" . }}
- --plugins={{ $p.plugins.mountPath }}
{{- end }}
{{- if $p.admin.enabled }}
- --admin-addr={{ include "pdp-sidecar.hostPort" (list $p.admin.host $p.admin.port) }}
- --admin-token-file={{ $p.admin.mountPath }}/{{ $p.admin.secretKey }}
{{- end }}
- --log-level={{ $p.log.level }}
- --log-format={{ $p.log.format }}
{{- end -}}

{{/* pdp-sidecar.probe: an HTTP probe on the health port; (list root path settings). */}}
{{- define "pdp-sidecar.probe" -}}
{{- $p := (index . 0).Values.pdp -}}
{{- $s := index . 2 -}}
httpGet:
  path: {{ index . 1 }}
  port: pdp-health
periodSeconds: {{ int $s.periodSeconds }}
timeoutSeconds: {{ int $s.timeoutSeconds }}
failureThreshold: {{ int $s.failureThreshold }}
{{- end -}}

{{/* pdp-sidecar.container: the pdp container (one list item). */}}
{{- define "pdp-sidecar.container" -}}
{{- $p := .Values.pdp -}}
- name: {{ $p.containerName }}
  image: {{ include "pdp-sidecar.image" . | quote }}
  imagePullPolicy: {{ $p.image.pullPolicy }}
  {{- if $p.nativeSidecar }}
  restartPolicy: Always
  {{- end }}
  args:
    {{- include "pdp-sidecar.args" . | nindent 4 }}
  {{- $procs := include "pdp-sidecar.gomaxprocs" . }}
  {{- $mem := include "pdp-sidecar.gomemlimit" . }}
  {{- if or $procs $mem $p.extraEnv }}
  env:
    {{- with $procs }}
    - name: GOMAXPROCS
      value: {{ . | quote }}
    {{- end }}
    {{- with $mem }}
    - name: GOMEMLIMIT
      value: {{ . | quote }}
    {{- end }}
    {{- with $p.extraEnv }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
  {{- $ports := list }}
  {{- if include "pdp-sidecar.probed" . }}
  {{- $ports = append $ports (dict "name" "pdp-health" "containerPort" (int $p.health.port) "protocol" "TCP") }}
  {{- end }}
  {{- if not (include "pdp-sidecar.loopback" $p.listen.host) }}
  {{- $ports = append $ports (dict "name" "pdp" "containerPort" (int $p.listen.port) "protocol" "TCP") }}
  {{- end }}
  {{- if and $p.admin.enabled (not (include "pdp-sidecar.loopback" $p.admin.host)) }}
  {{- $ports = append $ports (dict "name" "pdp-admin" "containerPort" (int $p.admin.port) "protocol" "TCP") }}
  {{- end }}
  {{- with $ports }}
  ports:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if include "pdp-sidecar.probed" . }}
  startupProbe:
    {{- include "pdp-sidecar.probe" (list . "/health/ready" $p.probes.startup) | nindent 4 }}
  livenessProbe:
    {{- include "pdp-sidecar.probe" (list . "/health/live" $p.probes.liveness) | nindent 4 }}
  {{- if $p.probes.readiness.enabled }}
  readinessProbe:
    {{- include "pdp-sidecar.probe" (list . "/health/ready" $p.probes.readiness) | nindent 4 }}
  {{- end }}
  {{- end }}
  {{- if and (not $p.nativeSidecar) (gt (int $p.lifecycle.preStopSleepSeconds) 0) }}
  lifecycle:
    preStop:
      sleep:
        seconds: {{ int $p.lifecycle.preStopSleepSeconds }}
  {{- end }}
  resources:
    {{- toYaml $p.resources | nindent 4 }}
  securityContext:
    {{- include "pdp-sidecar.securityContext" . | nindent 4 }}
  terminationMessagePolicy: FallbackToLogsOnError
  volumeMounts:
    {{- include "pdp-sidecar.volumeMounts" . | nindent 4 }}
{{- end -}}

{{/* pdp-sidecar.pluginCopyContainer: copies plugins from their image into an emptyDir. */}}
{{- define "pdp-sidecar.pluginCopyContainer" -}}
{{- $p := .Values.pdp -}}
{{- $dst := include "pdp-sidecar.copiedPluginsDir" . -}}
- name: {{ $p.containerName }}-plugins
  image: {{ $p.plugins.image.reference | quote }}
  imagePullPolicy: {{ $p.plugins.image.pullPolicy }}
  command:
    {{- if $p.plugins.initContainer.command }}
    {{- toYaml $p.plugins.initContainer.command | nindent 4 }}
    {{- else }}
    - cp
    - -R
    - {{ printf "%s/." ($p.plugins.image.dir | trimSuffix "/") }}
    - {{ $dst }}/
    {{- end }}
  resources:
    requests:
      cpu: 10m
      memory: 16Mi
    limits:
      memory: 64Mi
  securityContext:
    {{- include "pdp-sidecar.securityContext" . | nindent 4 }}
  volumeMounts:
    - name: pdp-plugins
      mountPath: {{ $dst }}
{{- end -}}

{{/*
pdp-sidecar.terminationGracePeriodSeconds: a pod grace period that covers the
app's shutdown and the sidecar's drain. Native: the kubelet stops the sidecar
after the app containers have exited, so the two add up. Classic: they stop
together, the sidecar after its preStop sleep.
*/}}
{{- define "pdp-sidecar.terminationGracePeriodSeconds" -}}
{{- $l := .Values.pdp.lifecycle -}}
{{- $app := int $l.appShutdownSeconds -}}
{{- $drain := int $l.drainSeconds -}}
{{- if .Values.pdp.nativeSidecar -}}
{{- add $app $drain 5 -}}
{{- else -}}
{{- add (max $app (add (int $l.preStopSleepSeconds) $drain)) 5 -}}
{{- end -}}
{{- end -}}
