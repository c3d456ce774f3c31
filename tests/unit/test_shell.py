"""The phase script, its markers and the saved shell state (runner/shell.py).

The script is run here by the host's own /bin/sh and bash (no Docker): the same
text the build containers run, so state save/restore is checked quickly and exactly.
"""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
from pathlib import Path

import pytest

from runner.codebuild.shell import (
    COMMANDS,
    FINALLY,
    MARK,
    STATE_FILES,
    Item,
    Marker,
    MarkerSplitter,
    StateSaving,
    parse_marker,
    phase_script,
    read_exported,
    shell_binary,
)

NONCE = "abc123"
MASK = "***"  # what the runner shows for a secret value


@pytest.mark.parametrize(
    ("payload", "marker"),
    [
        ("S:c:0", Marker("S", "c", 0)),
        ("S:f:12", Marker("S", "f", 12)),
        ("E:c:3:0", Marker("E", "c", 3, 0)),
        ("E:f:0:127", Marker("E", "f", 0, 127)),
        ("E:c:0:-1", Marker("E", "c", 0, -1)),
        ("X:0", Marker("X", status=0)),
        ("X:130", Marker("X", status=130)),
        ("S:x:0", None),
        ("S:c", None),
        ("S:c:a", None),
        ("E:c:0", None),
        ("E:c:0:x", None),
        ("X:", None),
        ("X:1:2", None),
        ("hello", None),
        ("", None),
    ],
)
def test_parse_marker(payload: str, marker: Marker | None) -> None:
    assert parse_marker(payload) == marker


def mark(payload: str, nonce: str = NONCE) -> str:
    return f"{MARK}{nonce}:{payload}\n"


def test_splitter_lines_and_markers() -> None:
    splitter = MarkerSplitter(NONCE)
    assert splitter.feed("one\ntwo\n" + mark("S:c:0") + "three\n") == [
        "one",
        "two",
        Marker("S", "c", 0),
        "three",
    ]
    assert splitter.flush() == []


def test_splitter_keeps_partial_lines_until_they_end() -> None:
    splitter = MarkerSplitter(NONCE)
    assert splitter.feed("par") == []
    assert splitter.feed("tial") == []
    assert splitter.feed(" line\nnext") == ["partial line"]
    assert splitter.flush() == ["next"]


def test_splitter_output_without_newline_before_a_marker_is_its_own_line() -> None:
    splitter = MarkerSplitter(NONCE)
    # printf 'no newline' followed by the end marker of the command
    assert splitter.feed("no newline" + mark("E:c:0:0")) == ["no newline", Marker("E", "c", 0, 0)]


def test_splitter_marker_split_across_chunks() -> None:
    splitter = MarkerSplitter(NONCE)
    text = "a\n" + mark("E:c:1:2") + "b\n"
    pieces: list[str | Marker] = []
    for ch in text:
        pieces += splitter.feed(ch)
    assert pieces == ["a", Marker("E", "c", 1, 2), "b"]


def test_splitter_foreign_or_malformed_markers_are_text() -> None:
    splitter = MarkerSplitter(NONCE)
    forged = mark("S:c:0", nonce="other")  # a build cannot fake the runner's markers
    assert splitter.feed(forged) == [forged.rstrip("\n")]
    assert splitter.feed(mark("bogus")) == [mark("bogus").rstrip("\n")]


def test_splitter_flushes_a_huge_line_without_newline() -> None:
    splitter = MarkerSplitter(NONCE)
    out = splitter.feed("x" * (64 * 1024 + 1))
    assert out == ["x" * (64 * 1024 + 1)]


def test_read_exported() -> None:
    assert read_exported(b"A\x001\x00B\x00two words\nline\x00") == {"A": "1", "B": "two words\nline"}
    assert read_exported(b"") == {}
    assert read_exported(b"EMPTY\x00\x00") == {"EMPTY": ""}


def test_shell_binary() -> None:
    assert shell_binary("sh") == "/bin/sh"
    assert shell_binary("bash") == "/bin/bash"


# ------------------------------------------------------------ running the script


def run_phase(
    tmp: Path,
    shell: str,
    commands: list[str],
    finally_: list[str] | None = None,
    state_in: str | None = None,
    name: str = "p1",
    refreshed: dict[str, str] | None = None,
    exported: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    saving: StateSaving | None = None,
) -> tuple[list[str | Marker], Path]:
    (tmp / "cmd").mkdir(exist_ok=True)
    (tmp / "work").mkdir(exist_ok=True)
    items = []
    for section, texts in ((COMMANDS, commands), (FINALLY, finally_ or [])):
        for i, text in enumerate(texts):
            path = tmp / "cmd" / f"{name}-{section}{i}.sh"
            path.write_text(text + "\n")
            items.append(Item(section, i, str(path)))
    state_out = tmp / "state" / name
    script = phase_script(
        shell, items, state_in, str(state_out), str(tmp / "work"), NONCE, refreshed or {}, exported, saving
    )
    result = subprocess.run(
        [shell_binary(shell), "-c", script],
        capture_output=True,
        text=True,
        timeout=20,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
    )
    splitter = MarkerSplitter(NONCE)
    return splitter.feed(result.stdout) + splitter.flush(), state_out


def test_script_marks_each_command_and_skips_the_rest_after_a_failure(tmp_path: Path) -> None:
    out, _ = run_phase(tmp_path, "sh", ["echo one", "false", "echo never"], ["echo cleanup"])
    assert out == [
        Marker("S", "c", 0),
        "one",
        Marker("E", "c", 0, 0),
        Marker("S", "c", 1),
        Marker("E", "c", 1, 1),
        Marker("S", "f", 0),
        "cleanup",
        Marker("E", "f", 0, 0),
        Marker("X", status=0),
    ]


def test_state_carries_over_between_two_scripts(tmp_path: Path) -> None:
    _, state = run_phase(
        tmp_path,
        "sh",
        ["PLAIN='two words'; export EXP=e; mkdir -p sub && cd sub", "set -u"],
        exported=("PLAIN", "UNSET"),
    )
    assert read_exported((state / "exported").read_bytes()) == {"PLAIN": "two words"}
    out, _ = run_phase(
        tmp_path,
        "sh",
        [
            'echo "$PLAIN|$EXP|$(basename "$PWD")|$FLAG"',
            'sh -c "echo child=\\${EXP}-\\${PLAIN:-none}"',
            "echo $NOPE",
        ],
        state_in=str(state),
        name="p2",
        refreshed={"FLAG": "0"},
    )
    lines = [piece for piece in out if isinstance(piece, str)]
    assert lines[:2] == ["two words|e|sub|0", "child=e-none"]
    # `set -u` came back with the state: $NOPE ends dash (the runner goes on in a fresh container).
    assert any("NOPE: parameter not set" in line for line in lines)
    assert out[-1] == Marker("X", status=2)


def test_bash_state_keeps_functions_and_arrays(tmp_path: Path) -> None:
    _, state = run_phase(tmp_path, "bash", ['f() { echo "f:$1"; }; A=(x "y z"); shopt -s nullglob'])
    out, _ = run_phase(
        tmp_path,
        "bash",
        ['f go; echo "${A[1]}"; shopt -q nullglob && echo glob'],
        state_in=str(state),
        name="p2",
    )
    assert [piece for piece in out if isinstance(piece, str)] == ["f:go", "y z", "glob"]


def test_exit_in_a_command_still_saves_the_state(tmp_path: Path) -> None:
    out, state = run_phase(tmp_path, "sh", ["X=kept; cd /tmp; exit 7", "echo never"])
    assert out[-1] == Marker("X", status=7)
    assert "never" not in out
    assert (state / "cwd").read_text() == "/tmp\n"
    assert "kept" in (state / "vars.sh").read_text()


def test_a_syntax_error_is_that_commands_failure(tmp_path: Path) -> None:
    out, _ = run_phase(tmp_path, "bash", ["if then fi", "echo never"], ["echo cleanup"])
    assert Marker("E", "c", 0, 2) in out
    assert "never" not in out and "cleanup" in out


def test_pipeline_and_block_status(tmp_path: Path) -> None:
    out, _ = run_phase(tmp_path, "sh", ["false | true", "false\ntrue", "true\nfalse"])
    assert [p for p in out if isinstance(p, Marker) and p.kind == "E"] == [
        Marker("E", "c", 0, 0),
        Marker("E", "c", 1, 0),
        Marker("E", "c", 2, 1),
    ]


def test_state_files_are_0600_in_a_directory_others_cannot_list(tmp_path: Path) -> None:
    _, state = run_phase(tmp_path, "sh", ["SECRETISH=1"])
    assert stat.S_IMODE(state.stat().st_mode) == 0o711
    assert {name: stat.S_IMODE((state / name).stat().st_mode) for name in STATE_FILES} == dict.fromkeys(
        STATE_FILES, 0o600
    )


def test_state_files_go_to_the_next_phases_run_as_user(tmp_path: Path) -> None:
    """As root the files are given to the reader; an unprivileged writer cannot give them
    away, so it opens them (0644) instead: either way the next user can read them."""
    nobody = pwd.getpwnam("nobody")
    _, state = run_phase(tmp_path, "sh", ["X=1"], saving=StateSaving(reader="nobody", host_uid=nobody.pw_uid))
    files = [state / name for name in STATE_FILES]
    if os.getuid() == 0:
        assert {(f.stat().st_uid, stat.S_IMODE(f.stat().st_mode)) for f in files} == {(nobody.pw_uid, 0o600)}
    else:
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o644}


SECRET = "s3cr3t-V4lue"


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_an_unchanged_secret_is_never_saved_and_comes_back_from_the_env(tmp_path: Path, shell: str) -> None:
    saving = StateSaving(secrets=("DB_PW", "TOKEN"))
    env = {"DB_PW": SECRET, "TOKEN": SECRET + "-tk"}
    _, state = run_phase(
        tmp_path, shell, ["PLAIN=p; export DB_PW"], exported=("DB_PW", "PLAIN"), env=env, saving=saving
    )
    for name in STATE_FILES:
        assert SECRET.encode() not in (state / name).read_bytes(), name
    saved = (state / "vars.sh").read_text()
    assert not [line for line in saved.splitlines() if line.removeprefix("declare -- ").startswith("__rn_s_")]
    assert read_exported((state / "exported").read_bytes()) == {"DB_PW": MASK, "PLAIN": "p"}
    out, state2 = run_phase(
        tmp_path,
        shell,
        ['echo "$PLAIN $DB_PW $TOKEN"'],
        state_in=str(state),
        name="p2",
        env=env,
        saving=saving,
    )
    assert [p for p in out if isinstance(p, str)] == [f"p {SECRET} {SECRET}-tk"]
    assert not any(SECRET.encode() in (state2 / name).read_bytes() for name in STATE_FILES)


@pytest.mark.parametrize("shell", ["sh", "bash"])
def test_a_secret_the_build_changed_is_its_own_value_and_is_saved(tmp_path: Path, shell: str) -> None:
    saving = StateSaving(secrets=("DB_PW",))
    env = {"DB_PW": SECRET}
    _, state = run_phase(
        tmp_path, shell, ["DB_PW=chosen-by-build"], exported=("DB_PW",), env=env, saving=saving
    )
    assert "chosen-by-build" in (state / "vars.sh").read_text()
    assert read_exported((state / "exported").read_bytes()) == {"DB_PW": "chosen-by-build"}
    # The next phase gets the secret injected again, then the build's own value restored.
    out, state2 = run_phase(
        tmp_path, shell, ['echo "$DB_PW"'], state_in=str(state), name="p2", env=env, saving=saving
    )
    assert [p for p in out if isinstance(p, str)] == ["chosen-by-build"]
    assert "chosen-by-build" in (state2 / "vars.sh").read_text()
    assert SECRET not in (state2 / "vars.sh").read_text()
