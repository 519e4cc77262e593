{{/*
GOMAXPROCS and GOMEMLIMIT, computed from the container's resources at render
time (the schema limits quantities to the forms parsed here).

Why not resourceFieldRef: it can only divide, so GOMEMLIMIT would equal the
memory limit (no headroom before the OOM killer), and GOMAXPROCS from a
500m request would be 1, below the floor of 2 Go itself applies to a CPU
limit.
*/}}

{{/* pdp-sidecar.milliCPU: a CPU quantity ("250m", "1.5", 2) in millicores, rounded up. */}}
{{- define "pdp-sidecar.milliCPU" -}}
{{- $q := toString . -}}
{{- if hasSuffix "m" $q -}}
{{- trimSuffix "m" $q | float64 | ceil | int64 -}}
{{- else -}}
{{- mulf (float64 $q) 1000 | ceil | int64 -}}
{{- end -}}
{{- end -}}

{{/* pdp-sidecar.bytes: a memory quantity ("512Mi", "1G", 268435456) in bytes. */}}
{{- define "pdp-sidecar.bytes" -}}
{{- $q := toString . -}}
{{- $mult := 1.0 -}}
{{- $num := $q -}}
{{- range $suffix := list "Ki" "Mi" "Gi" "Ti" "k" "M" "G" "T" -}}
{{- if and (eq $num $q) (hasSuffix $suffix $q) -}}
{{- $num = trimSuffix $suffix $q -}}
{{- $mult = get (dict "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "k" 1000.0 "M" 1000000.0 "G" 1000000000.0 "T" 1000000000000.0) $suffix -}}
{{- end -}}
{{- end -}}
{{- mulf (float64 $num) $mult | floor | int64 -}}
{{- end -}}

{{/* pdp-sidecar.gomaxprocs: the GOMAXPROCS value, or "" to leave it to Go. */}}
{{- define "pdp-sidecar.gomaxprocs" -}}
{{- $g := .Values.pdp.goRuntime.gomaxprocs -}}
{{- $r := .Values.pdp.resources -}}
{{- if ne (toString $g) "auto" -}}
{{- int $g -}}
{{- else if not (dig "limits" "cpu" "" $r) -}}
{{- with dig "requests" "cpu" "" $r -}}
{{- $milli := include "pdp-sidecar.milliCPU" . | int64 -}}
{{- max 2 (div (add $milli 999) 1000) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* pdp-sidecar.gomemlimit: the GOMEMLIMIT value in MiB, or "" when there is no memory limit. */}}
{{- define "pdp-sidecar.gomemlimit" -}}
{{- $pct := int .Values.pdp.goRuntime.memoryLimitPercent -}}
{{- with dig "limits" "memory" "" .Values.pdp.resources -}}
{{- if gt $pct 0 -}}
{{- $bytes := include "pdp-sidecar.bytes" . | float64 -}}
{{- printf "%dMiB" (divf (mulf $bytes $pct) 104857600.0 | floor | int64) -}}
{{- end -}}
{{- end -}}
{{- end -}}
