{{/*
pdp-sidecar.configFile: the `pdp serve --config` file. It is .Values.pdp.config
(keys the schema mirrors from pdp/internal/config) plus the keys the chart owns:
server.shutdown_timeout from lifecycle.drainSeconds, plugins.cache_dir on
a writable emptyDir (the root filesystem is read-only), and
redis.password_file in the mounted redis.existingSecret, and the bundle's
key_file, token_file and ca_cert_file in the mounted bundle.existingSecret. Listeners, paths and
logging are flags (pdp-sidecar.args).
*/}}
{{- define "pdp-sidecar.configFile" -}}
{{- $p := .Values.pdp -}}
{{- $cfg := deepCopy ($p.config | default dict) -}}
{{- $server := get $cfg "server" | default dict -}}
{{- $_ := set $server "shutdown_timeout" (printf "%ds" (int $p.lifecycle.drainSeconds)) -}}
{{- $_ := set $cfg "server" $server -}}
{{- if include "pdp-sidecar.pluginsOn" . -}}
{{- $plugins := get $cfg "plugins" | default dict -}}
{{- $_ := set $plugins "cache_dir" (include "pdp-sidecar.cacheDir" .) -}}
{{- $_ := set $cfg "plugins" $plugins -}}
{{- end -}}
{{- if $p.redis.existingSecret -}}
{{- $redis := get $cfg "redis" | default dict -}}
{{- $_ := set $redis "password_file" (printf "%s/%s" $p.redis.mountPath $p.redis.secretKey) -}}
{{- $_ := set $cfg "redis" $redis -}}
{{- end -}}
{{- with $p.bundle.existingSecret -}}
{{- $bundle := get $cfg "bundle" | default dict -}}
{{- range $key, $file := dict "key_file" $p.bundle.keyKey "token_file" $p.bundle.tokenKey "ca_cert_file" $p.bundle.caCertKey -}}
{{- if $file -}}
{{- $_ := set $bundle $key (printf "%s/%s" $p.bundle.mountPath $file) -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "bundle" $bundle -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
pdp-sidecar.podAnnotations: annotations for the pod template. The config
file is read once at start, so its checksum rolls the pods when it changes;
policies and tokens are reloaded in place and stay out of it.
*/}}
{{- define "pdp-sidecar.podAnnotations" -}}
checksum/pdp-config: {{ include "pdp-sidecar.configFile" . | sha256sum }}
{{- end -}}
