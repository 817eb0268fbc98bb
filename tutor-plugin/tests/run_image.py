"""Runs the `cairn` image the plugin's Dockerfile describes, as far as a machine without a
container engine can, against the real local services (scripts/services).

- The image: the Dockerfile is rendered by Tutor; its runtime stage (the last) is carried
  out step by step. `FROM debian:bookworm-slim` is a Debian 12 root made by debootstrap
  (minbase); each `RUN` runs in it with chroot, as root; `COPY --from=build` takes the
  `cairn` binary that `cargo build --locked -p cairn-cli` made here (the build stage's
  command without `--release`, on this Debian 12 with the same Rust); `USER`, `WORKDIR`,
  `ENV`, `ENTRYPOINT` and `CMD` are kept for the containers.
- The containers: the services and the job of the rendered `docker-compose.yml`, each in a
  mount namespace of its own (unshare) with their volumes bind-mounted (read-only where
  compose says `:ro`), chrooted into the image as its user, with the image's environment
  and working directory: the `cairn-job` runs the init task's `cairn migrate up`;
  `cairn-serve` answers its compose health check (curl inside the container) and
  /healthz; `cairn-ingest` follows the tracking log on the LMS's log volume, passes its
  health check (`cairn status`), and is stopped (SIGTERM, as `docker stop`) and started
  again while the log grows, losing and repeating nothing.

Not emulated: image layers and caches, the network (containers share the host's, so the
services are reached on 127.0.0.1 through the Tutor settings), the git stage, a release
build. Needs root (debootstrap, chroot, mounts).

    python tutor-plugin/tests/run_image.py   # with the venv of scripts/test-tutor
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

import yaml
from dockerfile_parse import DockerfileParser

CHECKOUT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TUTOR = os.path.join(os.path.dirname(sys.executable), "tutor")
DATABASE = "cairn_test_image"
MIRROR = os.environ.get("CAIRN_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DOCKER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def say(msg: str) -> None:
    print(f"run-image: {msg}", flush=True)


def fail(msg: str) -> None:
    raise SystemExit(f"run-image: FAILED: {msg}")


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, **kw)


# --- The local services ---------------------------------------------------------------


@dataclass
class Services:
    host: str
    http_port: int
    port: int
    user: str
    password: str
    mysql_host: str
    mysql_port: int
    mysql_user: str
    mysql_password: str

    @staticmethod
    def from_config(path: str) -> "Services":
        with open(path, "rb") as f:
            c = tomllib.load(f)

        def secret(name: str) -> str:
            if f"{name}_FILE" in c:
                with open(c[f"{name}_FILE"], encoding="utf-8") as f:
                    return f.read().strip()
            return str(c.get(name, ""))

        return Services(
            host=c["CAIRN_CLICKHOUSE_HOST"],
            http_port=int(c["CAIRN_CLICKHOUSE_HTTP_PORT"]),
            port=int(c["CAIRN_CLICKHOUSE_PORT"]),
            user=c.get("CAIRN_CLICKHOUSE_USERNAME", "default"),
            password=secret("CAIRN_CLICKHOUSE_PASSWORD"),
            mysql_host=c["MYSQL_HOST"],
            mysql_port=int(c["MYSQL_PORT"]),
            mysql_user=c["OPENEDX_MYSQL_USERNAME"],
            mysql_password=secret("OPENEDX_MYSQL_PASSWORD"),
        )

    def query(self, sql: str, database: str | None = None) -> str:
        params = {"query": sql}
        if database:
            params["database"] = database
        req = urllib.request.Request(
            f"http://{self.host}:{self.http_port}/?{urllib.parse.urlencode(params)}",
            method="POST",
            headers={"X-ClickHouse-User": self.user, "X-ClickHouse-Key": self.password},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read().decode()


# --- The image ------------------------------------------------------------------------


@dataclass
class Image:
    rootfs: str
    user: str = "root"
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)

    def ids(self) -> tuple[int, int, str]:
        """uid, gid and home of the image's user, from its /etc/passwd."""
        with open(os.path.join(self.rootfs, "etc/passwd"), encoding="utf-8") as f:
            for line in f:
                name, _, uid, gid, _, home, _ = line.rstrip("\n").split(":")
                if self.user in (name, uid):
                    return int(uid), int(gid), home
        fail(f"USER {self.user}: no such user in the image")
        raise AssertionError

    def environment(self, extra: dict[str, str]) -> dict[str, str]:
        _, _, home = self.ids()
        return {"PATH": DOCKER_PATH, "HOSTNAME": "cairn", "HOME": home, **self.env, **extra}


def host_path(rootfs: str, path: str) -> str:
    return os.path.join(rootfs, path.lstrip("/"))


def chroot_run(rootfs: str, cmd: str, env: dict[str, str], workdir: str) -> None:
    script = f"mount -t proc proc {shlex.quote(host_path(rootfs, '/proc'))} && exec chroot {shlex.quote(rootfs)} " + " ".join(
        shlex.quote(a)
        for a in ["/usr/bin/env", "-i", *[f"{k}={v}" for k, v in env.items()], "/bin/sh", "-c", f"cd {shlex.quote(workdir)} && {cmd}"]
    )
    run("unshare", "--mount", "--fork", "--", "/bin/sh", "-c", script)


def build_runtime(dockerfile: str, rootfs: str, cairn_bin: str) -> Image:
    parser = DockerfileParser(path=dockerfile)
    structure = parser.structure
    starts = [n for n, i in enumerate(structure) if i["instruction"] == "FROM"]
    stage = structure[starts[-1] :]
    base = stage[0]["value"]
    if base != "docker.io/library/debian:bookworm-slim":
        fail(f"the runtime stage is FROM {base}; this emulation makes Debian bookworm only")
    say(f"FROM {base}: debootstrap --variant=minbase bookworm {rootfs}")
    t = time.monotonic()
    run("debootstrap", "--variant=minbase", "bookworm", rootfs, MIRROR, stdout=subprocess.DEVNULL)
    say(f"  {time.monotonic() - t:.0f} s")
    shutil.copy("/etc/resolv.conf", host_path(rootfs, "/etc/resolv.conf"))
    image = Image(rootfs=rootfs)
    for ins in stage[1:]:
        kind, value = ins["instruction"], ins["value"]
        say(f"{kind} {value}")
        t = time.monotonic()
        if kind == "RUN":
            if image.user not in ("root", "0"):
                fail("RUN as another user than root is not emulated")
            chroot_run(rootfs, value, {"PATH": DOCKER_PATH, "HOME": "/root", **image.env}, image.workdir)
        elif kind == "COPY":
            args = shlex.split(value)
            flags = [a for a in args if a.startswith("--")]
            paths = [a for a in args if not a.startswith("--")]
            if flags != ["--from=build"] or paths != ["/usr/local/bin/cairn", "/usr/local/bin/cairn"]:
                fail(f"COPY {value}: only the build stage's binary is emulated")
            dest = host_path(rootfs, paths[1])
            shutil.copy(cairn_bin, dest)
            os.chmod(dest, 0o755)
        elif kind == "USER":
            image.user = value
            image.ids()
        elif kind == "WORKDIR":
            image.workdir = value
            os.makedirs(host_path(rootfs, value), exist_ok=True)
        elif kind == "ENV":
            for pair in shlex.split(value):
                k, _, v = pair.partition("=")
                image.env[k] = v
        elif kind == "ENTRYPOINT":
            image.entrypoint = json.loads(value)
        elif kind == "CMD":
            image.cmd = json.loads(value)
        else:
            fail(f"{kind} is not emulated")
        if kind == "RUN":
            say(f"  {time.monotonic() - t:.0f} s")
    return image


# --- Containers -----------------------------------------------------------------------


class Container:
    """A compose service run from the image: its own mount namespace with the service's
    volumes, chrooted into the image as the image's user."""

    def __init__(self, image: Image, service: dict, compose_dir: str, argv: list[str] | None = None, ports: dict[str, str] | None = None):
        self.image = image
        self.name = service.get("container_name", "container")
        entrypoint = service.get("entrypoint", image.entrypoint)
        command = argv if argv is not None else service.get("command", image.cmd)
        self.argv = list(entrypoint) + list(command)
        self.env = image.environment({k: str(v) for k, v in (service.get("environment") or {}).items()})
        self.mounts: list[tuple[str, str, bool]] = []
        for v in service.get("volumes", []):
            parts = v.split(":")
            src = os.path.normpath(os.path.join(compose_dir, parts[0]))
            self.mounts.append((src, parts[1], len(parts) > 2 and parts[2] == "ro"))
        self.proc: subprocess.Popen | None = None

    def _script(self, argv: list[str]) -> str:
        rootfs = self.image.rootfs
        lines = [f"mount -t proc proc {shlex.quote(host_path(rootfs, '/proc'))}"]
        for src, dst, ro in self.mounts:
            target = host_path(rootfs, dst)
            if os.path.isdir(src):
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                open(target, "a").close()
            lines.append(f"mount --bind {shlex.quote(src)} {shlex.quote(target)}")
            if ro:
                lines.append(f"mount -o remount,bind,ro {shlex.quote(target)}")
        uid, gid, _ = self.image.ids()
        inner = f"cd {shlex.quote(self.image.workdir)} && exec " + " ".join(shlex.quote(a) for a in argv)
        chroot = ["chroot", f"--userspec={uid}:{gid}", rootfs, "/usr/bin/env", "-i"]
        chroot += [f"{k}={v}" for k, v in self.env.items()] + ["/bin/sh", "-c", inner]
        lines.append("exec " + " ".join(shlex.quote(a) for a in chroot))
        return " && ".join(lines)

    def start(self) -> "Container":
        if os.environ.get("CAIRN_RUN_IMAGE_DEBUG"):
            say(self._script(self.argv))
        self.proc = subprocess.Popen(["unshare", "--mount", "--fork", "--kill-child=SIGTERM", "--", "/bin/sh", "-c", self._script(self.argv)])
        return self

    def run(self, timeout: float = 120) -> int:
        """Runs to the end (a job)."""
        p = subprocess.run(["unshare", "--mount", "--fork", "--", "/bin/sh", "-c", self._script(self.argv)], timeout=timeout, check=False)
        return p.returncode

    def _pid(self) -> int:
        """The process inside the container (the child of unshare), once it is in the image."""
        assert self.proc is not None
        rootfs = os.path.realpath(self.image.rootfs)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                fail(f"{self.argv}: exited ({self.proc.returncode})")
            try:
                with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children", encoding="utf-8") as f:
                    children = f.read().split()
                if children and os.readlink(f"/proc/{children[0]}/root") == rootfs:
                    return int(children[0])
            except OSError:
                pass
            if time.monotonic() > deadline:
                fail(f"{self.argv}: not running in the image after 10 s")
            time.sleep(0.05)

    def exec(self, argv: list[str], timeout: float = 30) -> subprocess.CompletedProcess:
        """`docker exec`: in the container's mount namespace and root, as its user."""
        uid, gid, _ = self.image.ids()
        cmd = ["nsenter", "-t", str(self._pid()), "-m", "-r", f"-S{uid}", f"-G{gid}", "/usr/bin/env", "-i"]
        cmd += [f"{k}={v}" for k, v in self.env.items()]
        cmd += ["/bin/sh", "-c", f"cd {shlex.quote(self.image.workdir)} && exec " + " ".join(shlex.quote(a) for a in argv)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)

    def healthy(self, healthcheck: dict, within: float) -> subprocess.CompletedProcess:
        test = healthcheck["test"]
        if test[0] != "CMD":
            fail(f"health check {test}: only the CMD form is emulated")
        deadline = time.monotonic() + within
        while True:
            r = self.exec(test[1:])
            if r.returncode == 0 or time.monotonic() > deadline:
                return r
            time.sleep(0.5)

    def stop(self) -> int:
        """`docker stop`: SIGTERM, then wait."""
        assert self.proc is not None
        if self.proc.poll() is None:
            try:
                os.kill(self._pid(), 15)
            except SystemExit:
                self.proc.terminate()  # unshare passes SIGTERM on (--kill-child)
                raise
        return self.proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tracking_line(i: int) -> str:
    secs = 1_767_600_000 + i
    t = time.gmtime(secs)
    event = {
        "name": "play_video",
        "context": {"user_id": i % 5 + 1, "course_id": "course-v1:Image+Test+Run", "org_id": "Image"},
        "username": f"learner{i % 5 + 1}",
        "event": json.dumps({"id": "v1", "currentTime": i}),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".000000+00:00",
        "event_type": "play_video",
        "event_source": "browser",
    }
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', t)},000 INFO 7 [tracking] [user 1] [ip 10.0.0.1] logger.py:41 - {json.dumps(event)}\n"


def append(path: str, lines: range) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(tracking_line(i) for i in lines))


def wait_count(svc: Services, n: int, within: float) -> int:
    deadline = time.monotonic() + within
    while True:
        got = int(svc.query("SELECT count() FROM _events", DATABASE).strip() or 0)
        if got >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def main() -> None:
    if os.geteuid() != 0:
        fail("needs root (debootstrap, chroot, mount namespaces)")
    cairn_bin = os.environ.get("CAIRN_BIN", os.path.join(CHECKOUT, "target", "debug", "cairn"))
    svc = Services.from_config(os.environ.get("CAIRN_CONFIG", os.path.join(CHECKOUT, ".cairn", "cairn.toml")))
    work = tempfile.mkdtemp(prefix="cairn-image-", dir=os.path.join(CHECKOUT, ".cairn"))
    try:
        # Tutor renders the plugin with the local services as the platform's.
        root = os.path.join(work, "tutor")
        env = dict(os.environ, TUTOR_ROOT=root)
        run(TUTOR, "plugins", "enable", "cairnlake", env=env, stdout=subprocess.DEVNULL)
        settings = {
            "CAIRN_RUN_CLICKHOUSE": "false",
            "CAIRN_CLICKHOUSE_HOST": svc.host,
            "CAIRN_CLICKHOUSE_HTTP_PORT": str(svc.http_port),
            "CAIRN_CLICKHOUSE_PORT": str(svc.port),
            "CAIRN_CLICKHOUSE_USERNAME": svc.user,
            "CAIRN_CLICKHOUSE_PASSWORD": svc.password,
            "CAIRN_CLICKHOUSE_DATABASE": DATABASE,
            "MYSQL_HOST": svc.mysql_host,
            "MYSQL_PORT": str(svc.mysql_port),
            "CAIRN_MYSQL_USERNAME": svc.mysql_user,
            "CAIRN_MYSQL_PASSWORD": svc.mysql_password,
        }
        args = [TUTOR, "config", "save"]
        for k, v in settings.items():
            args += ["--set", f"{k}={v}"]
        run(*args, env=env, stdout=subprocess.DEVNULL)
        compose_dir = os.path.join(root, "env", "local")
        with open(os.path.join(compose_dir, "docker-compose.yml"), encoding="utf-8") as f:
            services = yaml.safe_load(f)["services"]
        with open(os.path.join(compose_dir, "docker-compose.jobs.yml"), encoding="utf-8") as f:
            jobs = yaml.safe_load(f)["services"]

        image = build_runtime(os.path.join(root, "env", "plugins", "cairnlake", "build", "cairn", "Dockerfile"), os.path.join(work, "rootfs"), cairn_bin)

        # The image: the binary for an unprivileged user, no toolchain.
        uid, gid, home = image.ids()
        if (uid, gid) != (1000, 1000):
            fail(f"the image's user is {uid}:{gid}; the Kubernetes manifests run it as 1000:1000")
        st = os.stat(host_path(image.rootfs, home))
        if (st.st_uid, st.st_gid) != (uid, gid):
            fail(f"{home} is not the user's")
        for tool in ("cargo", "rustc", "gcc", "npm"):
            for d in DOCKER_PATH.split(":"):
                if os.path.exists(host_path(image.rootfs, f"{d}/{tool}")):
                    fail(f"{d}/{tool} is in the runtime image")
        say(f"the image: user {image.user} ({uid}:{gid}, home {home}), workdir {image.workdir}, entrypoint {image.entrypoint}, cmd {image.cmd}")

        svc.query(f"DROP DATABASE IF EXISTS {DATABASE}")
        svc.query(f"CREATE DATABASE {DATABASE}")

        # The init task, as Tutor runs it in the job: `sh -e -c SCRIPT` with entrypoint [].
        with open(os.path.join(CHECKOUT, "tutor-plugin", "tutorcairnlake", "templates", "cairnlake", "tasks", "cairn", "init"), encoding="utf-8") as f:
            task = [line for line in f.read().splitlines() if line.startswith("cairn migrate up")]
        if task != ["cairn migrate up"]:
            fail(f"the init task's migrate line: {task}")
        job = Container(image, jobs["cairn-job"], compose_dir, argv=["sh", "-e", "-c", task[0]])
        if job.run() != 0:
            fail("cairn-job: cairn migrate up failed")
        tables = svc.query("SELECT name FROM system.tables WHERE database = currentDatabase() AND name = '_events'", DATABASE).split()
        if tables != ["_events"]:
            fail("cairn migrate up in the job made no _events table")
        say("cairn-job: cairn migrate up: ok")

        # cairn-serve: its command on a free port, its health check inside, /healthz outside.
        serve = services["cairn-serve"]
        port = free_port()
        command = [a.replace("0.0.0.0:2247", f"0.0.0.0:{port}") for a in serve["command"]]
        if command == serve["command"]:
            fail(f"cairn-serve's command {serve['command']} does not listen on 0.0.0.0:2247")
        check = dict(serve["healthcheck"], test=[a.replace(":2247/", f":{port}/") for a in serve["healthcheck"]["test"]])
        c = Container(image, serve, compose_dir, argv=command).start()
        try:
            r = c.healthy(check, within=30)
            if r.returncode != 0:
                fail(f"cairn-serve: health check {check['test']}: {r.returncode} {r.stderr}")
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
                if resp.status != 200:
                    fail(f"/healthz: {resp.status}")
            say(f"cairn-serve: health check {check['test'][1:]} passes inside; /healthz 200")
        finally:
            t = time.monotonic()
            rc = c.stop()
        if rc != 0:
            fail(f"cairn-serve: exit {rc} on SIGTERM (docker stop), expected 0")
        say(f"cairn-serve: SIGTERM (docker stop): exit 0 in {time.monotonic() - t:.1f} s")

        # cairn-ingest: follows the log volume, restarts losing and repeating nothing.
        ingest = services["cairn-ingest"]
        logs = next(src for src, dst, _ in Container(image, ingest, compose_dir).mounts if dst == "/openedx/data/logs")
        os.makedirs(logs, exist_ok=True)
        log = os.path.join(logs, "tracking.log")
        append(log, range(0, 200))
        c = Container(image, ingest, compose_dir).start()
        try:
            if (n := wait_count(svc, 200, 30)) != 200:
                fail(f"cairn-ingest: {n} events stored of 200")
            r = c.healthy(ingest["healthcheck"], within=10)
            if r.returncode != 0:
                fail(f"cairn-ingest: health check: {r.returncode} {r.stdout} {r.stderr}")
            append(log, range(200, 300))
            if (n := wait_count(svc, 300, 10)) != 300:
                fail(f"cairn-ingest: {n} events stored of 300 while following")
        finally:
            rc = c.stop()
        if rc != 0:
            fail(f"cairn-ingest: exit {rc} on SIGTERM (docker stop), expected 0")
        say("cairn-ingest: 300 events followed, health check passes; SIGTERM: exit 0")
        append(log, range(300, 450))
        c = Container(image, ingest, compose_dir).start()
        try:
            n = wait_count(svc, 450, 30)
            time.sleep(2)  # anything repeated would show up now
            n = int(svc.query("SELECT count() FROM _events", DATABASE))
            distinct = int(svc.query("SELECT uniqExact(position) FROM _events", DATABASE))
        finally:
            c.stop()
        if (n, distinct) != (450, 450):
            fail(f"cairn-ingest after a restart: {n} events, {distinct} distinct, expected 450")
        say("cairn-ingest: started again, 450 events stored once each")
        svc.query(f"DROP DATABASE {DATABASE}")
        say("all passed")
    finally:
        if not os.environ.get("CAIRN_RUN_IMAGE_DEBUG"):
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
