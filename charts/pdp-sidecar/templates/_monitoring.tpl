{{/*
Grafana dashboard and Prometheus alerts, rendered by pdp-sidecar.resources
(pdp.dashboards.enabled, pdp.alerts.enabled).
*/}}

{{/*
pdp-sidecar.dashboard: a ConfigMap holding the library's dashboards/pdp.json,
labelled for the Grafana sidecar. The file is read from the library chart
(.Subcharts.pdp.Files): the app chart's own files do not have it.
*/}}
{{- define "pdp-sidecar.dashboard" -}}
{{- $root := . -}}
{{- $d := $root.Values.pdp.dashboards -}}
{{- $lib := index ($root.Subcharts | default dict) "pdp" -}}
{{- if not $lib -}}
{{- fail "pdp.dashboards: the pdp-sidecar library is not a dependency with `alias: pdp`" -}}
{{- end -}}
{{- $json := $lib.Files.Get "dashboards/pdp.json" -}}
{{- if not $json -}}
{{- fail "pdp.dashboards: dashboards/pdp.json is missing from the pdp-sidecar chart" -}}
{{- end }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "pdp-sidecar.fullname" $root }}-dashboard
  {{- with $d.namespace }}
  namespace: {{ . }}
  {{- end }}
  labels:
    {{- include "pdp-sidecar.labels" $root | nindent 4 }}
    {{ $d.label }}: {{ $d.labelValue | quote }}
    {{- with $d.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $d.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
data:
  pdp.json: |-
    {{- $json | trimSuffix "\n" | nindent 4 }}
{{- end -}}

{{/*
pdp-sidecar.alertSelector: the PromQL label matchers of this release's
sidecars: pdp.alerts.selector, or the release's namespace and the jobs the
Prometheus Operator gives the monitors' targets.
*/}}
{{- define "pdp-sidecar.alertSelector" -}}
{{- $p := .Values.pdp -}}
{{- if $p.alerts.selector -}}
{{- $p.alerts.selector -}}
{{- else -}}
{{- $name := include "pdp-sidecar.fullname" . -}}
{{- $jobs := list -}}
{{- if $p.monitoring.podMonitor.enabled -}}
{{- $jobs = append $jobs (printf "%s/%s" .Release.Namespace $name) -}}
{{- end -}}
{{- if $p.monitoring.serviceMonitor.enabled -}}
{{- $jobs = append $jobs (printf "%s-metrics" $name) -}}
{{- end -}}
{{- if not $jobs -}}
{{- fail "pdp.alerts needs pdp.monitoring.podMonitor or pdp.monitoring.serviceMonitor enabled, or pdp.alerts.selector naming how Prometheus finds the sidecars" -}}
{{- end -}}
{{- if eq (len $jobs) 1 -}}
namespace="{{ .Release.Namespace }}", job="{{ first $jobs }}"
{{- else -}}
namespace="{{ .Release.Namespace }}", job=~"{{ join "|" $jobs }}"
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
pdp-sidecar.alertRule: one alerting rule. Takes a dict: root, alert (the
name), cfg (its pdp.alerts.rules entry), expr, summary and description
(Prometheus templates), runbook (plain text: what to look at and do).
*/}}
{{- define "pdp-sidecar.alertRule" -}}
{{- $a := .root.Values.pdp.alerts -}}
- alert: {{ .alert }}
  expr: |-
    {{- .expr | nindent 4 }}
  for: {{ .cfg.for }}
  labels:
    {{- with $a.ruleLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    severity: {{ .cfg.severity }}
  annotations:
    summary: {{ .summary | toJson }}
    description: {{ .description | toJson }}
    runbook: {{ .runbook | toJson }}
    {{- with $a.runbookBaseURL }}
    runbook_url: {{ printf "%s#%s" . (lower $.alert) | toJson }}
    {{- end }}
{{- end -}}

{{/*
pdp-sidecar.prometheusRule: the alerts on the sidecar's metrics, each
switched and tuned under pdp.alerts.rules.
*/}}
{{- define "pdp-sidecar.prometheusRule" -}}
{{- $root := . -}}
{{- $a := $root.Values.pdp.alerts -}}
{{- $r := $a.rules -}}
{{- $s := include "pdp-sidecar.alertSelector" $root -}}
{{- $w := $a.window -}}
{{- $rules := list -}}
{{- if $r.fallbacksHigh.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPDecisionFallbacksHigh" "cfg" $r.fallbacksHigh
  "expr" (printf "sum by (namespace, pod) (rate(pdp_decision_fallbacks_total{%s}[%s]))\n  / sum by (namespace, pod) (rate(pdp_decisions_total{%s}[%s]))\n> %v" $s $w $s $w $r.fallbacksHigh.threshold)
  "summary" `pdp in {{ $labels.pod }} falls back on {{ $value | humanizePercentage }} of its decisions`
  "description" (printf `{{ $value | humanizePercentage }} of the decisions of the pdp sidecar in {{ $labels.namespace }}/{{ $labels.pod }} returned the fallback outcome (never allow) because of an internal fault, over %s (threshold %v).` $w $r.fallbacksHigh.threshold)
  "runbook" "pdp_decision_fallbacks_total{cause} says why: timeout (policies.eval_timeout too tight, or CPU starved: check throttling), undefined or invalid_decision (the policy revision returns no valid decision: roll it back), no_policy (no policy loaded: see the policy and bundle logs), state (the risk state store fails: see PDPRiskStateWriteFailing, Redis), obligation_write. The sidecar logs each fallback as \"decision fell back\" with its cause, error and decision_id.")) -}}
{{- end -}}
{{- if $r.latencyHigh.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPDecisionLatencyHigh" "cfg" $r.latencyHigh
  "expr" (printf "histogram_quantile(%v, sum by (namespace, pod, le) (rate(pdp_decision_duration_seconds_bucket{%s}[%s])))\n> %v" $r.latencyHigh.quantile $s $w $r.latencyHigh.thresholdSeconds)
  "summary" (printf `pdp in {{ $labels.pod }}: decision latency quantile %v is {{ $value | humanizeDuration }}` $r.latencyHigh.quantile)
  "description" (printf `The %v quantile of the decision latency of the pdp sidecar in {{ $labels.namespace }}/{{ $labels.pod }} is {{ $value | humanizeDuration }} over %s, above %vs.` $r.latencyHigh.quantile $w $r.latencyHigh.thresholdSeconds)
  "runbook" "Compare the pod with the others on the dashboard (Decision p99 by pod). A CPU limit throttles the sidecar (the chart sets none by default); a busy node or a noisy neighbour shows as latency on every decision. Check plugin timeouts (pdp_plugin_faults_total{kind=\"timeout\"}), Redis read budget misses (pdp_redis_read_budget_exceeded_total) and whether the pod left the fast path (pdp_policy_evaluator{evaluator=\"fast\"} is 0 after a divergence or a policy the fast path cannot run).")) -}}
{{- end -}}
{{- if $r.decisionLogDropping.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPDecisionLogDropping" "cfg" $r.decisionLogDropping
  "expr" (printf "sum by (namespace, pod, reason) (increase(pdp_decision_log_dropped_total{%s}[%s])) > 0" $s $w)
  "summary" `pdp in {{ $labels.pod }} loses decision records ({{ $labels.reason }})`
  "description" (printf `The pdp sidecar in {{ $labels.namespace }}/{{ $labels.pod }} lost {{ $value | humanize }} decision records over %s, reason {{ $labels.reason }}: they are missing from the audit trail.` $w)
  "runbook" "buffer_full or block_timeout: the sinks do not keep up: raise decision_log.buffer_size, use overflow spill, or give the disk more throughput. spill_full: the spill file reached decision_log.spill_max_bytes while the sinks were down. file_error: the log volume fails (full or read-only: check the emptyDir sizeLimit or the claim). /health/ready reports the decision log's state; the sidecar logs the errors.")) -}}
{{- end -}}
{{- if $r.decisionLogUnhealthy.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPDecisionLogUnhealthy" "cfg" $r.decisionLogUnhealthy
  "expr" (printf "pdp_decision_log_healthy{%s} == 0" $s)
  "summary" `pdp in {{ $labels.pod }}: the decision log is unhealthy`
  "description" `pdp_decision_log_healthy is 0 in {{ $labels.namespace }}/{{ $labels.pod }}: a sink or the spill file fails, or records were dropped recently.`
  "runbook" "Read the sidecar's log for decision log errors and /health/ready's decision log entry. Check the log volume (free space, sizeLimit), the upload service (pdp_decision_log_upload_errors_total) and pdp_decision_log_sink_errors_total. Records keep flowing to the other sinks; drops show in PDPDecisionLogDropping.")) -}}
{{- end -}}
{{- if $r.pluginFaults.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPPluginFaulting" "cfg" $r.pluginFaults
  "expr" (printf "sum by (namespace, pod, plugin) (rate(pdp_plugin_faults_total{%s}[%s]))\n  / sum by (namespace, pod, plugin) (rate(pdp_plugin_calls_total{%s}[%s]))\n> %v" $s $w $s $w $r.pluginFaults.threshold)
  "summary" `plugin {{ $labels.plugin }} faults on {{ $value | humanizePercentage }} of its calls in {{ $labels.pod }}`
  "description" (printf `{{ $value | humanizePercentage }} of the calls into scoring plugin {{ $labels.plugin }} in {{ $labels.namespace }}/{{ $labels.pod }} were faults over %s (threshold %v); the decisions used the plugin's failure mode instead of its score.` $w $r.pluginFaults.threshold)
  "runbook" "pdp_plugin_faults_total{kind} tells which: timeout (the plugin exceeds plugins.time_budget: CPU starved, or the plugin got slower), trap or garbage (a plugin bug: roll back the plugin image or bundle), memory (raise plugins.memory_limit or fix a leak), quarantined or unavailable (calls refused while it is quarantined). `pdp plugin test` runs a plugin against sample inputs.")) -}}
{{- end -}}
{{- if $r.pluginQuarantined.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPPluginQuarantined" "cfg" $r.pluginQuarantined
  "expr" (printf "sum by (namespace, pod, plugin) (increase(pdp_plugin_quarantines_total{%s}[%s])) > 0" $s $w)
  "summary" `plugin {{ $labels.plugin }} was quarantined in {{ $labels.pod }}`
  "description" (printf `Scoring plugin {{ $labels.plugin }} entered quarantine in {{ $labels.namespace }}/{{ $labels.pod }} within %s after repeated faults; while quarantined every call takes the plugin's failure mode.` $w)
  "runbook" "See PDPPluginFaulting and pdp_plugin_faults_total{kind} for the faults that led to it. The quarantine lifts by itself; if it keeps coming back, roll back the plugin or switch its failure mode deliberately (plugins.failure_modes).")) -}}
{{- end -}}
{{- if $r.redisUnreachable.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPRedisUnreachable" "cfg" $r.redisUnreachable
  "expr" (printf "pdp_redis_up{%s} == 0" $s)
  "summary" `pdp in {{ $labels.pod }} cannot reach Redis`
  "description" `The pdp sidecar in {{ $labels.namespace }}/{{ $labels.pod }} fails its Redis health checks: it decides from its cache and the fallback, reads it cannot answer are state unknown, operator writes fail.`
  "runbook" "Check Redis itself (pods, failover, memory, maxclients) and the network path from the pod (NetworkPolicy egress, DNS of redis.addrs). pdp_redis_outages_total counts outages, pdp_redis_unavailable_reads_total the reads refused meanwhile. With redis.fail_readiness the pod also leaves its Service.")) -}}
{{- end -}}
{{- if $r.bundleFailing.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPBundleFailing" "cfg" $r.bundleFailing
  "expr" (printf "sum by (namespace, pod, cause) (increase(pdp_bundle_failures_total{%s}[%s])) > 0" $s $w)
  "summary" `pdp in {{ $labels.pod }}: policy bundle failures ({{ $labels.cause }})`
  "description" `The pdp sidecar in {{ $labels.namespace }}/{{ $labels.pod }} keeps failing to fetch or activate the policy bundle (cause {{ $labels.cause }}); it serves the revision it has.`
  "runbook" "network or http: the bundle service is unreachable or answers errors (check its URL, token, TLS CA). verification: the bundle's signature does not match bundle.key_file (a key rotation, or a bundle not built by your pipeline: do not disable verification). invalid or activation: the bundle does not compile or fails the sidecar's checks: fix and republish it. persist: the state volume cannot keep the bundle. The sidecar logs each failure.")) -}}
{{- end -}}
{{- if $r.bundleStale.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPBundleStale" "cfg" $r.bundleStale
  "expr" (printf "time() - pdp_bundle_last_success_timestamp_seconds{%s} > %v" $s $r.bundleStale.maxAgeSeconds)
  "summary" `pdp in {{ $labels.pod }} has not heard from the bundle service for {{ $value | humanizeDuration }}`
  "description" (printf `The bundle service last answered the pdp sidecar in {{ $labels.namespace }}/{{ $labels.pod }} {{ $value | humanizeDuration }} ago (limit %vs; a sidecar that never heard from it counts from 1970): it may serve an outdated policy.` $r.bundleStale.maxAgeSeconds)
  "runbook" "See PDPBundleFailing for the cause. pdp_bundle_last_request_timestamp_seconds shows whether the sidecar still polls; pdp_bundle_info the revision it serves. `kill -HUP` of the sidecar polls at once.")) -}}
{{- end -}}
{{- if $r.stateWriteFailing.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPRiskStateWriteFailing" "cfg" $r.stateWriteFailing
  "expr" (printf "sum by (namespace, pod) (increase(pdp_state_flush_errors_total{%s}[%s]))\n  + sum by (namespace, pod) (increase(pdp_state_sync_errors_total{%s}[%s]))\n> 0" $s $w $s $w)
  "summary" `pdp in {{ $labels.pod }} fails to write its risk state`
  "description" (printf `{{ $value | humanize }} writes to the risk state failed in {{ $labels.namespace }}/{{ $labels.pod }} over %s: decision changes stay pending (pdp_state_pending_accounts grows), operator actions and events fail.` $w)
  "runbook" "On the state file: the state volume is full or read-only (check its sizeLimit or claim). On Redis: see PDPRedisUnreachable, and Redis's memory (maxmemory reached refuses writes). Pending changes are retried, and flushed once more at shutdown; a crash loses those not yet committed.")) -}}
{{- end -}}
{{- if $r.fastPathDiverged.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPFastPathDiverged" "cfg" $r.fastPathDiverged
  "expr" (printf "sum by (namespace, pod) (increase(pdp_fast_path_divergences_total{%s}[%s])) > 0" $s $w)
  "summary" `pdp in {{ $labels.pod }}: the fast path diverged from OPA`
  "description" (printf `A sampled decision the fast path answered differently from OPA's evaluator in {{ $labels.namespace }}/{{ $labels.pod }} within %s; that policy revision is now served by OPA's evaluator (slower, correct).` $w)
  "runbook" "A divergence is a bug in the sidecar's fast path for this policy: the sidecar logs the input and both answers. Keep the log lines and report them with the policy revision; decisions stay correct meanwhile (pdp_policy_evaluator shows opa).")) -}}
{{- end -}}
{{- if $r.sidecarDown.enabled -}}
{{- $rules = append $rules (include "pdp-sidecar.alertRule" (dict "root" $root "alert" "PDPSidecarDown" "cfg" $r.sidecarDown
  "expr" (printf "up{%s} == 0" $s)
  "summary" `pdp in {{ $labels.pod }} is down`
  "description" `Prometheus cannot scrape the pdp sidecar's health port in {{ $labels.namespace }}/{{ $labels.pod }}: the sidecar is not running or not listening, and its app gets no decisions.`
  "runbook" "kubectl describe pod and kubectl logs -c pdp (and --previous): a crash loop, an invalid configuration (pdp serve --check-config), policies or plugins that do not load within the startup probe, or an OOM kill (raise the memory limit). A NetworkPolicy without Prometheus in networkPolicy.metrics.from also stops scrapes.")) -}}
{{- end }}
---
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "pdp-sidecar.fullname" $root }}
  labels:
    {{- include "pdp-sidecar.labels" $root | nindent 4 }}
    {{- with $a.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: pdp-sidecar
      {{- if $rules }}
      rules:
        {{- range $rules }}
        {{- . | nindent 8 }}
        {{- end }}
      {{- else }}
      rules: []
      {{- end }}
{{- end -}}
