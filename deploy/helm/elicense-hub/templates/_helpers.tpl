{{/* 河南省电子证照 省级枢纽: names, labels and the pod parts every process shares. */}}

{{- define "elicense-hub.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "elicense-hub.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "elicense-hub.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "elicense-hub.image" -}}
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
{{- end -}}

{{/* The environment of every process: ConfigMap, then the Secret, then the fixed values. */}}
{{- define "elicense-hub.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "elicense-hub.fullname" . }}-config
  - secretRef:
      name: {{ .Values.envSecret }}
env:
  - name: DJANGO_ENV
    value: production
  - name: VAR_DIR
    value: /var/lib/elicense
  {{- if .Values.exchangeClientTls.secretName }}
  - name: EXCHANGE_TLS_CLIENT_CERT
    value: /etc/elicense/exchange-tls/tls.crt
  - name: EXCHANGE_TLS_CLIENT_KEY
    value: /etc/elicense/exchange-tls/tls.key
  - name: EXCHANGE_TLS_CA_BUNDLE
    value: /etc/elicense/exchange-tls/ca.crt
  {{- end }}
{{- end -}}

{{- define "elicense-hub.volumeMounts" -}}
volumeMounts:
  - name: data
    mountPath: /var/lib/elicense
  - name: tmp
    mountPath: /tmp
  {{- if .Values.exchangeClientTls.secretName }}
  - name: exchange-tls
    mountPath: /etc/elicense/exchange-tls
    readOnly: true
  {{- end }}
{{- end -}}

{{- define "elicense-hub.volumes" -}}
volumes:
  - name: data
    persistentVolumeClaim:
      claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "elicense-hub.fullname" .)) }}
  - name: tmp
    emptyDir: {}
  {{- if .Values.exchangeClientTls.secretName }}
  - name: exchange-tls
    secret:
      secretName: {{ .Values.exchangeClientTls.secretName }}
      defaultMode: 0440
  {{- end }}
{{- end -}}

{{- define "elicense-hub.podSpec" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{ include "elicense-hub.volumes" . }}
{{- end -}}

{{/* The Host header of the probes: production lists host names only (ALLOWED_HOSTS). */}}
{{- define "elicense-hub.probeHost" -}}
{{- .Values.config.ALLOWED_HOSTS | splitList "," | first | trimPrefix "." -}}
{{- end -}}
