"""`pcr dashboard` as a server process, and the deployment in deploy/, checked without a
container runtime.

`pcr dashboard` owns its Streamlit server: SIGTERM to the command stops the server and frees
the port, and a port already taken is refused before anything is printed as served. The
deployment's files parse and agree with one another (image, compose file, proxy, timer,
example secrets and roles), its entry point refuses missing mounts with a message naming them,
and the dashboards start with the deployment's own settings (sign-in configured, the
published database read-only) and answer the image's health check."""
from __future__ import annotations

import configparser
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import yaml

from access.scope import load_roles
from e2e.support import PROJECT, build_published_db, free_port, serving
from pcr.commands import dashboard
from reports.grants import load_grants

DEPLOY = PROJECT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
DOCKERFILE = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
SERVICES = COMPOSE["services"]


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    return build_published_db(tmp_path_factory.getbasetemp() / "dashboard_db", motions=1500)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while not serving(url):
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.3)


# --- pcr dashboard owns its server -------------------------------------------------------------------

def test_sigterm_to_pcr_dashboard_stops_its_server(published, tmp_path):
    """The README's quick start (no authentication), stopped as a service manager stops it."""
    port, log = free_port(), tmp_path / "dashboard.log"
    env = {k: v for k, v in os.environ.items() if k not in ("PCR_ROLES_FILE", "PCR_SECRETS_FILE")}
    process = start([sys.executable, "-m", "pcr.cli", "dashboard", "--port", str(port), "--db", str(published)],
                    dict(env, PCR_DATA_DIR=str(tmp_path / "var")), log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_serving(url, process, log)
        deadline = time.monotonic() + 10
        while f"PCR dashboards on {url}" not in log.read_text():  # printed once it serves
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        servers = children(process.pid)
        assert len(servers) == 1 and "streamlit" in Path(f"/proc/{servers[0]}/cmdline").read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while alive(servers[0]):
            assert time.monotonic() < deadline, "the Streamlit server outlived pcr dashboard"
            time.sleep(0.2)
        assert not serving(url) and dashboard.port_taken("127.0.0.1", port) is None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


def test_a_taken_port_is_refused_before_anything_is_printed_as_served(published, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "pcr.cli", "dashboard", "--port", str(port), "--db", str(published)],
                                cwd=PROJECT, capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, PCR_DATA_DIR=str(tmp_path / "var")))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1 port {port}: Address already in use" in result.stderr
    assert "PCR dashboards on" not in result.stdout + result.stderr and "URL:" not in result.stdout


# --- the image -------------------------------------------------------------------------------------

def instructions(dockerfile: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n\s*", " ", dockerfile)
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line.strip() else "")
            for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_is_slim_python_non_root_with_a_health_check_and_no_secrets():
    steps = instructions(DOCKERFILE)
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [arg for op, arg in steps if op == "USER"]
    assert users and users[-1] not in ("root", "0") and re.fullmatch(r"[a-z]+", users[-1])
    assert [i for i, (op, _) in enumerate(steps) if op == "USER"][-1] > max(i for i, (op, _) in enumerate(steps) if op == "RUN")
    copied = [arg.split()[:-1] for op, arg in steps if op == "COPY"]
    sources = [s for group in copied for s in group]
    assert "." not in sources and "./" not in sources, "the whole context would carry secrets into the image"
    for source in sources:
        assert (PROJECT / source).exists(), f"COPY {source}: not in the repository"
        assert not re.search(r"secrets|\.key$|roles\.yml$|\.env$", source), source
    health = next(arg for op, arg in steps if op == "HEALTHCHECK")
    assert 'CMD ["pcr-healthcheck"]' in health and ["deploy/healthcheck.py", "/usr/local/bin/pcr-healthcheck"] in [
        arg.split() for op, arg in steps if op == "COPY"]
    assert dashboard.HEALTH_PATH in (DEPLOY / "healthcheck.py").read_text()
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert ignore[[i for i, line in enumerate(ignore) if not line.startswith("#")][0]] == "**"  # everything out first
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert {s.rstrip("/") for s in sources} <= allowed
    assert {"**/secrets.toml", "**/*.key"} <= set(ignore)


# --- the compose file, the proxy, the schedule -----------------------------------------------------------

def mounts(service: str) -> dict[str, str]:
    """Container path -> source[:mode] of a service's volumes."""
    return {v.split(":")[1] if not v.startswith("$") else v.rsplit(":", 2)[1]: v for v in SERVICES[service]["volumes"]}


def test_compose_serves_the_published_database_read_only_and_runs_the_pipeline_once_per_schedule():
    assert set(SERVICES) == {"dashboard", "pipeline", "proxy"}
    dash, pipe = SERVICES["dashboard"], SERVICES["pipeline"]
    published_dir = str(Path(dash["environment"]["PCR_DB"]).parent)
    assert mounts("dashboard")[published_dir] == f"pcr-data:{published_dir}:ro"
    assert mounts("pipeline")[pipe["environment"]["PCR_DATA_DIR"]].startswith("pcr-data:")
    assert Path(dash["environment"]["PCR_DB"]).name == "pcr.duckdb"  # what pcr run publishes in PCR_DATA_DIR
    assert mounts("dashboard")[dash["environment"]["PCR_DATA_DIR"]].split(":")[0] != "pcr-data", "the access log needs a writable volume"
    assert mounts("pipeline")[pipe["environment"]["PCR_EXPORTS_DIR"]].endswith(":ro")
    assert pipe["restart"] == "no" and pipe["profiles"] == ["pipeline"] and pipe["command"] == ["pipeline"]
    assert dash["command"] == ["dashboard"] and dash["healthcheck"]["test"] == ["CMD", "pcr-healthcheck"]
    for service in (dash, pipe):
        assert service["user"] == "10001:10001" and service["cap_drop"] == ["ALL"]


def test_secrets_are_mounted_files_never_values_in_the_compose_file():
    declared = COMPOSE["secrets"]
    ignored = (DEPLOY / ".gitignore").read_text().splitlines()
    for name, secret in declared.items():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/"), name
    assert "/secrets/" in ignored and "/.env" in ignored
    expected = {"dashboard": {"PCR_SECRETS_FILE", "PCR_ROLES_FILE"}, "pipeline": {"PCR_HMAC_KEY_FILE"}}
    for service, variables in expected.items():
        environment = SERVICES[service]["environment"]
        listed = {f"/run/secrets/{name}" for name in SERVICES[service]["secrets"]}
        assert {environment[v] for v in variables} == listed, service
    assert "pcr_hmac_key" not in SERVICES["dashboard"]["secrets"]  # the dashboards never hash
    text = (DEPLOY / "compose.yaml").read_text()
    assert not re.search(r"(?i)(cookie_secret|client_secret|password)\s*[:=]", text)


def test_the_proxy_terminates_tls_and_passes_websockets_to_the_dashboard():
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    body = "\n".join(line for line in caddyfile.splitlines() if not line.lstrip().startswith("#"))
    assert body.count("{") - body.count("{$") == body.count("}") - body.count("{$")
    port = SERVICES["dashboard"]["environment"]["PCR_PORT"]
    assert re.search(rf"reverse_proxy dashboard:{port} \{{", body) and f"health_uri {dashboard.HEALTH_PATH}" in body
    assert "{$PCR_DOMAIN} {" in body and "PCR_DOMAIN" in SERVICES["proxy"]["environment"]
    assert {"80:80", "443:443"} <= set(SERVICES["proxy"]["ports"])
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in SERVICES["proxy"]["volumes"]
    # No path, header or matcher rewrites the websocket's upgrade: the whole site goes to one upstream.
    assert body.count("reverse_proxy") == 1 and "header_up" not in body


def test_the_timer_runs_the_pipeline_service():
    service = configparser.ConfigParser(interpolation=None)
    service.read(DEPLOY / "systemd" / "pcr-pipeline.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].split()[1:] == ["compose", "--profile", "pipeline", "run", "--rm", "pipeline"]
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(DEPLOY / "systemd" / "pcr-pipeline.timer")
    assert timer["Timer"]["Persistent"] == "true" and timer["Install"]["WantedBy"] == "timers.target"
    if shutil.which("systemd-analyze"):
        check = subprocess.run(["systemd-analyze", "calendar", timer["Timer"]["OnCalendar"]], capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


def test_example_secrets_and_roles_are_what_streamlit_and_the_app_accept(tmp_path, monkeypatch):
    import streamlit as st
    from streamlit import auth_util
    from streamlit.runtime.secrets import Secrets

    secrets_file = DEPLOY / "secrets.example.toml"
    auth = tomllib.loads(secrets_file.read_text())["auth"]
    assert auth["redirect_uri"].startswith("https://") and auth["redirect_uri"].endswith("/oauth2callback")
    previous = st.config.get_option("secrets.files")
    st.config.set_option("secrets.files", [str(secrets_file)])
    try:
        monkeypatch.setattr(auth_util, "secrets_singleton", Secrets())
        auth_util.validate_auth_credentials("default")  # Streamlit's own check of [auth]
    finally:
        st.config.set_option("secrets.files", previous)
    roles = load_roles(DEPLOY / "roles.example.yml")
    grants = load_grants(PROJECT / "config" / "grants.example.yml")
    roles.check_grants(grants.grants, grants.path)
    assert roles.email_domains and {e.role.value for e in roles.users.values()} == {"program_manager", "partner", "funder"}


# --- the entry point ------------------------------------------------------------------------------

def entrypoint(*argv: str, env: dict[str, str], timeout: int = 60) -> subprocess.CompletedProcess:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # `pcr` as installed
    return subprocess.run(["sh", str(DEPLOY / "entrypoint.sh"), *argv], capture_output=True, text=True, timeout=timeout,
                          env=dict(env, PATH=path), cwd=PROJECT)


def deployment_env(service: str, root: Path, **mapped: str) -> dict[str, str]:
    """The service's environment from compose.yaml, its container paths mapped under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCR_")}
    for name, value in SERVICES[service]["environment"].items():
        env[name] = mapped.get(name, str(root / value.lstrip("/")) if value.startswith("/") else value)
    return env


def test_the_entry_point_names_each_missing_mount_and_never_makes_a_key(tmp_path):
    env = deployment_env("dashboard", tmp_path)
    result = entrypoint("dashboard", env=env)
    assert result.returncode == 78 and "the Streamlit secrets file with the [auth] section is not mounted" in result.stderr
    Path(env["PCR_SECRETS_FILE"]).parent.mkdir(parents=True)
    Path(env["PCR_SECRETS_FILE"]).write_text("[server]\nport = 1\n")
    result = entrypoint("dashboard", env=env)
    assert result.returncode == 78 and "the roles file is not mounted" in result.stderr
    shutil.copy(DEPLOY / "roles.example.yml", env["PCR_ROLES_FILE"])
    result = entrypoint("dashboard", env=env)
    assert result.returncode == 78 and "has no [auth] section" in result.stderr
    shutil.copy(DEPLOY / "secrets.example.toml", env["PCR_SECRETS_FILE"])
    result = entrypoint("dashboard", env=env)
    assert result.returncode == 78 and f"no published database at {env['PCR_DB']}" in result.stderr

    env = deployment_env("pipeline", tmp_path)
    result = entrypoint("pipeline", env=env)
    assert result.returncode == 78 and "the HMAC key is not mounted" in result.stderr
    assert not Path(env["PCR_HMAC_KEY_FILE"]).exists()
    assert entrypoint("shell", env=env).returncode == 78


def test_the_dashboards_start_with_the_deployments_settings(published, tmp_path):
    """compose.yaml's environment, example secrets and roles, the database in a read-only
    folder; the image's health check passes, and SIGTERM (docker stop) ends it."""
    port = free_port()
    env = deployment_env("dashboard", tmp_path, PCR_PORT=str(port))
    for variable, example in (("PCR_SECRETS_FILE", DEPLOY / "secrets.example.toml"),
                              ("PCR_ROLES_FILE", DEPLOY / "roles.example.yml"),
                              ("PCR_GRANTS_FILE", PROJECT / "config" / "grants.example.yml")):
        Path(env[variable]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(example, env[variable])
    database = Path(env["PCR_DB"])
    database.parent.mkdir(parents=True)
    shutil.copy(published, database)
    database.parent.chmod(stat.S_IRUSR | stat.S_IXUSR)  # mounted :ro
    before = sorted(p.name for p in database.parent.iterdir())
    log = tmp_path / "entrypoint.log"
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    process = start(["sh", str(DEPLOY / "entrypoint.sh"), "dashboard"], dict(env, PATH=path), log)
    health = [sys.executable, str(DEPLOY / "healthcheck.py")]
    try:
        wait_serving(f"http://127.0.0.1:{port}", process, log)
        assert subprocess.run(health, env=env, timeout=30).returncode == 0
        assert f"PCR dashboards on every interface, port {port}" in log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 1
        assert "Traceback" not in log.read_text()
        assert sorted(p.name for p in database.parent.iterdir()) == before  # nothing written beside it (root could)
    finally:
        database.parent.chmod(stat.S_IRWXU)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
