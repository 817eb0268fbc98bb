"""The cairnlake Tutor plugin, rendered by the real Tutor (from PyPI) into temporary roots.

Run with the Python of a venv holding Tutor and the plugin (scripts/test-tutor does it):

    python -m unittest discover -s tutor-plugin/tests -v

CAIRN_BIN names a `cairn` binary: the rendered cairn.toml must be a configuration it
accepts (`cairn config show`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import tomllib
import unittest

import yaml
from dockerfile_parse import DockerfileParser

TUTOR = [os.path.join(os.path.dirname(sys.executable), "tutor")]


def tutor(root: str, *args: str) -> str:
    env = dict(os.environ, TUTOR_ROOT=root)
    r = subprocess.run(TUTOR + list(args), env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise AssertionError(f"tutor {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r.stdout


def read(root: str, *path: str) -> str:
    with open(os.path.join(root, "env", *path), encoding="utf-8") as f:
        return f.read()


def docs(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind_name(manifests: list[dict]) -> dict[tuple[str, str], dict]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


class Rendered(unittest.TestCase):
    """One root with the defaults, one with overrides."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = os.path.join(cls.tmp.name, "default")
        cls.custom = os.path.join(cls.tmp.name, "custom")
        for root in (cls.root, cls.custom):
            tutor(root, "plugins", "enable", "cairnlake")
        tutor(cls.root, "config", "save", "--set", "LMS_HOST=learn.example.org")
        tutor(
            cls.custom,
            "config",
            "save",
            "--set",
            "LMS_HOST=learn.example.org",
            "--set",
            "CAIRN_HOST=analytics.example.org",
            "--set",
            "CAIRN_RUN_CLICKHOUSE=false",
            "--set",
            "CAIRN_CLICKHOUSE_HOST=ch.internal",
            "--set",
            "CAIRN_ENABLE_SSO=false",
            "--set",
            "CAIRN_MIGRATIONS_FOLDERS=['/srv/cairn-migrations']",
            "--set",
            "ENABLE_HTTPS=true",
        )

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def config(self, root: str) -> dict:
        with open(os.path.join(root, "config.yml"), encoding="utf-8") as f:
            return yaml.safe_load(f)

    # Settings

    def test_secrets_are_generated_once_and_kept(self) -> None:
        c = self.config(self.root)
        for name in [
            "CAIRN_CLICKHOUSE_PASSWORD",
            "CAIRN_SSO_CLIENT_SECRET",
            "CAIRN_LMS_CLIENT_SECRET",
            "CAIRN_MYSQL_PASSWORD",
            "CAIRN_RETIREMENT_KEY",
            "CAIRN_EXPLORER_KEY",
        ]:
            self.assertGreaterEqual(len(c[name]), 24, name)
        self.assertNotEqual(c["CAIRN_CLICKHOUSE_PASSWORD"], self.config(self.custom)["CAIRN_CLICKHOUSE_PASSWORD"])
        tutor(self.root, "config", "save")
        self.assertEqual(self.config(self.root)["CAIRN_RETIREMENT_KEY"], c["CAIRN_RETIREMENT_KEY"])

    def test_defaults_have_tutor_cairns_names(self) -> None:
        out = tutor(self.root, "config", "printvalue", "CAIRN_HOST")
        self.assertEqual(out.strip(), "data.learn.example.org")
        self.assertEqual(tutor(self.root, "config", "printvalue", "CAIRN_RUN_CLICKHOUSE").strip(), "true")
        self.assertEqual(tutor(self.root, "config", "printvalue", "CAIRN_CLICKHOUSE_HOST").strip(), "cairn-clickhouse")
        self.assertEqual(tutor(self.root, "config", "printvalue", "CAIRN_CLICKHOUSE_DATABASE").strip(), "openedx")
        self.assertEqual(tutor(self.root, "config", "printvalue", "CAIRN_SSO_CLIENT_ID").strip(), "cairn")

    def test_cairn_accepts_the_rendered_configuration(self) -> None:
        for root, host, sso in [(self.root, "cairn-clickhouse", "true"), (self.custom, "ch.internal", "false")]:
            path = os.path.join(root, "env", "plugins", "cairnlake", "apps", "cairn.toml")
            with open(path, "rb") as f:
                t = tomllib.load(f)
            self.assertEqual(t["CAIRN_CLICKHOUSE_HOST"], host)
            self.assertEqual(t["CAIRN_CLICKHOUSE_PASSWORD"], self.config(root)["CAIRN_CLICKHOUSE_PASSWORD"])
            self.assertEqual(t["OPENEDX_MYSQL_USERNAME"], "cairn_reader")
            cairn = os.environ.get("CAIRN_BIN")
            if not cairn:
                self.fail("CAIRN_BIN is not set: the rendered configuration must be checked by cairn itself")
            r = subprocess.run([cairn, "config", "show", "--config", path], capture_output=True, text=True, check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            shown = r.stdout
            self.assertRegex(shown, rf"CAIRN_CLICKHOUSE_HOST\s+=?\s*\"?{re.escape(host)}")
            self.assertRegex(shown, rf"CAIRN_ENABLE_SSO\s+=?\s*\"?{sso}")
            # Secrets are never shown.
            self.assertNotIn(self.config(root)["CAIRN_CLICKHOUSE_PASSWORD"], shown)
        custom = self.custom_toml()
        self.assertEqual(custom["CAIRN_DASHBOARD_URL"], "https://analytics.example.org")
        self.assertEqual(custom["CAIRN_MIGRATIONS_FOLDER"], ["/etc/cairn/migrations/1"])

    def custom_toml(self) -> dict:
        with open(os.path.join(self.custom, "env", "plugins", "cairnlake", "apps", "cairn.toml"), "rb") as f:
            return tomllib.load(f)

    # docker compose (tutor local, tutor dev)

    def test_local_services(self) -> None:
        services = yaml.safe_load(read(self.root, "local", "docker-compose.yml"))["services"]
        ch = services["cairn-clickhouse"]
        self.assertRegex(ch["image"], r"^docker\.io/clickhouse/clickhouse-server:\d+\.\d+$")
        self.assertIn("../../data/cairn/clickhouse:/var/lib/clickhouse", ch["volumes"])
        self.assertEqual(ch["environment"]["CLICKHOUSE_USER"], "openedx")
        self.assertEqual(ch["environment"]["CLICKHOUSE_DEFAULT_ACCESS_MANAGEMENT"], "1")
        self.assertIn("healthcheck", ch)

        ingest = services["cairn-ingest"]
        self.assertEqual(ingest["image"], "docker.io/cairn/cairn:0.1.0")
        self.assertEqual(ingest["command"][:2], ["ingest", "--follow"])
        self.assertEqual(ingest["command"][-1], "/openedx/data/logs/tracking.log")
        self.assertIn("../../data/lms/logs:/openedx/data/logs:ro", ingest["volumes"])
        self.assertIn("../plugins/cairnlake/apps/cairn.toml:/etc/cairn/cairn.toml:ro", ingest["volumes"])
        self.assertEqual(ingest["restart"], "unless-stopped")
        self.assertIn("cairn-clickhouse", ingest["depends_on"])
        self.assertEqual(ingest["healthcheck"]["test"], ["CMD", "cairn", "status"])

        serve = services["cairn-serve"]
        self.assertEqual(serve["command"], ["serve", "--listen", "0.0.0.0:2247"])
        self.assertIn("/readyz", " ".join(serve["healthcheck"]["test"]))
        self.assertIn("../plugins/cairnlake/apps/cairn.toml:/etc/cairn/cairn.toml:ro", serve["volumes"])

        jobs = yaml.safe_load(read(self.root, "local", "docker-compose.jobs.yml"))["services"]
        self.assertEqual(jobs["cairn-job"]["image"], "docker.io/cairn/cairn:0.1.0")
        self.assertEqual(jobs["cairn-job"]["entrypoint"], [])

    def test_without_clickhouse_and_with_migration_folders(self) -> None:
        services = yaml.safe_load(read(self.custom, "local", "docker-compose.yml"))["services"]
        self.assertNotIn("cairn-clickhouse", services)
        self.assertNotIn("cairn-clickhouse", services["cairn-ingest"].get("depends_on", []))
        self.assertIn("/srv/cairn-migrations:/etc/cairn/migrations/1:ro", services["cairn-serve"]["volumes"])
        jobs = yaml.safe_load(read(self.custom, "local", "docker-compose.jobs.yml"))["services"]
        self.assertIn("/srv/cairn-migrations:/etc/cairn/migrations/1:ro", jobs["cairn-job"]["volumes"])

    def test_dev_publishes_the_dashboard(self) -> None:
        services = yaml.safe_load(read(self.root, "dev", "docker-compose.yml"))["services"]
        self.assertIn("2247:2247", services["cairn-serve"]["ports"])

    def test_caddy_serves_the_dashboard_at_cairn_host(self) -> None:
        for root, host in [(self.root, "data.learn.example.org"), (self.custom, "analytics.example.org")]:
            caddy = read(root, "apps", "caddy", "Caddyfile")
            self.assertRegex(caddy, rf"{re.escape(host)}\{{\$default_site_port\}} \{{\s*import proxy \"cairn-serve:2247\"")

    # Kubernetes (tutor k8s)

    def test_k8s_manifests(self) -> None:
        deployments = by_kind_name(docs(read(self.root, "k8s", "deployments.yml")))
        serve = deployments[("Deployment", "cairn-serve")]["spec"]["template"]["spec"]
        container = serve["containers"][0]
        self.assertEqual(container["image"], "docker.io/cairn/cairn:0.1.0")
        self.assertEqual(container["args"], ["serve", "--listen", "0.0.0.0:2247"])
        self.assertEqual(container["livenessProbe"]["httpGet"]["path"], "/healthz")
        self.assertEqual(container["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(serve["securityContext"]["runAsUser"], 1000)
        self.assertEqual(serve["volumes"][0]["configMap"]["name"], "cairn-config")

        ingest = deployments[("DaemonSet", "cairn-ingest")]["spec"]["template"]["spec"]
        args = ingest["containers"][0]["args"]
        self.assertEqual(args[:4], ["ingest", "--follow", "--format", "cri"])
        self.assertEqual(args[-1], "/var/log/containers/lms-*_openedx_lms-*.log")
        self.assertEqual(ingest["volumes"][1]["hostPath"]["path"], "/var/log")

        ch = deployments[("Deployment", "cairn-clickhouse")]["spec"]["template"]["spec"]
        self.assertEqual(ch["volumes"][0]["persistentVolumeClaim"]["claimName"], "cairn-clickhouse")
        self.assertEqual(ch["containers"][0]["readinessProbe"]["httpGet"]["path"], "/ping")

        services = by_kind_name(docs(read(self.root, "k8s", "services.yml")))
        self.assertEqual(services[("Service", "cairn-serve")]["spec"]["ports"][0]["port"], 2247)
        self.assertIn(("Service", "cairn-clickhouse"), services)
        volumes = by_kind_name(docs(read(self.root, "k8s", "volumes.yml")))
        self.assertIn(("PersistentVolumeClaim", "cairn-clickhouse"), volumes)
        jobs = by_kind_name(docs(read(self.root, "k8s", "jobs.yml")))
        job = jobs[("Job", "cairn-job")]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(job["command"], [])
        kustomization = yaml.safe_load(read(self.root, "kustomization.yml"))
        generated = {g["name"]: g for g in kustomization["configMapGenerator"]}
        self.assertEqual(generated["cairn-config"]["files"], ["plugins/cairnlake/apps/cairn.toml"])

        custom = by_kind_name(docs(read(self.custom, "k8s", "deployments.yml")))
        self.assertNotIn(("Deployment", "cairn-clickhouse"), custom)

    # Init tasks and do-commands

    def test_init_tasks(self) -> None:
        tasks = init_tasks(self.root)
        mysql = tasks["mysql"]
        c = self.config(self.root)
        self.assertIn("CREATE USER IF NOT EXISTS 'cairn_reader'@'%'", mysql)
        self.assertIn(f"IDENTIFIED BY '{c['CAIRN_MYSQL_PASSWORD']}'", mysql)
        self.assertIn("GRANT SELECT ON \\`openedx\\`.* TO 'cairn_reader'@'%'", mysql)
        self.assertNotRegex(mysql, r"GRANT (ALL|INSERT|UPDATE|DELETE)")
        lms = tasks["lms"]
        self.assertIn("--redirect-uris \"http://data.learn.example.org/login/lms/callback\"", lms)
        self.assertIn("--grant-type authorization-code", lms)
        self.assertIn("--grant-type client-credentials", lms)
        self.assertIn(f"--client-secret \"{c['CAIRN_SSO_CLIENT_SECRET']}\"", lms)
        self.assertEqual(
            [l.strip() for l in tasks["cairn"].splitlines() if l.strip() and not l.startswith("#")],
            ["cairn migrate up", "cairn import courses --lms-url http://lms:8000", "cairn acl sync"],
        )
        custom = init_tasks(self.custom)
        self.assertNotIn("authorization-code", custom["lms"], "no SSO application without SSO")
        self.assertIn("client-credentials", custom["lms"])

    def test_do_commands(self) -> None:
        out = tutor(self.root, "local", "do", "--help")
        for command in ["cairn-createuser", "cairn-import-courses", "cairn-acl-sync"]:
            self.assertIn(command, out)
        out = tutor(self.root, "local", "do", "cairn-createuser", "--help")
        for option in ["--admin", "--course-id", "--org-id", "--password", "--dashboard-only", "--no-identities"]:
            self.assertIn(option, out)
        from tutorcairnlake.plugin import create_user_command

        [(service, command)] = list(
            create_user_command.callback(
                admin=False,
                course_ids=("course-v1:edX+DemoX+Demo_Course",),
                org_ids=(),
                password="s3cret; rm -rf /",
                dashboard_only=False,
                no_identities=True,
                username="teach",
                email="teach@example.org",
            )
        )
        self.assertEqual(service, "cairn")
        self.assertEqual(
            command,
            "CAIRN_USER_PASSWORD='s3cret; rm -rf /' cairn createuser teach teach@example.org "
            "--course-id course-v1:edX+DemoX+Demo_Course --no-identities",
        )

    # The image

    def test_the_image_is_built_from_this_checkout(self) -> None:
        checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.assertTrue(os.path.isfile(os.path.join(checkout, "crates", "cairn-cli", "Cargo.toml")))
        self.assertEqual(tutor(self.root, "config", "printvalue", "CAIRN_RS_SOURCE").strip(), checkout)
        code = (
            "import json, sys\n"
            "from tutor import config as tutor_config, hooks, plugins\n"
            "hooks.Actions.CORE_READY.do()\n"
            "plugins.load('cairnlake')\n"
            "config = tutor_config.load(sys.argv[1])\n"
            "json.dump([[n, list(a)] for n, _, _, a in hooks.Filters.IMAGES_BUILD.iterate(config) if n == 'cairn'], sys.stdout)\n"
        )
        r = subprocess.run([sys.executable, "-c", code, self.root], env=dict(os.environ, TUTOR_ROOT=self.root),
                           capture_output=True, text=True, check=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        import json

        self.assertEqual(json.loads(r.stdout), [["cairn", [f"--build-context=cairn-src={checkout}"]]])

    def test_dockerfile(self) -> None:
        parser = DockerfileParser(path=os.path.join(self.root, "env", "plugins", "cairnlake", "build", "cairn", "Dockerfile"))
        stages = [i["value"] for i in parser.structure if i["instruction"] == "FROM"]
        self.assertEqual(
            stages,
            [
                "docker.io/library/debian:bookworm-slim AS cairn-git",
                "scratch AS cairn-src",
                "docker.io/library/rust:1.95-bookworm AS build",
                "docker.io/library/debian:bookworm-slim",
            ],
        )
        # The build copies what it reads, not a checkout's target/ (gigabytes).
        copies = [i["value"] for i in parser.structure if i["instruction"] == "COPY" and "--from=cairn-src" in i["value"]]
        self.assertEqual(copies, ["--from=cairn-src /Cargo.toml /Cargo.lock /src/", "--from=cairn-src /crates /src/crates"])
        runs = [i["value"] for i in parser.structure if i["instruction"] == "RUN"]
        self.assertTrue(any("cargo build --release --locked -p cairn-cli" in r for r in runs), runs)
        # The runtime: what follows the last FROM.
        starts = [n for n, i in enumerate(parser.structure) if i["instruction"] == "FROM"]
        final = [(i["instruction"], i["value"]) for i in parser.structure[starts[-1] :]]
        self.assertIn(("USER", "cairn"), final)
        self.assertIn(("ENTRYPOINT", '["cairn"]'), final)
        self.assertIn(("COPY", "--from=build /usr/local/bin/cairn /usr/local/bin/cairn"), final)
        self.assertFalse(any(i == "RUN" and "cargo" in v for i, v in final), "no toolchain in the runtime")


def init_tasks(root: str) -> dict[str, str]:
    """The plugin's init tasks, rendered by Tutor with the root's configuration."""
    code = (
        "import json, sys\n"
        "from tutor import config as tutor_config, env as tutor_env, hooks, plugins\n"
        "hooks.Actions.CORE_READY.do()\n"
        "plugins.load('cairnlake')\n"
        "config = tutor_config.load(sys.argv[1])\n"
        "context = hooks.Contexts.app('cairnlake').name\n"
        "tasks = [[s, tutor_env.render_str(config, t)] for s, t in hooks.Filters.CLI_DO_INIT_TASKS.iterate_from_context(context)]\n"
        "json.dump(tasks, sys.stdout)\n"
    )
    env = dict(os.environ, TUTOR_ROOT=root)
    r = subprocess.run([sys.executable, "-c", code, root], env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    import json

    ordered = json.loads(r.stdout)
    services = [s for s, _ in ordered]
    if services != ["mysql", "lms", "cairn"]:
        raise AssertionError(f"init tasks: {services}, expected mysql, lms, then cairn")
    return dict(ordered)


if __name__ == "__main__":
    unittest.main()
