"""Nothing leaves the workspace, the Docker socket only with -d, secrets never in clear
(CODEBUILD.md decision 8), against a real Docker engine."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.helpers import build, write_project

pytestmark = pytest.mark.docker


def said(lines: list[str]) -> list[str]:
    return [line.split(" ", 3)[3] for line in lines if line.startswith("[Container] ")]


def test_paths_leaving_the_workspace_are_refused_with_a_clear_message(
    tmp_path: Path, runner_home: Path
) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands: [echo built > out.txt]
        artifacts:
          files: [out.txt]
          secondary-artifacts:
            up:
              files: ['../../etc/passwd']
            absolute:
              files: ['/etc/passwd']
        reports:
          up:
            files: ['../x.xml']
          absolute:
            files: ['/etc/passwd']
          base:
            files: ['*.xml']
            base-directory: /etc
          container:
            files: [hostname]
            base-directory: /etc
        cache:
          paths: ['../outside/**/*', '/root/.cache/**/*']
        """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines, artifacts_dir=tmp_path / "out")
    upload = next(p for p in result.phases if p.name == "UPLOAD_ARTIFACTS")
    assert upload.status == "FAILED"
    assert upload.context[0] == {
        "status_code": "CLIENT_ERROR",
        "message": "'../../etc/passwd' contains '..'; paths cannot leave the source directory",
    }
    assert not (tmp_path / "out").exists()  # nothing written when one block is refused
    assert [(r.name, r.status, r.problem) for r in result.reports[:3]] == [
        ("test-up", "INCOMPLETE", "'../x.xml' contains '..'; paths cannot leave the source directory"),
        (
            "test-absolute",
            "INCOMPLETE",
            "'/etc/passwd' is absolute; expected a path relative to the source directory",
        ),
        # An absolute base-directory is a path in the build container (decision 23), never the host's.
        ("test-base", "INCOMPLETE", "no report files found"),
    ]
    container = result.reports[3]
    assert container.files == ("/etc/hostname",)  # named by its path in the container ...
    assert container.sources[0].startswith(result.workspace)  # ... read from its copy in the workspace
    assert Path(container.sources[0]).read_text() != Path("/etc/hostname").read_text()
    assert (
        "Cache not restored: '../outside/**/*' contains '..'; paths cannot leave the source directory"
        in said(lines)
    )
    assert (
        "Cache not saved: '../outside/**/*' contains '..'; paths cannot leave the source directory"
        in said(lines)
    )
    assert result.status == "FAILED"


def test_source_symlinks_to_outside_are_links_never_followed(tmp_path: Path, runner_home: Path) -> None:
    host_home = tmp_path / "host-home"
    (host_home / ".ssh").mkdir(parents=True)
    (host_home / ".ssh" / "id_rsa").write_text("PRIVATE KEY\n")
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo "passwd -> $(readlink passwd); home -> $(readlink home)"
              - test -e home/.ssh/id_rsa && echo "host file visible" || echo "host file not visible"
        artifacts:
          files: ['**/*']
          secondary-artifacts:
            through:
              files: ['**/*']
              base-directory: home
        """,
    )
    os.symlink("/etc/passwd", root / "passwd")
    os.symlink(host_home, root / "home")
    lines: list[str] = []
    result = build(root, runner_home, lines, artifacts_dir=tmp_path / "out")
    assert f"passwd -> /etc/passwd; home -> {host_home}" in lines  # copied as links
    assert "host file not visible" in lines
    upload = next(p for p in result.phases if p.name == "UPLOAD_ARTIFACTS")
    assert upload.context[0]["message"] == (
        f"home is a symlink to {host_home}, outside the source directory; refused"
    )
    assert not (tmp_path / "out").exists()


def test_docker_socket_only_for_privileged_builds(tmp_path: Path, runner_home: Path) -> None:
    spec = """
        version: 0.2
        phases:
          build:
            commands:
              - test -S /var/run/docker.sock; echo "socket=$?"
              - docker ps --quiet > /dev/null 2>&1; echo "docker=$?"
    """
    plain: list[str] = []
    build(write_project(tmp_path / "plain", spec), runner_home, plain)
    assert "socket=1" in plain and "docker=0" not in plain
    privileged: list[str] = []
    build(write_project(tmp_path / "privileged", spec), runner_home, privileged, privileged=True)
    assert "socket=0" in privileged and "docker=0" in privileged


SECRET_VALUES = ("pw-Xq7zK9", "line-one-AAA", "line-two-BBB", "sm-Pw-8812", "adm-user-77", "tok-99887766")
SECRETS_FILE = """
parameter-store:
  /app/db/password: pw-Xq7zK9
  /app/cert: "line-one-AAA\\nline-two-BBB"
secrets-manager:
  prod/db: {username: adm-user-77, password: sm-Pw-8812}
  "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf": '{"token": "tok-99887766"}'
"""
SECRET_BUILDSPEC = """
version: 0.2
env:
  parameter-store:
    DB_PW: /app/db/password
    CERT: /app/cert
  secrets-manager:
    SM_PW: prod/db:password
    SM_ALL: prod/db
    TOKEN: "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf:token"
  exported-variables: [DB_PW, TOKEN]
phases:
  build:
    commands:
      - echo "db=$DB_PW sm=$SM_PW all=$SM_ALL token=$TOKEN"
      - printf '%s\\n' "$CERT"; printf 'no newline %s' "$TOKEN"
      - env | sort
      - mkdir -p logs && echo "$DB_PW $SM_PW $CERT" > logs/secrets.txt && cat logs/secrets.txt
      - |
        printf '<testsuite><testcase name="t"><failure message="bad %s"/>' "$SM_PW" > r.xml
        echo '</testcase></testsuite>' >> r.xml
      - ls "/nonexistent/$DB_PW"
  post_build:
    commands:
      - '[ "$TOKEN" != tok-99887766 ]'
reports:
  r:
    files: [r.xml]
artifacts:
  files: ['logs/*']
"""


def test_secret_values_never_appear_anywhere(tmp_path: Path, runner_home: Path) -> None:
    """Terminal output, --json, log lines, every table of the store: no raw value (decision 8)."""
    root = write_project(tmp_path / "src", SECRET_BUILDSPEC)
    (tmp_path / "secrets.yml").write_text(SECRETS_FILE)
    env = {**os.environ, "RUNNER_HOME": str(runner_home)}
    built = subprocess.run(
        [sys.executable, "-m", "runner", "build", "-s", str(root), "--secrets", str(tmp_path / "secrets.yml"),
         "-a", str(tmp_path / "out"), "--json"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert built.returncode == 1, built.stderr
    result = json.loads(built.stdout)
    assert "db=*** sm=*** all=*** token=***" in built.stderr  # the build did print them
    assert result["exported_variables"] == {"DB_PW": "***", "TOKEN": "***"}
    assert result["reports"][0]["failures"][0]["message"] == "bad ***"
    post = next(p for p in result["phases"] if p["name"] == "POST_BUILD")
    assert post["context"] == 'Error while executing command: [ "$TOKEN" != *** ]. Reason: exit status 1'
    logs = subprocess.run(
        [sys.executable, "-m", "runner", "logs", result["id"]],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    history = subprocess.run(
        [sys.executable, "-m", "runner", "history", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "ls: cannot access '/nonexistent/***': No such file or directory" in logs.stdout
    places = {
        "terminal stdout": built.stdout,
        "terminal stderr": built.stderr,
        "runner logs": logs.stdout,
        "runner history": history.stdout,
        "store": dump_store(runner_home / "state.db"),
    }
    leaks = [(where, value) for where, text in places.items() for value in SECRET_VALUES if value in text]
    assert leaks == []
    # The artifact itself holds what the build wrote: CodeBuild does not mask files either.
    assert "pw-Xq7zK9" in (tmp_path / "out" / "artifacts" / "logs" / "secrets.txt").read_text()


def dump_store(path: Path) -> str:
    db = sqlite3.connect(path)
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert {"builds", "phases", "log_lines", "events"} <= set(tables)
    return "\n".join(repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"'))


AT_REST_SECRETS = """
parameter-store:
  /app/db/password: pw-Rest-4411
  /app/cert: "cert-one-CCC\\ncert-two-DDD"
  /app/changed: given-Rest-7070
secrets-manager:
  prod/db: {username: adm-Rest-5522, password: sm-Rest-6633}
"""
AT_REST_VALUES = (
    "pw-Rest-4411",
    "cert-one-CCC",
    "cert-two-DDD",
    "given-Rest-7070",
    "adm-Rest-5522",
    "sm-Rest-6633",
)
AT_REST_BUILDSPEC = """
version: 0.2
env:
  shell: bash
  parameter-store:
    DB_PW: /app/db/password
    CERT: /app/cert
    CHANGED: /app/changed
  secrets-manager:
    SM_USER: prod/db:username
    SM_ALL: prod/db
  exported-variables: [DB_PW, CHANGED]
phases:
  install:
    commands:
      - export DB_PW; PLAIN=kept
      - touch /usr/local/made-in-install  # a change outside the workspace: a snapshot image
  build:
    commands:
      - echo "db=$DB_PW user=$SM_USER plain=$PLAIN"
      - printf '%s\\n' "$CERT"
      - CHANGED=build-own-value
  post_build:
    commands:
      - echo "again db=$DB_PW all=$SM_ALL cert=$(printf %s "$CERT" | wc -l)"
      - echo "changed=$CHANGED"
artifacts:
  files: ['**/*']
"""


@pytest.mark.parametrize("mount", [False, True], ids=["copied", "mounted"])
def test_secret_values_are_not_at_rest_anywhere_the_runner_writes(
    tmp_path: Path, runner_home: Path, mount: bool
) -> None:
    """A build that only uses its secrets: the whole runner home (workspace, saved shell
    state, debug records, artifacts), the store's bytes and the snapshot images hold none
    of the values, the secrets file inside the source is neither copied nor uploaded,
    state files are 0600."""
    from runner.codebuild.debug import phase_info
    from runner.core.secrets import SecretSources

    root = write_project(
        tmp_path / "src", AT_REST_BUILDSPEC, {"app.txt": "app\n", "secrets.yml": AT_REST_SECRETS}
    )
    env = {**os.environ, "RUNNER_HOME": str(runner_home)}
    built = subprocess.run(
        [sys.executable, "-m", "runner", "build", "-s", str(root), "--secrets", str(root / "secrets.yml"),
         "--json", *(["-m"] if mount else [])],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    result = json.loads(built.stdout)
    assert "db=*** user=*** plain=kept" in built.stderr
    assert built.stderr.count("***") >= 5
    # Injected again in post_build (masked: only the secrets' exact values are replaced).
    assert "again db=*** all=*** cert=1" in built.stderr and "changed=build-own-value" in built.stderr
    # Unchanged: masked as before; changed by the build: its own value, saved and shown.
    assert result["exported_variables"] == {"DB_PW": "***", "CHANGED": "build-own-value"}
    assert "app.txt" in result["artifacts"]["primary"] and "secrets.yml" not in result["artifacts"]["primary"]

    leaks = [
        (str(path.relative_to(runner_home)), value)
        for path in runner_home.rglob("*")
        if path.is_file() and not path.is_symlink()
        for value in AT_REST_VALUES
        if value.encode() in path.read_bytes()
    ]
    assert leaks == []
    assert not list(runner_home.rglob("secrets.yml"))
    workspace = Path(next(runner_home.glob("work/*")))
    states = [p for p in (workspace / "output" / "tmp" / "state").iterdir() if p.is_dir()]
    assert len(states) == 3  # install, build, post_build
    modes = {oct(f.stat().st_mode & 0o777) for state in states for f in state.iterdir()}
    assert modes == {oct(0o600)}
    assert sorted(s.name for s in states) == ["build-1-1", "install-1-1", "post_build-1-1"]
    assert "build-own-value" in (states[0].parent / "build-1-1" / "vars.sh").read_text()
    # `runner debug` gets the values again from the secrets file, never from the record.
    info = phase_info(workspace, "POST_BUILD")
    assert not {"DB_PW", "CERT", "SM_USER", "SM_ALL"} & set(info["env"])
    assert SecretSources.from_json(info["secrets"]).values()["DB_PW"] == "pw-Rest-4411"
    # A snapshot image's config would keep the container's environment: its secret
    # variables are emptied. (Engines before 25 also keep the container's own config in a
    # ContainerConfig field that a commit cannot change.)
    snapshots = subprocess.run(
        ["docker", "images", "-q", "--filter", f"label=runner.build={result['id']}"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert snapshots
    for image in snapshots:
        config = subprocess.run(
            ["docker", "inspect", "--format", "{{json .Config.Env}}", image], capture_output=True, text=True
        ).stdout
        assert [v for v in AT_REST_VALUES if v in config] == [] and '"DB_PW="' in config
