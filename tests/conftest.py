"""Fixtures shared by the tests."""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from perfgen.cli import main

EXAMPLE = Path(__file__).parent / "fixtures" / "example"


@pytest.fixture
def example_project(tmp_path: Path) -> Path:
    """A fresh copy of the example project (``config/services.yml`` and ``data/*.csv``)."""
    project = tmp_path / "example"
    shutil.copytree(EXAMPLE, project)
    return project


# --- Broken builds: what a user sees, and the published site left alone ----------------------


def tree_hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@dataclass(frozen=True)
class PublishedExample:
    site: Path
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def published_example(tmp_path_factory: pytest.TempPathFactory) -> PublishedExample:
    """The example built once with ``perfgen build``: the site a later, broken build must not touch."""
    root = tmp_path_factory.mktemp("published")
    project = root / "example"
    shutil.copytree(EXAMPLE, project)
    site = root / "site"
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.chdir(project)
        code = main(["build", "--config", "config/services.yml", "--data", "data", "--output", str(site), "--workers", "1"])
    return PublishedExample(site, code, out.getvalue(), err.getvalue())


@pytest.fixture
def failing_build(example_project: Path, published_example: PublishedExample, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``perfgen build`` (or another command) in ``example_project`` and return its problem lines.

    Checks what every failed run must do: exit code 1, no traceback, a closing line counting the
    problems, and the previously published site byte for byte as it was.
    """
    assert published_example.exit_code == 0, published_example.stderr
    site = published_example.site
    before = tree_hashes(site)

    def run(*options: str, command: str = "build") -> str:
        monkeypatch.chdir(example_project)
        argv = [command, "--config", "config/services.yml", "--data", "data"]
        if command == "build":
            argv += ["--output", str(site)]
        capsys.readouterr()
        code = main(argv + list(options))
        out, err = capsys.readouterr()
        assert code == 1, err
        assert "Traceback" not in err + out
        *problems, summary = err.rstrip("\n").split("\n")
        errors = sum(line.startswith("error: ") for line in problems)
        assert re.fullmatch(rf"perfgen: {errors} problems? in the [^;]+; nothing was written", summary), summary
        assert tree_hashes(site) == before
        assert sorted(p.name for p in site.parent.iterdir()) == ["example", "site"], "a staging folder was left behind"
        run.summary = summary  # type: ignore[attr-defined]
        return "\n".join(problems)

    return run
