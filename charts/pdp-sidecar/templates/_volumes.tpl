{{/*
The sidecar's volumes (pdp-sidecar.volumes, for the pod) and mounts. Every
volume name starts with "pdp-" so it cannot clash with the app's. Nothing is
mounted with subPath: a ConfigMap or Secret mounted as a directory is
updated in place (the kubelet swaps its ..data link), which is what the
sidecar's hot reload and token re-read watch for.
*/}}

{{- define "pdp-sidecar.volumes" -}}
{{- include "pdp-sidecar.validate" . -}}
{{- $p := .Values.pdp -}}
{{- $name := include "pdp-sidecar.fullname" . -}}
- name: pdp-config
  configMap:
    name: {{ $name }}-config
{{- if $p.policies.chartFiles }}
- name: pdp-policies
  configMap:
    name: {{ $name }}-policies
    items:
      {{- range $key, $path := include "pdp-sidecar.policyFiles" . | fromYaml }}
      - key: {{ $key }}
        path: {{ $path }}
      {{- end }}
{{- else if $p.policies.existingConfigMap }}
- name: pdp-policies
  configMap:
    name: {{ $p.policies.existingConfigMap }}
    {{- with $p.policies.items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
- name: pdp-state
{{- if eq $p.state.volume "persistentVolumeClaim" }}
  persistentVolumeClaim:
    claimName: {{ $p.state.persistentVolumeClaim.claimName }}
{{- else }}
  emptyDir:
    {{- with $p.state.emptyDir.medium }}
    medium: {{ . }}
    {{- end }}
    sizeLimit: {{ $p.state.emptyDir.sizeLimit }}
{{- end }}
{{- if $p.decisionLog.enabled }}
- name: pdp-decision-log
{{- if eq $p.decisionLog.volume "persistentVolumeClaim" }}
  persistentVolumeClaim:
    claimName: {{ $p.decisionLog.persistentVolumeClaim.claimName }}
{{- else }}
  emptyDir:
    sizeLimit: {{ $p.decisionLog.emptyDir.sizeLimit }}
{{- end }}
{{- end }}
{{- if $p.shadow.existingConfigMap }}
- name: pdp-shadow
  configMap:
    name: {{ $p.shadow.existingConfigMap }}
    {{- with $p.shadow.items }}
    items:
      {{- toYaml . | nindent 6 }}
    {{- end }}
{{- end }}
{{- if $p.bundle.existingSecret }}
- name: pdp-bundle
  secret:
    secretName: {{ $p.bundle.existingSecret }}
{{- end }}
{{- if $p.redis.existingSecret }}
- name: pdp-redis
  secret:
    secretName: {{ $p.redis.existingSecret }}
{{- end }}
{{- if $p.admin.enabled }}
- name: pdp-admin
  secret:
    secretName: {{ include "pdp-sidecar.adminSecretName" . }}
{{- end }}
{{- if eq $p.plugins.source "configMap" }}
- name: pdp-plugins
  configMap:
    name: {{ $p.plugins.configMap }}
{{- else if eq $p.plugins.source "image" }}
- name: pdp-plugins
  image:
    reference: {{ $p.plugins.image.reference | quote }}
    pullPolicy: {{ $p.plugins.image.pullPolicy }}
{{- else if eq $p.plugins.source "initContainer" }}
- name: pdp-plugins
  emptyDir:
    sizeLimit: {{ $p.plugins.cacheSizeLimit }}
{{- end }}
{{- if include "pdp-sidecar.pluginsOn" . }}
- name: pdp-cache
  emptyDir:
    sizeLimit: {{ $p.plugins.cacheSizeLimit }}
{{- end }}
{{- end -}}

{{- define "pdp-sidecar.volumeMounts" -}}
{{- $p := .Values.pdp -}}
- name: pdp-config
  mountPath: {{ include "pdp-sidecar.configDir" . }}
  readOnly: true
{{- if include "pdp-sidecar.policiesOn" . }}
- name: pdp-policies
  mountPath: {{ $p.policies.mountPath }}
  readOnly: true
{{- end }}
- name: pdp-state
  mountPath: {{ $p.state.mountPath }}
{{- if $p.decisionLog.enabled }}
- name: pdp-decision-log
  mountPath: {{ $p.decisionLog.mountPath }}
{{- end }}
{{- if $p.shadow.existingConfigMap }}
- name: pdp-shadow
  mountPath: {{ $p.shadow.mountPath }}
  readOnly: true
{{- end }}
{{- if $p.bundle.existingSecret }}
- name: pdp-bundle
  mountPath: {{ $p.bundle.mountPath }}
  readOnly: true
{{- end }}
{{- if $p.redis.existingSecret }}
- name: pdp-redis
  mountPath: {{ $p.redis.mountPath }}
  readOnly: true
{{- end }}
{{- if $p.admin.enabled }}
- name: pdp-admin
  mountPath: {{ $p.admin.mountPath }}
  readOnly: true
{{- end }}
{{- if include "pdp-sidecar.pluginsOn" . }}
- name: pdp-plugins
  mountPath: {{ $p.plugins.mountPath }}
  readOnly: true
- name: pdp-cache
  mountPath: {{ include "pdp-sidecar.cacheDir" . }}
{{- end }}
{{- end -}}

{{/*
pdp-sidecar.policyFiles: a YAML map from ConfigMap key to relative path of
the policy files under .Values.pdp.policies.chartFiles in the app chart: .rego
(except *_test.rego) and .json/.yaml/.yml data, hidden paths skipped.
ConfigMap keys cannot contain "/", so "riskpdp/config/data.json" becomes the
key "riskpdp__config__data.json", and the volume's items put it back at its
path: OPA derives a data file's place in `data` from its directory.
*/}}
{{- define "pdp-sidecar.policyFiles" -}}
{{- $dir := .Values.pdp.policies.chartFiles | trimSuffix "/" -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob (printf "%s/**" $dir) -}}
{{- $rel := trimPrefix (printf "%s/" $dir) $path -}}
{{- $hidden := false -}}
{{- range splitList "/" $rel -}}{{- if hasPrefix "." . -}}{{- $hidden = true -}}{{- end -}}{{- end -}}
{{- $ext := ext $rel -}}
{{- if and (not $hidden) (has $ext (list ".rego" ".json" ".yaml" ".yml")) (not (hasSuffix "_test.rego" $rel)) -}}
{{- $key := replace "/" "__" $rel -}}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $key) -}}
{{- fail (printf "pdp.policies.chartFiles: %s: a ConfigMap key may only contain letters, digits, '-', '_' and '.'" $rel) -}}
{{- end -}}
{{- if hasKey $files $key -}}
{{- fail (printf "pdp.policies.chartFiles: %s and %s map to the same ConfigMap key %s" (get $files $key) $rel $key) -}}
{{- end -}}
{{- $_ := set $files $key $rel -}}
{{- end -}}
{{- end -}}
{{- if not $files -}}
{{- fail (printf "pdp.policies.chartFiles: no .rego or data files under %s/ in the chart" $dir) -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}
