"""The example project's pull-request workflows (example_project/.github/workflows): clean under
zizmor (offline) and GitHub's workflow schema (check-jsonschema's vendored copy), least
permissions, no pull-request code in the workflow that may write, and the shell steps that guard
the comment run for real with a stand-in ``gh``: an artifact whose pull request does not have the
run's head commit posts nothing and says why; otherwise the comment found by its marker is
updated, or one is created."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "example_project" / ".github" / "workflows"
BUILD = WORKFLOWS / "image-size.yml"
COMMENT = WORKFLOWS / "image-size-comment.yml"
BIN = Path(sys.executable).parent
HEAD = "0123456789abcdef0123456789abcdef01234567"


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def steps(path: Path) -> list[dict[str, Any]]:
    (job,) = load(path)["jobs"].values()
    return list(job["steps"])


def step(path: Path, name: str) -> dict[str, Any]:
    return next(s for s in steps(path) if s.get("name", "").startswith(name))


def test_zizmor_finds_nothing() -> None:
    result = subprocess.run(
        [BIN / "zizmor", "--offline", "--persona", "pedantic", WORKFLOWS], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_the_workflows_match_githubs_schema() -> None:
    result = subprocess.run(
        [BIN / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", BUILD, COMMENT],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_permissions_are_the_least_each_needs() -> None:
    build, comment = load(BUILD), load(COMMENT)
    assert build["permissions"] == {"contents": "read"}
    assert list(build["on"]) == ["pull_request"]
    assert comment["permissions"] == {}
    assert comment["jobs"]["comment"]["permissions"] == {"actions": "read", "pull-requests": "write"}
    assert comment["on"]["workflow_run"] == {"workflows": [build["name"]], "types": ["completed"]}


def test_the_comment_workflow_runs_no_code_of_the_pull_request() -> None:
    text = COMMENT.read_text()
    uses = [s["uses"] for s in steps(COMMENT) if "uses" in s]
    assert all(not u.startswith("actions/checkout") for u in uses) and "checkout" not in text
    assert all("@" in u and len(u.split("@")[1]) == 40 for u in uses)  # pinned by commit
    install = step(COMMENT, "Install the renderer")["run"]
    assert install == 'python -m pip install "pytest-imagesize==${PYTEST_IMAGESIZE_VERSION}"'
    assert "${{" not in "".join(s.get("run", "") for s in steps(COMMENT))  # no expression in a shell


def guard(
    tmp_path: Path, *, artifact_number: str, api_head: str | None, listed: str = ""
) -> tuple[int, str, str]:
    """Run the comment workflow's pull-request check with a stand-in ``gh`` that answers the pull
    request's head SHA (``None``: not found); returns (status, stderr+stdout, GITHUB_OUTPUT)."""
    (tmp_path / "image-size").mkdir(exist_ok=True)
    (tmp_path / "image-size" / "pr-number").write_text(artifact_number)
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir(exist_ok=True)
    answer = "echo 'HTTP 404' >&2; exit 1" if api_head is None else f"echo {api_head}"
    gh.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/gh-calls\n{answer}\n')
    gh.chmod(0o755)
    output = tmp_path / "output"
    output.write_text("")
    env = {
        "PATH": f"{gh.parent}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(output),
        "REPO": "owner/project",
        "HEAD_SHA": HEAD,
        "LISTED": listed,
        "GH_TOKEN": "not-used",
    }
    script = step(COMMENT, "Find the pull request")["run"]
    result = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr, output.read_text()


def test_a_fork_pull_request_number_is_used_only_when_its_head_is_the_runs(tmp_path: Path) -> None:
    status, _, output = guard(tmp_path, artifact_number="42\n", api_head=HEAD)
    assert (status, output) == (0, "number=42\n")
    assert (tmp_path / "gh-calls").read_text() == "api repos/owner/project/pulls/42 --jq .head.sha\n"


@pytest.mark.parametrize(
    ("number", "head", "words"),
    [
        ("41", "f" * 40, f"pull request #41 has head {'f' * 40}, not this run's {HEAD}"),
        ("41", None, "pull request #41 not found in owner/project"),
        ("41; curl evil", HEAD, "the artifact's pull request number is not a number"),
        ("", HEAD, "the artifact's pull request number is not a number"),
        ("0x2a", HEAD, "the artifact's pull request number is not a number"),
    ],
)
def test_an_artifact_naming_another_pull_request_posts_nothing(
    tmp_path: Path, number: str, head: str | None, words: str
) -> None:
    status, said, output = guard(tmp_path, artifact_number=number, api_head=head)
    assert status == 1 and output == ""
    assert f"::error::{words}" in said and "nothing posted" in said


def test_a_listed_pull_request_is_checked_too(tmp_path: Path) -> None:
    status, _, output = guard(tmp_path, artifact_number="999", api_head=HEAD, listed="7")
    assert (status, output) == (0, "number=7\n")
    status, said, output = guard(tmp_path, artifact_number="7", api_head="e" * 40, listed="7")
    assert status == 1 and output == "" and "nothing posted" in said


def post(tmp_path: Path, comments: list[dict[str, Any]]) -> list[str]:
    """Run the comment workflow's render and post steps with a stand-in ``gh`` that lists
    ``comments``; returns its calls."""
    if shutil.which("jq") is None:  # the steps use jq, as GitHub's runners have it
        pytest.skip("jq is not installed here (apt-get install jq)")
    (tmp_path / "image-size").mkdir(exist_ok=True)
    report: dict[str, Any] = {"version": 3, "engine": None, "images": [], "checks": []}
    (tmp_path / "image-size" / "image-report.json").write_text(json.dumps(report))
    gh = tmp_path / "bin" / "gh"
    gh.parent.mkdir(exist_ok=True)
    listing = tmp_path / "comments.json"
    listing.write_text(json.dumps(comments))
    gh.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {tmp_path}/gh-calls\n'
        'case "$*" in *--paginate*) '
        f'jq -r "$(echo "$@" | sed \'s/.*--jq //\')" {listing};; esac\n'
    )
    gh.chmod(0o755)
    env = {
        "PATH": f"{gh.parent}{os.pathsep}{BIN}{os.pathsep}{os.environ['PATH']}",
        "RUNNER_TEMP": str(tmp_path),
        "REPO": "owner/project",
        "NUMBER": "42",
        "COMMENT_ID": load(COMMENT)["env"]["COMMENT_ID"],
        "GH_TOKEN": "not-used",
    }
    for name in ("Render the comment", "Create or update the comment"):
        script = step(COMMENT, name)["run"]
        result = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
    body = json.loads((tmp_path / "comment.json").read_text())["body"]
    assert body.startswith("<!-- pytest-imagesize:default -->\n### Image sizes")
    return (tmp_path / "gh-calls").read_text().splitlines()


def test_the_comment_with_the_marker_is_updated(tmp_path: Path) -> None:
    comments = [
        {"id": 1, "user": {"login": "someone"}, "body": "<!-- pytest-imagesize:default -->\nfake"},
        {"id": 2, "user": {"login": "github-actions[bot]"}, "body": "unrelated"},
        {"id": 3, "user": {"login": "github-actions[bot]"}, "body": "<!-- pytest-imagesize:default -->\nold"},
    ]
    calls = post(tmp_path, comments)
    payload = f"--input {tmp_path}/comment.json --silent"
    assert calls[1] == f"api --method PATCH repos/owner/project/issues/comments/3 {payload}"


def test_without_one_a_comment_is_created(tmp_path: Path) -> None:
    comments = [{"id": 1, "user": {"login": "someone"}, "body": "<!-- pytest-imagesize:default -->\nfake"}]
    calls = post(tmp_path, comments)
    payload = f"--input {tmp_path}/comment.json --silent"
    assert calls[1] == f"api --method POST repos/owner/project/issues/42/comments {payload}"
