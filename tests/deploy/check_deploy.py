#!/usr/bin/python3
"""Checks deploy/ without a Docker engine or a cluster: the manifests parse,
the services start with exactly the flags and config the files give them
(against the test broker), and the systemd units pass systemd-analyze.

usage: check_deploy.py SOURCE_DIR TALLYWIRE_BINARY   (TALLYWIRE_KAFKA_BROKERS set)
"""
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import yaml

src, binary = sys.argv[1], sys.argv[2]
brokers = os.environ.get("TALLYWIRE_KAFKA_BROKERS")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def load_all(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d]


# 1. Manifests parse and say what we rely on.
k8s = load_all(f"{src}/deploy/k8s/tallywire.yaml")
kinds = {d["kind"] for d in k8s}
check(kinds == {"ConfigMap", "Deployment", "Service"}, f"k8s kinds {sorted(kinds)}")
dep = next(d for d in k8s if d["kind"] == "Deployment")
pod = dep["spec"]["template"]
container = pod["spec"]["containers"][0]
check(container["livenessProbe"]["httpGet"]["path"] == "/healthz", "liveness probe on /healthz")
check(container["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness probe on /readyz")
check(pod["metadata"]["annotations"]["prometheus.io/path"] == "/metrics", "prometheus scrape annotations")
http = container["args"][container["args"].index("--http") + 1]
env = {e["name"]: e for e in container.get("env", [])}
check(http == "$(POD_IP):8080" and
      env.get("POD_IP", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "status.podIP",
      f"k8s: --http on the pod IP from the downward API, not a wildcard (got {http})")
compose = load_all(f"{src}/deploy/docker/docker-compose.yml")[0]
check(set(compose["services"]) == {"kafka", "topics", "aggregate", "alerts"}, "compose services")
check(compose["services"]["kafka"]["image"].startswith("apache/kafka:3.9"), "compose uses apache/kafka 3.9")

# 2. The exact argument lists the files use, with the image paths mapped to
#    the repository's deploy/config and the HTTP port to a free local one.
def unit_args(name):
    for line in open(f"{src}/deploy/systemd/{name}"):
        if line.startswith("ExecStart="):
            return shlex.split(line.split("=", 1)[1])[1:]


arg_sets = {
    "k8s": container["args"],
    "compose": compose["services"]["aggregate"]["command"],
    "systemd": unit_args("tallywire-aggregate.service"),
}
with open(f"{src}/deploy/docker/Dockerfile") as f:
    cmd_line = next(l for l in f if l.startswith("CMD "))
arg_sets["dockerfile"] = yaml.safe_load(cmd_line[4:])


def localize(args, port):
    out = []
    for a in args:
        a = a.replace("/etc/tallywire/", f"{src}/deploy/config/")
        out.append(f"127.0.0.1:{port}" if a.endswith(":8080") else a)
    return out


# The topics the services expect, created as the compose file does.
if brokers:
    topics_cmd = localize(compose["services"]["topics"]["command"], 0)
    r = subprocess.run([binary] + topics_cmd + ["-X", f"bootstrap.servers={brokers}"],
                       capture_output=True, text=True)
    check(r.returncode == 0 and "alerts" in r.stdout, f"compose topics command ({r.stderr.strip()[:200]})")

for i, (where, args) in enumerate(arg_sets.items()):
    check(args[0] == "aggregate", f"{where}: runs aggregate")
    local = localize(args, 18480 + i)
    r = subprocess.run([binary] + local + ["--print-config"], capture_output=True, text=True)
    check(r.returncode == 0 and "bootstrap.servers=kafka:9092" in r.stdout,
          f"{where}: flags and config accepted ({r.stderr.strip()[:200]})")
    if not brokers:
        continue
    # Start it for real against the test broker: only the bootstrap differs.
    # stderr to a file, not a pipe nobody reads until the end: a busy broker
    # (a thousand races defined) logs more than a pipe holds, and the
    # service would block on its log instead of stopping.
    errfile = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([binary] + local + ["-X", f"bootstrap.servers={brokers}",
                                                "--group", f"deploy-check-{os.getpid()}-{i}"],
                            stdout=subprocess.DEVNULL, stderr=errfile, text=True)
    healthy = False
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{18480 + i}/healthz", timeout=1) as resp:
                healthy = resp.status == 200
                break
        except Exception:
            time.sleep(0.1)
    proc.terminate()
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = -9
    errfile.seek(0)
    err = errfile.read()
    check(healthy, f"{where}: service up, /healthz 200")
    check(code == 0, f"{where}: SIGTERM exits 0 (got {code}) {err[-300:] if code else ''}")

# 3. systemd units verify (with the binary path pointed at this build).
if shutil.which("systemd-analyze"):
    tmp = tempfile.mkdtemp()
    for name in ("tallywire-aggregate.service", "tallywire-alerts.service"):
        text = open(f"{src}/deploy/systemd/{name}").read().replace("/usr/local/bin/tallywire", binary)
        path = os.path.join(tmp, name)
        open(path, "w").write(text)
        r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
        problems = [l for l in (r.stdout + r.stderr).splitlines() if name in l]
        check(r.returncode == 0 and not problems, f"systemd-analyze verify {name} {problems}")
else:
    print("skip systemd-analyze: not installed")

sys.exit(1 if failures else 0)
