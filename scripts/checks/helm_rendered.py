#!/usr/bin/env python3
# Checks the Helm chart's renderings (scripts/checks/helm.sh runs it with the
# chart's venv, which has PyYAML): every document parses; the Deployment runs
# `drydock serve` with the chart's config files mounted, its probes, its
# non-root read-only security context and its secrets from Secrets; the
# db-sync Job runs `drydock db migrate`; the optional parts come and go with
# their toggles; no secret value is in a ConfigMap. Then the real binary runs
# on each rendering's files and environment: `drydock serve` (store and listen
# address overridden to memory and loopback) must start and answer
# /api/v1.0/health; with the toggles rendering, a token request makes it
# authenticate to a stand-in Keystone as the configured service user with the
# password from the Secret, and `drydock db migrate` as the Job runs it must
# reach for the database the Secret names. The Keystone jobs' scripts run
# twice against a stand-in `openstack` client: they register the service,
# its endpoints and the user once, and update rather than duplicate.
# Usage: helm_rendered.py DRYDOCK_BIN DEFAULT_RENDER TOGGLES_RENDER KEYSTONE_PORT
import base64
import configparser
import http.server
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import yaml

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
    return condition


def load(path):
    with open(path) as handle:
        documents = [doc for doc in yaml.safe_load_all(handle) if doc is not None]
    objects = {}
    for doc in documents:
        for field in ("apiVersion", "kind", "metadata"):
            check(field in doc, f"{path}: a document without {field}: {str(doc)[:80]}")
        key = (doc["kind"], doc["metadata"]["name"])
        check(key not in objects, f"{path}: {key} rendered twice")
        objects[key] = doc
    return objects


def secret_value(objects, name, key):
    secret = objects.get(("Secret", name))
    if secret is None or key not in secret.get("data", {}):
        return None
    return base64.b64decode(secret["data"][key]).decode()


# Secrets the chart reads but others create (a site has them before it
# installs the chart), with stand-in values.
EXTERNAL = {("maas-api-key", "token"): "ext-consumer:ext-token:ext-secret"}


def container_env(objects, container, where):
    """The container's environment with secretKeyRefs resolved from the rendered Secrets (and EXTERNAL)."""
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"])
            continue
        ref = entry["valueFrom"]["secretKeyRef"]
        value = secret_value(objects, ref["name"], ref["key"])
        if value is None and ("Secret", ref["name"]) not in objects:
            value = EXTERNAL.get((ref["name"], ref["key"]))
        if value is None:
            check(ref.get("optional", False), f"{where}: {entry['name']} names {ref['name']}/{ref['key']}, which is not rendered")
            continue
        env[entry["name"]] = value
    return env


def only(objects, kind, name, where):
    obj = objects.get((kind, name))
    check(obj is not None, f"{where}: no {kind} {name}")
    return obj


def check_common(objects, where):
    deployment = only(objects, "Deployment", "drydock-api", where)
    if deployment is None:
        return
    pod = deployment["spec"]["template"]
    check(deployment["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items(), f"{where}: the selector does not match the pod labels")
    spec = pod["spec"]
    (container,) = spec["containers"]
    check(container["command"] == ["/usr/local/bin/drydock"], f"{where}: command {container['command']}")
    args = container["args"]
    check(args[0] == "serve", f"{where}: args {args}")
    pairs = dict(zip(args[1::2], args[2::2]))
    check(pairs.get("--config-file") == "/etc/drydock/drydock.conf", f"{where}: no --config-file /etc/drydock/drydock.conf in {args}")
    check(pairs.get("--config") == "/etc/drydock/serve.toml", f"{where}: no --config /etc/drydock/serve.toml in {args}")
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    etc = volumes.get(mounts.get("/etc/drydock"), {})
    check(etc.get("configMap", {}).get("name") == "drydock-etc", f"{where}: /etc/drydock is not the drydock-etc ConfigMap")
    check(("ConfigMap", "drydock-etc") in objects, f"{where}: no drydock-etc ConfigMap")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["drydock-api"]
    check(pairs.get("--listen") == f"0.0.0.0:{port}", f"{where}: --listen {pairs.get('--listen')} but containerPort {port}")
    for probe in ("livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        check(get["path"] == "/api/v1.0/health" and get["port"] == "drydock-api", f"{where}: {probe} {get}")
    check(spec["securityContext"].get("runAsUser") == 65532 and spec["securityContext"].get("runAsNonRoot") is True, f"{where}: pod securityContext {spec['securityContext']}")
    security = container["securityContext"]
    check(security.get("readOnlyRootFilesystem") is True and security.get("allowPrivilegeEscalation") is False, f"{where}: container securityContext {security}")
    env = container_env(objects, container, where)
    check(env.get("DRYDOCK_STORE", "").startswith("postgresql://"), f"{where}: DRYDOCK_STORE is not a postgresql:// URL from a Secret")
    check("DRYDOCK_KEYSTONE_PASSWORD" in env and "MAAS_API_KEY" in env, f"{where}: no DRYDOCK_KEYSTONE_PASSWORD or MAAS_API_KEY")

    service = only(objects, "Service", "drydock-api", where)
    if service:
        check(service["spec"]["selector"].items() <= pod["metadata"]["labels"].items(), f"{where}: the Service selects no API pod")
        (service_port,) = service["spec"]["ports"]
        check(service_port["targetPort"] == "drydock-api" and service_port["port"] == port, f"{where}: Service port {service_port}")
    for (kind, name), ingress in objects.items():
        if kind == "Ingress":
            for rule in ingress["spec"]["rules"]:
                backend = rule["http"]["paths"][0]["backend"]["service"]
                check(backend == {"name": "drydock-api", "port": {"number": port}}, f"{where}: Ingress {name} backend {backend}")

    job = only(objects, "Job", "drydock-db-sync", where)
    if job:
        (sync,) = job["spec"]["template"]["spec"]["containers"]
        check(sync["command"] == ["/usr/local/bin/drydock"] and sync["args"] == ["db", "migrate", "--config-file", "/etc/drydock/drydock.conf"], f"{where}: db-sync runs {sync['command']} {sync['args']}")
        check(container_env(objects, sync, where + " db-sync").get("DRYDOCK_STORE") == env.get("DRYDOCK_STORE"), f"{where}: db-sync and the server read different stores")
        check(any(m["mountPath"] == "/etc/drydock" for m in sync["volumeMounts"]), f"{where}: db-sync does not mount /etc/drydock")

    # The drydock.conf in the ConfigMap has no secret option.
    conf = configparser.ConfigParser(interpolation=None, strict=False)
    conf.read_string(objects[("ConfigMap", "drydock-etc")]["data"]["drydock.conf"])
    for section, option in (("database", "database_connect_string"), ("keystone_authtoken", "password"), ("maasdriver", "maas_api_key")):
        check(not conf.has_option(section, option), f"{where}: drydock.conf has [{section}] {option}")
    return conf


def configmap_text(objects):
    return "\n".join(value for (kind, _), obj in objects.items() if kind == "ConfigMap" for value in obj.get("data", {}).values())


def secret_values(objects, keys):
    return [
        (name, key, base64.b64decode(value).decode())
        for (kind, name), obj in objects.items()
        if kind == "Secret"
        for key, value in obj.get("data", {}).items()
        if key in keys
    ]


def check_default(objects):
    where = "default values"
    conf = check_common(objects, where)
    expected = {
        ("ConfigMap", "drydock-etc"), ("ConfigMap", "drydock-bin"), ("Secret", "drydock-postgresql-user"),
        ("Secret", "drydock-keystone-admin"), ("Secret", "drydock-keystone-user"), ("Service", "drydock-api"),
        ("Deployment", "drydock-api"), ("Ingress", "drydock"), ("Job", "drydock-db-sync"), ("Job", "drydock-ks-user"),
        ("Job", "drydock-ks-service"), ("Job", "drydock-ks-endpoints"),
    }
    check(set(objects) == expected, f"{where}: rendered {sorted(set(objects) ^ expected)} differently from the expected set")
    if conf:
        check(conf.get("keystone_authtoken", "auth_url") == "http://keystone-api.default.svc.cluster.local:5000/v3", f"{where}: auth_url {conf.get('keystone_authtoken', 'auth_url')}")
        check(conf.get("maasdriver", "maas_api_url") == "http://maas-region.default.svc.cluster.local:80/MAAS", f"{where}: maas_api_url")
        check(conf.get("timeouts", "deploy_node") == "45", f"{where}: deploy_node")
    (container,) = objects[("Deployment", "drydock-api")]["spec"]["template"]["spec"]["containers"]
    check(container_env(objects, container, where).get("MAAS_API_KEY") == "ext-consumer:ext-token:ext-secret", f"{where}: MAAS_API_KEY is not from secrets.maas_api_key")
    store = secret_value(objects, "drydock-postgresql-user", "DRYDOCK_STORE")
    check(store == "postgresql://drydock:password@postgresql.default.svc.cluster.local:5432/drydock", f"{where}: DRYDOCK_STORE is not the endpoint's URL")
    text = configmap_text(objects)
    for name, key, value in secret_values(objects, {"DATABASE_URI", "DRYDOCK_STORE"}):
        check(value not in text, f"{where}: {name}/{key} is in a ConfigMap")
    # The Keystone jobs: the admin's credentials, their scripts from drydock-bin.
    for job in ("user", "service", "endpoints"):
        pod = objects[("Job", f"drydock-ks-{job}")]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        check(container["envFrom"] == [{"secretRef": {"name": "drydock-keystone-admin"}}], f"{where}: ks-{job} credentials")
        check(container["command"] == ["/bin/sh", f"/tmp/bin/ks-{job}.sh"], f"{where}: ks-{job} command")
        check(f"ks-{job}.sh" in objects[("ConfigMap", "drydock-bin")]["data"], f"{where}: no ks-{job}.sh in drydock-bin")
    endpoints = container_env(objects, objects[("Job", "drydock-ks-endpoints")]["spec"]["template"]["spec"]["containers"][0], where)
    check(endpoints.get("OS_SERVICE_ENDPOINT_PUBLIC") == "http://drydock.test.local:9000/api/v1.0", f"{where}: public endpoint {endpoints}")
    user = container_env(objects, objects[("Job", "drydock-ks-user")]["spec"]["template"]["spec"]["containers"][0], where)
    check(user.get("SERVICE_OS_USERNAME") == "drydock" and user.get("SERVICE_OS_ROLE") == "admin", f"{where}: ks-user env {sorted(user)}")


def check_toggles(objects):
    where = "toggles values"
    conf = check_common(objects, where)
    for job in ("ks-user", "ks-service", "ks-endpoints"):
        check(("Job", f"drydock-{job}") not in objects, f"{where}: the {job} job is rendered though switched off")
    check(("ConfigMap", "drydock-bin") not in objects, f"{where}: drydock-bin without Keystone jobs")
    check(("NetworkPolicy", "drydock-netpol") in objects, f"{where}: no NetworkPolicy")
    check(secret_value(objects, "drydock-tls-public", "tls.key") is not None, f"{where}: no TLS secret")
    ingress = objects.get(("Ingress", "drydock"), {}).get("spec", {})
    check(ingress.get("tls") == [{"secretName": "drydock-tls-public", "hosts": ["drydock.site.example"]}], f"{where}: ingress tls {ingress.get('tls')}")
    service = objects[("Service", "drydock-api")]["spec"]
    check(service.get("type") == "NodePort" and service["ports"][0].get("nodePort") == 31900, f"{where}: Service {service}")
    deployment = objects[("Deployment", "drydock-api")]
    pod = deployment["spec"]["template"]
    check(deployment["spec"]["replicas"] == 3, f"{where}: replicas")
    annotations = pod["metadata"].get("annotations", {})
    check(annotations.get("prometheus.io/scrape") == "true" and annotations.get("prometheus.io/port") == "9100", f"{where}: annotations {annotations}")
    (container,) = pod["spec"]["containers"]
    check("--metrics-anonymous" in container["args"], f"{where}: no --metrics-anonymous")
    check("resources" in container, f"{where}: no resources")
    check("requiredDuringSchedulingIgnoredDuringExecution" in pod["spec"]["affinity"]["podAntiAffinity"], f"{where}: anti-affinity")
    env = container_env(objects, container, where)
    check(env.get("MAAS_API_KEY") == "maas-consumer:tok3n:S3cret-0b4d", f"{where}: MAAS_API_KEY is not conf.drydock's")
    check(env.get("DRYDOCK_KEYSTONE_PASSWORD") == "ks-S3cret-71a", f"{where}: the Keystone password is not conf.drydock's")
    check(env.get("DRYDOCK_STORE") == "postgresql://drydock:db-S3cret-9f2@127.0.0.1:9/drydock", f"{where}: DRYDOCK_STORE {env.get('DRYDOCK_STORE', '')[:12]}…")
    if conf:
        check(conf.get("oslo_policy", "policy_file") == "policy.yaml", f"{where}: no policy_file")
        check(conf.get("DEFAULT", "poll_interval") == "7" and conf.get("keystone_authtoken", "username") == "drydock-svc", f"{where}: conf values")
    check("policy.yaml" in objects[("ConfigMap", "drydock-etc")]["data"], f"{where}: no policy.yaml")
    text = configmap_text(objects)
    secrets = secret_values(objects, {"DATABASE_PASSWORD", "DATABASE_URI", "DRYDOCK_STORE", "OS_PASSWORD", "token", "tls.key"})
    check(len(secrets) >= 7, f"{where}: only {len(secrets)} secret values found")
    for name, key, value in secrets:
        check(value not in text, f"{where}: {name}/{key} is in a ConfigMap")
    for word in ("S3cret", "tok3n", "K3y-Secret"):
        check(word not in text, f"{where}: {word} is in a ConfigMap")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Keystone(http.server.BaseHTTPRequestHandler):
    """Records the service user's password authentication; validates no token."""

    requests = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Keystone.requests.append((self.path, json.loads(body)))
        self.send_response(201)
        self.send_header("X-Subject-Token", "service-token")
        self.send_header("Content-Type", "application/json")
        answer = json.dumps({"token": {"expires_at": "2999-01-01T00:00:00.000000Z", "roles": [{"name": "admin"}], "catalog": []}}).encode()
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def files_from(objects, directory):
    for name, text in objects[("ConfigMap", "drydock-etc")]["data"].items():
        with open(os.path.join(directory, name), "w") as handle:
            handle.write(text)


def local_args(args, directory, port):
    """The container's arguments with /etc/drydock in the scratch directory, on a loopback port, with the memory store
    and no orchestrator: the rendered configuration names the cluster's MaaS, which a check must never contact."""
    out = [arg.replace("/etc/drydock", directory) for arg in args]
    if "--listen" in out:
        out[out.index("--listen") + 1] = f"127.0.0.1:{port}"
    return out + ["--store", "memory", "--no-orchestrator"]


def run_server(binary, objects, where, keystone_check):
    with tempfile.TemporaryDirectory() as directory:
        files_from(objects, directory)
        (container,) = objects[("Deployment", "drydock-api")]["spec"]["template"]["spec"]["containers"]
        env = {"PATH": os.environ["PATH"], **container_env(objects, container, where)}
        port = free_port()
        log_path = os.path.join(directory, "serve.log")
        with open(log_path, "w") as log:
            server = subprocess.Popen([binary, *local_args(container["args"], directory, port)], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            status = None
            for _ in range(200):
                if server.poll() is not None:
                    break
                try:
                    status = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1.0/health", timeout=2).status
                    break
                except (urllib.error.URLError, ConnectionError):
                    time.sleep(0.1)
            check(status == 204, f"{where}: the server on the rendered configuration answered health with {status}")
            if keystone_check and status == 204:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1.0/tasks", headers={"X-Auth-Token": "user-token"})
                try:
                    urllib.request.urlopen(request, timeout=10)
                    check(False, f"{where}: a token Keystone does not know was accepted")
                except urllib.error.HTTPError as error:
                    check(error.code in (401, 503), f"{where}: the unknown token got {error.code}")
                auths = [body for path, body in Keystone.requests if path == "/v3/auth/tokens"]
                if check(auths, f"{where}: the server did not authenticate to Keystone at the configured auth_url"):
                    user = auths[0]["auth"]["identity"]["password"]["user"]
                    project = auths[0]["auth"]["scope"]["project"]
                    check(user["name"] == "drydock-svc" and user["password"] == "ks-S3cret-71a", f"{where}: Keystone saw user {user['name']}")
                    check(project == {"name": "baremetal", "domain": {"name": "default"}}, f"{where}: Keystone saw project {project}")
        finally:
            server.terminate()
            server.wait(timeout=20)
        with open(log_path) as handle:
            log = handle.read()
        check("ignored" in log and "logging.log_level" in log, f"{where}: the server did not name drydock.conf's ignored options")
        for mapped in ("timeouts.deploy_node", "DEFAULT.poll_interval", "keystone_authtoken.username", "maasdriver.maas_api_url"):
            check(mapped not in log, f"{where}: the server ignored {mapped}")
        for word in ("S3cret", "tok3n"):
            check(word not in log, f"{where}: a secret is in the server's log")
        if FAILURES:
            print(log[-3000:], file=sys.stderr)


def run_migrate(binary, objects, where):
    with tempfile.TemporaryDirectory() as directory:
        files_from(objects, directory)
        (container,) = objects[("Job", "drydock-db-sync")]["spec"]["template"]["spec"]["containers"]
        env = {"PATH": os.environ["PATH"], **container_env(objects, container, where)}
        args = [arg.replace("/etc/drydock", directory) for arg in container["args"]] + ["--connect-timeout", "2s"]
        done = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=60)
        # Nothing listens on 127.0.0.1:9: the database of the Secret was tried.
        check(done.returncode == 1 and "127.0.0.1:9/drydock" in done.stderr, f"{where}: db migrate exited {done.returncode}: {done.stderr.strip()[:300]}")
        check("S3cret" not in done.stderr + done.stdout, f"{where}: db migrate printed the password")


# A stand-in `openstack` client for the Keystone jobs' scripts: records each
# call (one JSON list per line) and keeps the catalogue in a JSON state file.
FAKE_OPENSTACK = r"""#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_OS_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
path = os.environ["FAKE_OS_STATE"]
state = json.load(open(path)) if os.path.exists(path) else {"services": [], "endpoints": []}
def option(name):
    return args[args.index(name) + 1] if name in args else None
if args[:2] == ["service", "list"]:
    for name, kind in state["services"]:
        print(name, kind)
elif args[:2] == ["service", "create"]:
    state["services"].append([option("--name"), args[-1]])
elif args[:2] == ["endpoint", "list"]:
    for index, (service, interface, region, url) in enumerate(state["endpoints"]):
        if [service, interface, region] == [option("--service"), option("--interface"), option("--region")]:
            print(f"endpoint-{index}")
elif args[:2] == ["endpoint", "create"]:
    state["endpoints"].append([args[-3], args[-2], option("--region"), args[-1]])
elif args[:2] == ["endpoint", "set"]:
    state["endpoints"][int(args[-1].split("-")[1])][3] = option("--url")
elif args[:2] == ["user", "create"]:
    print("user-id-1")
json.dump(state, open(path, "w"))
"""


def run_ks_scripts(objects, where):
    """Runs the Keystone jobs' scripts twice against the stand-in client: the first run registers, the second finds it all there."""
    bin_data = objects[("ConfigMap", "drydock-bin")]["data"]
    with tempfile.TemporaryDirectory() as directory:
        fake = os.path.join(directory, "openstack")
        with open(fake, "w") as handle:
            handle.write(FAKE_OPENSTACK)
        os.chmod(fake, 0o755)
        log_path, state_path = os.path.join(directory, "calls"), os.path.join(directory, "state.json")
        runs = []
        for _ in range(2):
            open(log_path, "w").close()
            for job in ("service", "endpoints", "user"):
                (container,) = objects[("Job", f"drydock-ks-{job}")]["spec"]["template"]["spec"]["containers"]
                env = {"PATH": f"{directory}:{os.environ['PATH']}", "FAKE_OS_LOG": log_path, "FAKE_OS_STATE": state_path}
                for source in container.get("envFrom", []):
                    secret = objects[("Secret", source["secretRef"]["name"])]
                    env.update({key: base64.b64decode(value).decode() for key, value in secret["data"].items()})
                env.update(container_env(objects, container, where))
                script = os.path.join(directory, f"ks-{job}.sh")
                with open(script, "w") as handle:
                    handle.write(bin_data[f"ks-{job}.sh"])
                done = subprocess.run(["/bin/sh", script], env=env, capture_output=True, text=True, timeout=60)
                check(done.returncode == 0, f"{where}: ks-{job}.sh failed: {done.stderr.strip()[:300]}")
            with open(log_path) as handle:
                runs.append([json.loads(line) for line in handle])
        with open(state_path) as handle:
            state = json.load(handle)
        first, second = runs
        check(state["services"] == [["drydock", "physicalprovisioner"]], f"{where}: services {state['services']}")
        internal = "http://drydock-api.default.svc.cluster.local:9000/api/v1.0"
        expected = [["drydock", "admin", "RegionOne", internal], ["drydock", "internal", "RegionOne", internal], ["drydock", "public", "RegionOne", "http://drydock.test.local:9000/api/v1.0"]]
        check(state["endpoints"] == expected, f"{where}: endpoints {state['endpoints']}")
        creates = lambda calls, what: [call for call in calls if call[:2] == [what, "create"]]
        check(len(creates(second, "service")) == 0 and len(creates(second, "endpoint")) == 0, f"{where}: the second run created again")
        check(len([call for call in second if call[:2] == ["endpoint", "set"]]) == 3, f"{where}: the second run did not update the endpoints")
        for calls in runs:
            user = [call for call in calls if call[:2] == ["user", "create"]]
            check(len(user) == 1 and user[0][-1] == "drydock" and "password" in user[0][user[0].index("--password") + 1], f"{where}: user create {user}")
            check(["user", "set", "--password", "password", "user-id-1"] in calls, f"{where}: the password is not set on an existing user")
            check(["role", "add", "--project", "service", "--project-domain", "default", "--user", "user-id-1", "admin"] in calls, f"{where}: role add {calls}")


def main():
    binary, default_path, toggles_path, keystone_port = sys.argv[1:5]
    default, toggles = load(default_path), load(toggles_path)
    check_default(default)
    check_toggles(toggles)
    keystone = http.server.ThreadingHTTPServer(("127.0.0.1", int(keystone_port)), Keystone)
    threading.Thread(target=keystone.serve_forever, daemon=True).start()
    try:
        run_server(binary, default, "default values, drydock serve", False)
        run_server(binary, toggles, "toggles values, drydock serve", True)
        run_migrate(binary, toggles, "toggles values, drydock db migrate")
        run_ks_scripts(default, "default values, Keystone jobs")
    finally:
        keystone.shutdown()
    for failure in FAILURES:
        print(f"helm: {failure}", file=sys.stderr)
    if FAILURES:
        sys.exit(1)
    print(f"helm: {len(default)} + {len(toggles)} rendered objects checked; the rendered configuration runs drydock serve and db migrate")


if __name__ == "__main__":
    main()
