"""Cairn for Tutor: ClickHouse, the collector (`cairn ingest --follow` on the LMS's tracking
log) and the dashboard (`cairn serve` behind Caddy at CAIRN_HOST), with the init tasks that
connect them to the platform.

Settings that Tutor Cairn also has keep its names and, where they mean the same, its
defaults, so an operator's config.yml carries over; Cairn's own start with CAIRN_RS_ or
name things Tutor Cairn does not have."""

from __future__ import annotations

import os
import shlex
import typing as t
from glob import glob

import click
from tutor import hooks

from . import __version__

HERE = os.path.abspath(os.path.dirname(__file__))


def _source_checkout() -> str:
    """The Cairn checkout this plugin lives in (installed with `pip install -e
    ./tutor-plugin`), or "" (installed from a package: the image is built from
    CAIRN_RS_REPOSITORY then)."""
    d = HERE
    for _ in range(3):
        d = os.path.dirname(d)
        if os.path.isfile(os.path.join(d, "crates", "cairn-cli", "Cargo.toml")):
            return d
    return ""


# Generated once and kept in config.yml.
hooks.Filters.CONFIG_UNIQUE.add_items(
    [
        ("CAIRN_CLICKHOUSE_PASSWORD", "{{ 24|random_string }}"),
        ("CAIRN_SSO_CLIENT_SECRET", "{{ 32|random_string }}"),
        ("CAIRN_LMS_CLIENT_SECRET", "{{ 32|random_string }}"),
        ("CAIRN_MYSQL_PASSWORD", "{{ 24|random_string }}"),
        ("CAIRN_RETIREMENT_KEY", "{{ 64|random_string }}"),
        ("CAIRN_EXPLORER_KEY", "{{ 64|random_string }}"),
    ]
)

hooks.Filters.CONFIG_DEFAULTS.add_items(
    [
        # As in Tutor Cairn.
        ("CAIRN_HOST", "data.{{ LMS_HOST }}"),
        ("CAIRN_RUN_CLICKHOUSE", True),
        ("CAIRN_CLICKHOUSE_HOST", "cairn-clickhouse"),
        ("CAIRN_CLICKHOUSE_HTTP_PORT", 8123),
        ("CAIRN_CLICKHOUSE_HTTP_SCHEME", "http"),
        ("CAIRN_CLICKHOUSE_PORT", 9000),
        ("CAIRN_CLICKHOUSE_DATABASE", "openedx"),
        ("CAIRN_CLICKHOUSE_USERNAME", "openedx"),
        ("CAIRN_ENABLE_SSO", True),
        ("CAIRN_SSO_CLIENT_ID", "cairn"),
        # ClickHouse from the official image: the current LTS release.
        ("CAIRN_CLICKHOUSE_DOCKER_IMAGE", "docker.io/clickhouse/clickhouse-server:26.8"),
        # Cairn's own.
        ("CAIRN_RS_VERSION", __version__),
        ("CAIRN_RS_DOCKER_IMAGE", "{{ DOCKER_REGISTRY }}cairn/cairn:{{ CAIRN_RS_VERSION }}"),
        # The image's source: a local checkout (the one the plugin was installed from, or
        # any: `tutor config save --set CAIRN_RS_SOURCE=/path/to/cairn`), else a git
        # repository at a branch or tag.
        ("CAIRN_RS_SOURCE", _source_checkout()),
        ("CAIRN_RS_REPOSITORY", ""),
        ("CAIRN_RS_REPOSITORY_VERSION", "v{{ CAIRN_RS_VERSION }}"),
        ("CAIRN_CLICKHOUSE_CLUSTER", ""),
        ("CAIRN_MYSQL_USERNAME", "cairn_reader"),
        ("CAIRN_LMS_CLIENT_ID", "cairn-lms-api"),
        ("CAIRN_SERVICE_USERNAME", "cairn"),
        ("CAIRN_RETIREMENT", "scrub"),
        ("CAIRN_EVENTS_RETENTION_MONTHS", ""),
        ("CAIRN_REPORTS_FROM", "{{ CONTACT_EMAIL }}"),
        # Host folders of operators' own migrations (mounted read-only in every Cairn
        # container and applied after the built-in ones).
        ("CAIRN_MIGRATIONS_FOLDERS", []),
        # k8s: the container logs of the LMS pods on each node (CRI format).
        ("CAIRN_K8S_LOG_GLOB", "/var/log/containers/lms-*_{{ K8S_NAMESPACE }}_lms-*.log"),
        ("CAIRN_CLICKHOUSE_STORAGE_SIZE", "20Gi"),
    ]
)

# Init tasks, in order: the LMS database user, the LMS applications, then Cairn.
for service, name in [("mysql", "mysql"), ("lms", "lms"), ("cairn", "cairn")]:
    with open(os.path.join(HERE, "templates", "cairnlake", "tasks", name, "init"), encoding="utf-8") as f:
        hooks.Filters.CLI_DO_INIT_TASKS.add_item((service, f.read()))



@hooks.Filters.IMAGES_BUILD.add()
def _cairn_image(images: list, config: dict) -> list:
    """`tutor images build cairn`: with CAIRN_RS_SOURCE, that checkout is the source."""
    args: tuple[str, ...] = ()
    if config.get("CAIRN_RS_SOURCE"):
        args = (f"--build-context=cairn-src={config['CAIRN_RS_SOURCE']}",)
    images.append(("cairn", ("plugins", "cairnlake", "build", "cairn"), "{{ CAIRN_RS_DOCKER_IMAGE }}", args))
    return images


@hooks.Filters.IMAGES_BUILD_MOUNTS.add()
def _cairn_mount(mounts: list[tuple[str, str]], path: str) -> list[tuple[str, str]]:
    """`tutor mounts add /path/to/cairn` also makes a checkout the image's source."""
    if os.path.isfile(os.path.join(path, "crates", "cairn-cli", "Cargo.toml")):
        mounts.append(("cairn", "cairn-src"))
    return mounts


hooks.Filters.IMAGES_PULL.add_items(
    [
        ("cairn", "{{ CAIRN_RS_DOCKER_IMAGE }}"),
        ("cairn-clickhouse", "{{ CAIRN_CLICKHOUSE_DOCKER_IMAGE }}"),
    ]
)
hooks.Filters.IMAGES_PUSH.add_item(("cairn", "{{ CAIRN_RS_DOCKER_IMAGE }}"))


@hooks.Filters.APP_PUBLIC_HOSTS.add()
def _cairn_host(hosts: list[str], context_name: t.Literal["local", "dev"]) -> list[str]:
    hosts.append("{{ CAIRN_HOST }}:2247" if context_name == "dev" else "{{ CAIRN_HOST }}")
    return hosts


def _cairn(*args: str) -> str:
    """A `cairn` command line for a job container, every argument quoted."""
    return " ".join(shlex.quote(a) for a in ("cairn", *args))


@click.command(name="cairn-createuser", help="Create or update a Cairn user (cairn createuser)")
@click.option("--admin", is_flag=True, help="Sees everything")
@click.option("-c", "--course-id", "course_ids", multiple=True, help="A course this user may see (repeatable)")
@click.option("--org-id", "org_ids", multiple=True, help="An org whose courses this user may see (repeatable)")
@click.option("-p", "--password", help="Password (else the dashboard is reached with the LMS sign-in only)")
@click.option("--dashboard-only", is_flag=True, help="Only the dashboard sign-in and the grant; no ClickHouse user")
@click.option("--no-identities", is_flag=True, help="Hide learner identities (the at-risk list) from this user")
@click.argument("username")
@click.argument("email")
def create_user_command(
    admin: bool,
    course_ids: tuple[str, ...],
    org_ids: tuple[str, ...],
    password: t.Optional[str],
    dashboard_only: bool,
    no_identities: bool,
    username: str,
    email: str,
) -> t.Iterable[tuple[str, str]]:
    args = ["createuser", username, email]
    if admin:
        args.append("--admin")
    for c in course_ids:
        args += ["--course-id", c]
    for o in org_ids:
        args += ["--org-id", o]
    if dashboard_only:
        args.append("--dashboard-only")
    if no_identities:
        args.append("--no-identities")
    if password:
        # Through the environment, never on a command line that `ps` shows.
        yield ("cairn", f"CAIRN_USER_PASSWORD={shlex.quote(password)} {_cairn(*args)}")
    else:
        # No password: a random one nobody knows; sign in with the LMS.
        yield ("cairn", f'CAIRN_USER_PASSWORD="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d " \\n")" {_cairn(*args)}')


@click.command(name="cairn-import-courses", help="Re-import course structure from the LMS")
@click.option("-c", "--course-id", "course_ids", multiple=True, help="Only these courses (repeatable); default: all")
def import_courses_command(course_ids: tuple[str, ...]) -> t.Iterable[tuple[str, str]]:
    args = ["import", "courses", "--lms-url", "http://lms:8000"]
    for c in course_ids:
        args += ["--course-id", c]
    yield ("cairn", _cairn(*args))


@click.command(name="cairn-acl-sync", help="Apply the LMS's course roles to ClickHouse users (cairn acl sync)")
def acl_sync_command() -> t.Iterable[tuple[str, str]]:
    yield ("cairn", _cairn("acl", "sync"))


hooks.Filters.CLI_DO_COMMANDS.add_items([create_user_command, import_courses_command, acl_sync_command])

# Templates: the image's build context and the apps' configuration.
hooks.Filters.ENV_TEMPLATE_ROOTS.add_item(os.path.join(HERE, "templates"))
hooks.Filters.ENV_TEMPLATE_TARGETS.add_items(
    [
        ("cairnlake/build", "plugins"),
        ("cairnlake/apps", "plugins"),
    ]
)
for path in sorted(glob(os.path.join(HERE, "patches", "*"))):
    with open(path, encoding="utf-8") as f:
        hooks.Filters.ENV_PATCHES.add_item((os.path.basename(path), f.read()))
