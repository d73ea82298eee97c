{{/*
Helpers of the Drydock chart: labels, endpoint lookups over the original
chart's `endpoints` layout (hosts, host_fqdn_override, path, scheme, port
per endpoint class, defaulting to `default`), the drydock.conf the server
reads (conf.drydock with the endpoint-derived defaults the original filled
in) and the oslo INI renderer. Written for this chart; no helm-toolkit.
*/}}

{{/* Labels: the original's (release_group, application, component) and the recommended ones. Argument: (tuple $ $component). */}}
{{- define "drydock.labels" -}}
{{- $ctx := index . 0 -}}
{{- $component := index . 1 -}}
{{ include "drydock.selectorLabels" . }}
app.kubernetes.io/name: drydock
app.kubernetes.io/instance: {{ $ctx.Release.Name }}
app.kubernetes.io/component: {{ $component }}
app.kubernetes.io/managed-by: {{ $ctx.Release.Service }}
app.kubernetes.io/version: {{ $ctx.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" $ctx.Chart.Name $ctx.Chart.Version }}
{{- end -}}

{{/* Selector labels (stable across chart versions). Argument: (tuple $ $component). */}}
{{- define "drydock.selectorLabels" -}}
{{- $ctx := index . 0 -}}
release_group: {{ $ctx.Values.release_group | default $ctx.Release.Name }}
application: drydock
component: {{ index . 1 }}
{{- end -}}

{{/* A value given per endpoint class: a map's entry for the class, else its `default`; a scalar as it is. Argument: (tuple $value $class). */}}
{{- define "drydock.perClass" -}}
{{- $value := index . 0 -}}
{{- $class := index . 1 -}}
{{- if kindIs "map" $value -}}
{{- $chosen := index $value $class | default $value.default -}}
{{- if not (kindIs "invalid" $chosen) }}{{ $chosen }}{{ end -}}
{{- else if not (kindIs "invalid" $value) -}}
{{- $value -}}
{{- end -}}
{{- end -}}

{{/* An endpoint's short host name. Argument: (tuple $type $class $). */}}
{{- define "drydock.endpoint.hostShort" -}}
{{- $ctx := index . 2 -}}
{{- $endpoint := index $ctx.Values.endpoints (index . 0) -}}
{{- tuple $endpoint.hosts (index . 1) | include "drydock.perClass" -}}
{{- end -}}

{{/* An endpoint's fully qualified host name: host_fqdn_override for the class (a name or {host: …}), else the short name in its namespace's cluster domain. Argument: (tuple $type $class $). */}}
{{- define "drydock.endpoint.hostFqdn" -}}
{{- $type := index . 0 -}}
{{- $class := index . 1 -}}
{{- $ctx := index . 2 -}}
{{- $endpoint := index $ctx.Values.endpoints $type -}}
{{- $overrides := $endpoint.host_fqdn_override | default dict -}}
{{- $override := index $overrides $class | default $overrides.default -}}
{{- $host := "" -}}
{{- if kindIs "map" $override -}}
{{- $host = $override.host | default "" -}}
{{- else if kindIs "string" $override -}}
{{- $host = $override -}}
{{- end -}}
{{- if $host -}}
{{- $host -}}
{{- else -}}
{{- $namespace := $endpoint.namespace | default $ctx.Release.Namespace -}}
{{- printf "%s.%s.svc.%s" (include "drydock.endpoint.hostShort" .) $namespace $ctx.Values.endpoints.cluster_domain_suffix -}}
{{- end -}}
{{- end -}}

{{/* An endpoint's port number. Argument: (tuple $type $class $portName $). */}}
{{- define "drydock.endpoint.port" -}}
{{- $ctx := index . 3 -}}
{{- $endpoint := index $ctx.Values.endpoints (index . 0) -}}
{{- $port := tuple (index $endpoint.port (index . 2)) (index . 1) | include "drydock.perClass" -}}
{{- $port | int -}}
{{- end -}}

{{/* An endpoint's URL, scheme://fqdn:port/path. Argument: (tuple $type $class $portName $). */}}
{{- define "drydock.endpoint.url" -}}
{{- $type := index . 0 -}}
{{- $class := index . 1 -}}
{{- $ctx := index . 3 -}}
{{- $endpoint := index $ctx.Values.endpoints $type -}}
{{- $scheme := tuple $endpoint.scheme $class | include "drydock.perClass" | default "http" -}}
{{- $path := tuple $endpoint.path $class | include "drydock.perClass" -}}
{{- printf "%s://%s:%s%s" $scheme (tuple $type $class $ctx | include "drydock.endpoint.hostFqdn") (include "drydock.endpoint.port" .) $path -}}
{{- end -}}

{{/* The PostgreSQL URL with the user's credentials (the original's DATABASE_URI, its SQLAlchemy scheme kept). Argument: $. */}}
{{- define "drydock.db.uri" -}}
{{- $pg := .Values.endpoints.postgresql -}}
{{- $auth := $pg.auth.user -}}
{{- $scheme := tuple $pg.scheme "internal" | include "drydock.perClass" -}}
{{- $path := tuple $pg.path "internal" | include "drydock.perClass" -}}
{{- printf "%s://%s:%s@%s:%s%s" $scheme (urlquery $auth.username) (urlquery $auth.password) (tuple "postgresql" "internal" . | include "drydock.endpoint.hostFqdn") (tuple "postgresql" "internal" "postgresql" . | include "drydock.endpoint.port") $path -}}
{{- end -}}

{{/* The store drydock serve reads (DRYDOCK_STORE): conf.drydock.database.database_connect_string, else the endpoint's, as a postgresql:// URL (an SQLAlchemy +driver dropped). Argument: $. */}}
{{- define "drydock.db.store" -}}
{{- $given := "" -}}
{{- with .Values.conf.drydock.database -}}{{- $given = .database_connect_string | default "" -}}{{- end -}}
{{- $url := $given | default (include "drydock.db.uri" .) -}}
{{- regexReplaceAll "^postgres(ql)?(\\+[A-Za-z0-9_]+)?://" $url "postgresql://" -}}
{{- end -}}

{{/* The Keystone password of the drydock service user: conf.drydock.keystone_authtoken.password, else endpoints.identity.auth.drydock.password. Argument: $. */}}
{{- define "drydock.keystone.password" -}}
{{- $given := "" -}}
{{- with .Values.conf.drydock.keystone_authtoken -}}{{- $given = .password | default "" -}}{{- end -}}
{{- $given | default .Values.endpoints.identity.auth.drydock.password -}}
{{- end -}}

{{/* The MaaS API key given in conf.drydock.maasdriver.maas_api_key, or nothing when it is unset or the placeholder override_this. Argument: $. */}}
{{- define "drydock.maas.key" -}}
{{- $given := "" -}}
{{- with .Values.conf.drydock.maasdriver -}}{{- $given = .maas_api_key | default "" -}}{{- end -}}
{{- if ne $given "override_this" }}{{ $given }}{{ end -}}
{{- end -}}

{{/* The drydock.conf sections as YAML, without the secret options (they come from Secrets as environment variables): conf.drydock with the defaults the original filled in from the endpoints. Argument: $. */}}
{{- define "drydock.conf.public" -}}
{{- $conf := deepCopy (.Values.conf.drydock | default dict) -}}
{{- $ks := deepCopy (index $conf "keystone_authtoken" | default dict) -}}
{{- $user := .Values.endpoints.identity.auth.drydock -}}
{{- if not $ks.auth_url -}}{{- $_ := set $ks "auth_url" (tuple "identity" "internal" "api" . | include "drydock.endpoint.url") -}}{{- end -}}
{{- if not $ks.auth_uri -}}{{- $_ := set $ks "auth_uri" (tuple "identity" "internal" "api" . | include "drydock.endpoint.url") -}}{{- end -}}
{{- range $key := list "username" "project_name" "project_domain_name" "user_domain_name" "region_name" -}}
{{- if not (index $ks $key) -}}{{- $_ := set $ks $key (index $user $key) -}}{{- end -}}
{{- end -}}
{{- $_ := unset $ks "password" -}}
{{- $_ := set $conf "keystone_authtoken" $ks -}}
{{- $maas := deepCopy (index $conf "maasdriver" | default dict) -}}
{{- if not $maas.maas_api_url -}}{{- $_ := set $maas "maas_api_url" (tuple "maas_region" "internal" "region_api" . | include "drydock.endpoint.url") -}}{{- end -}}
{{- $_ := unset $maas "maas_api_key" -}}
{{- $_ := set $conf "maasdriver" $maas -}}
{{- $db := deepCopy (index $conf "database" | default dict) -}}
{{- $_ := unset $db "database_connect_string" -}}
{{- $_ := set $conf "database" $db -}}
{{- if or .Values.conf.policy.override .Values.conf.policy.append -}}
{{- $policy := deepCopy (index $conf "oslo_policy" | default dict) -}}
{{- $_ := set $policy "policy_file" "policy.yaml" -}}
{{- $_ := set $conf "oslo_policy" $policy -}}
{{- end -}}
{{- toYaml $conf -}}
{{- end -}}

{{/* A dict of sections rendered as an oslo.config INI file: lists joined with commas, {type: multistring, values: […]} as repeated lines, null options left out, whole numbers without an exponent. Argument: the dict. */}}
{{- define "drydock.oslo" -}}
{{- range $section, $options := . }}
{{- if kindIs "map" $options }}
[{{ $section }}]
{{- range $key, $value := $options }}
{{- if kindIs "slice" $value }}
{{ $key }} = {{ join "," $value }}
{{- else if kindIs "map" $value }}
{{- if eq (toString $value.type) "multistring" }}
{{- range $value.values }}
{{ $key }} = {{ . }}
{{- end }}
{{- end }}
{{- else if kindIs "float64" $value }}
{{ $key }} = {{ if eq $value (float64 (int64 $value)) }}{{ int64 $value }}{{ else }}{{ $value }}{{ end }}
{{- else if not (kindIs "invalid" $value) }}
{{ $key }} = {{ $value }}
{{- end }}
{{- end }}
{{ end }}
{{- end }}
{{- end -}}

{{/* conf.serve as the TOML file `drydock serve --config` reads: booleans and lists as such, everything else as a string (the server parses it as the command line would). Argument: the dict. */}}
{{- define "drydock.serveToml" -}}
{{- range $key, $value := . }}
{{- if kindIs "bool" $value }}
{{ $key }} = {{ $value }}
{{- else if kindIs "slice" $value }}
{{ $key }} = [{{ range $i, $item := $value }}{{ if $i }}, {{ end }}{{ toString $item | toJson }}{{ end }}]
{{- else if kindIs "float64" $value }}
{{ $key }} = {{ if eq $value (float64 (int64 $value)) }}{{ int64 $value | toString | toJson }}{{ else }}{{ toString $value | toJson }}{{ end }}
{{- else if not (kindIs "invalid" $value) }}
{{ $key }} = {{ toString $value | toJson }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod anti-affinity over the component's pods (pod.affinity.anti). Argument: (tuple $ $component). */}}
{{- define "drydock.antiAffinity" -}}
{{- $ctx := index . 0 -}}
{{- $anti := $ctx.Values.pod.affinity.anti -}}
{{- $type := $anti.type.default -}}
{{- $term := dict "topologyKey" $anti.topologyKey.default "labelSelector" (dict "matchLabels" (include "drydock.selectorLabels" . | fromYaml)) -}}
podAntiAffinity:
{{- if eq $type "requiredDuringSchedulingIgnoredDuringExecution" }}
  requiredDuringSchedulingIgnoredDuringExecution:
{{ list $term | toYaml | indent 4 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 10
      podAffinityTerm:
{{ toYaml $term | indent 8 }}
{{- end }}
{{- end -}}

{{/* A Keystone job (ks-user, ks-service, ks-endpoints): its script from drydock-bin run by the images.tags image's `openstack` client, as the admin (secrets.identity.admin), HOME on a scratch volume. Argument: (tuple $ $name $env), $name "user", "service" or "endpoints", $env the job's extra environment (a list). */}}
{{- define "drydock.ksJob" -}}
{{- $ctx := index . 0 -}}
{{- $name := index . 1 -}}
{{- $env := index . 2 -}}
{{- $key := printf "ks_%s" $name -}}
---
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "drydock-ks-%s" $name }}
  labels:
{{ tuple $ctx (printf "ks-%s" $name) | include "drydock.labels" | indent 4 }}
spec:
  backoffLimit: 6
  template:
    metadata:
      labels:
{{ tuple $ctx (printf "ks-%s" $name) | include "drydock.labels" | indent 8 }}
    spec:
      restartPolicy: OnFailure
      automountServiceAccountToken: false
      nodeSelector:
        {{ $ctx.Values.labels.job.node_selector_key }}: {{ $ctx.Values.labels.job.node_selector_value | quote }}
      securityContext:
{{ toYaml $ctx.Values.pod.security_context.ks_jobs.pod | indent 8 }}
      containers:
        - name: {{ printf "ks-%s" $name }}
          image: {{ index $ctx.Values.images.tags $key | quote }}
          imagePullPolicy: {{ $ctx.Values.images.pull_policy | quote }}
          command:
            - /bin/sh
            - {{ printf "/tmp/bin/ks-%s.sh" $name }}
          envFrom:
            - secretRef:
                name: {{ $ctx.Values.secrets.identity.admin }}
          env:
            - name: HOME
              value: /tmp/home
{{ toYaml $env | indent 12 }}
{{- if $ctx.Values.pod.resources.enabled }}
          resources:
{{ toYaml (index $ctx.Values.pod.resources.jobs $key) | indent 12 }}
{{- end }}
          securityContext:
{{ toYaml $ctx.Values.pod.security_context.ks_jobs.container.ks_job | indent 12 }}
          volumeMounts:
            - name: drydock-bin
              mountPath: /tmp/bin
              readOnly: true
            - name: home
              mountPath: /tmp/home
      volumes:
        - name: drydock-bin
          configMap:
            name: drydock-bin
            defaultMode: 0555
        - name: home
          emptyDir: {}
{{- end -}}
