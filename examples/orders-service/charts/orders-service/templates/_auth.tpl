{{/*
The OpenID provider's settings (auth.oidc), as the ConfigMap's data: the lists as JSON, which
is how the service reads a list from its environment.
*/}}
{{- define "app.authSettings" -}}
{{- $prefix := .Values.envPrefix }}
{{- with .Values.auth.oidc -}}
{{ $prefix }}OIDC_ISSUER: {{ .issuer | quote }}
{{ $prefix }}OIDC_AUDIENCE: {{ .audience | quote }}
{{- with .jwksUrl }}
{{ $prefix }}OIDC_JWKS_URL: {{ . | quote }}
{{- end }}
{{ $prefix }}OIDC_ALGORITHMS: {{ .algorithms | toJson | quote }}
{{ $prefix }}OIDC_LEEWAY_SECONDS: {{ .leewaySeconds | quote }}
{{ $prefix }}OIDC_REQUIRED_SCOPES: {{ .requiredScopes | toJson | quote }}
{{- with .docsClientId }}
{{ $prefix }}OIDC_DOCS_CLIENT_ID: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Settings of auth.oidc that settings.extra sets too: one line each, for app.validateValues.
(The schema refuses an empty issuer or audience before any template runs, `helm lint` included.)
*/}}
{{- define "app.authErrors" -}}
{{- $errors := list }}
{{- $values := dict "OIDC_ISSUER" "issuer" "OIDC_AUDIENCE" "audience" "OIDC_JWKS_URL" "jwksUrl" "OIDC_ALGORITHMS" "algorithms" "OIDC_LEEWAY_SECONDS" "leewaySeconds" "OIDC_REQUIRED_SCOPES" "requiredScopes" "OIDC_DOCS_CLIENT_ID" "docsClientId" }}
{{- range $name, $_ := .Values.settings.extra }}
{{- with get $values $name }}
{{- $errors = append $errors (printf "settings.extra.%s is set by the chart: use auth.oidc.%s instead" $name .) }}
{{- end }}
{{- end }}
{{- join "\n" $errors }}
{{- end }}

{{/*
What callers need, for NOTES.txt.
*/}}
{{- define "app.authNotes" -}}
API calls need an access token (Authorization: Bearer) issued by
{{ .Values.auth.oidc.issuer }} for the audience {{ .Values.auth.oidc.audience }}.
{{- end }}
