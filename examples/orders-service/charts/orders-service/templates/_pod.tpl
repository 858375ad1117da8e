{{/*
The pod template the Deployment and the Rollout share.
*/}}
{{- define "app.podTemplate" -}}
metadata:
  labels:
    {{- include "app.labels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    {{- if and .Values.vault (eq .Values.vault.mode "agent") }}
    # An init container writes the file before the service starts; a sidecar keeps it
    # current, and the service re-reads it when it changes.
    vault.hashicorp.com/agent-inject: "true"
    vault.hashicorp.com/agent-run-as-user: "10001"
    vault.hashicorp.com/agent-run-as-group: "10001"
    vault.hashicorp.com/agent-service-account-token-volume-name: serviceaccount-token
    {{- with .Values.vault.addr }}
    vault.hashicorp.com/service: {{ . | quote }}
    {{- end }}
    vault.hashicorp.com/auth-path: {{ printf "auth/%s" .Values.vault.authMount | quote }}
    vault.hashicorp.com/role: {{ .Values.vault.role | quote }}
    vault.hashicorp.com/agent-inject-secret-app.env: {{ include "app.vaultSecretPath" . | quote }}
    vault.hashicorp.com/agent-inject-perms-app.env: "0400"
    vault.hashicorp.com/agent-inject-template-app.env: |-
      {{- include "app.vaultAgentTemplate" . | nindent 6 }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "app.serviceAccountName" . }}
  # Kubernetes API credentials stay out of the pod{{ if .Values.vault }}: Vault gets a projected token instead{{ end }}.
  automountServiceAccountToken: false
  # Service links would add <SERVICE>_PORT variables that can collide with the settings' prefix.
  enableServiceLinks: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- include "app.podSecurityContext" . | nindent 4 }}
  # The preStop pause, then the server's graceful shutdown, then a margin.
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: {{ .Chart.Name }}
      image: {{ include "app.image" . | quote }}
      imagePullPolicy: {{ include "app.imagePullPolicy" . }}
      ports:
        - name: http
          containerPort: {{ include "app.containerPort" . }}
          protocol: TCP
      envFrom:
        - configMapRef:
            name: {{ include "app.fullname" . }}
        {{- with .Values.existingSecret }}
        - secretRef:
            name: {{ . }}
        {{- end }}
      startupProbe:
        httpGet:
          path: /livez
          port: http
        periodSeconds: 2
        timeoutSeconds: 2
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet:
          path: /livez
          port: http
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        timeoutSeconds: 2
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        timeoutSeconds: 2
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
      lifecycle:
        # Endpoints and load balancers stop sending new requests while the pod still serves.
        preStop:
          sleep:
            seconds: {{ .Values.preStopSleepSeconds }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        {{- include "app.containerSecurityContext" . | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
        {{- if and .Values.vault (eq .Values.vault.mode "api") }}
        - name: serviceaccount-token
          mountPath: /var/run/secrets/kubernetes.io/serviceaccount
          readOnly: true
        {{- end }}
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: {{ .Values.tmpSizeLimit }}
    {{- with .Values.vault }}
    - name: serviceaccount-token
      projected:
        sources:
          - serviceAccountToken:
              path: token
              expirationSeconds: 3600
              {{- with .tokenAudience }}
              audience: {{ . | quote }}
              {{- end }}
    {{- end }}
  topologySpreadConstraints:
    - maxSkew: {{ .Values.topologySpread.maxSkew }}
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: {{ .Values.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "app.selectorLabels" . | nindent 10 }}
      matchLabelKeys:
        - pod-template-hash
    {{- if .Values.topologySpread.zones }}
    - maxSkew: {{ .Values.topologySpread.maxSkew }}
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: {{ .Values.topologySpread.whenUnsatisfiable }}
      labelSelector:
        matchLabels:
          {{- include "app.selectorLabels" . | nindent 10 }}
      matchLabelKeys:
        - pod-template-hash
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
