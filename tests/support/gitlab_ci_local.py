"""Run real GitLab pipelines locally with gitlab-ci-local (pinned in ci/node/package.json).

Every job runs in host bash (``--force-shell-executor``; ``image:`` is ignored) inside its own
rsync copy of the project (``--shell-isolation``), and artifacts stay in the state directory
(``--no-artifacts-to-source``), so a run leaves the consumer's work tree untouched. GitLab's
pipeline kinds are simulated with predefined variables (see :class:`Pipeline`); gitlab-ci-local
reads any ``GCL*`` environment variable as an option, so none is passed on.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "ci" / "node"
BINARY = NODE_DIR / "node_modules" / ".bin" / "gitlab-ci-local"
SEMVER_TAG = r"^v?\d+\.\d+\.\d+(-rc\.\d+)?$"

# Overriding predefined variables is how pipeline kinds are simulated; say so once, quietly.
_PREDEFINED = (
    "CI_PIPELINE_SOURCE,CI_COMMIT_TAG,CI_COMMIT_REF_NAME,CI_COMMIT_BRANCH,CI_PIPELINE_IID,"
    "CI_MERGE_REQUEST_IID,CI_MERGE_REQUEST_TARGET_BRANCH_NAME,CI_MERGE_REQUEST_SOURCE_BRANCH_NAME,"
    "CI_DEFAULT_BRANCH,CI_OPEN_MERGE_REQUESTS,CI_PROJECT_ID,CI_API_V4_URL,CI_SERVER_URL,CI_JOB_TOKEN"
)


def available() -> str | None:
    """Why pipelines cannot run here, or None when they can."""
    if not BINARY.exists():
        return f"{BINARY} is missing: run 'npm ci' in ci/node (ci/test.sh does)"
    if shutil.which("node") is None:
        return "node is not installed"
    if shutil.which("rsync") is None:
        return "rsync is not installed (gitlab-ci-local needs it): apt-get install rsync"
    return None


def file_name(job: str) -> str:
    """The name gitlab-ci-local files a job's log and artifacts under: runs of characters other
    than word characters and '-' base64url-encoded (``wheelship-fleet: [eu]`` ->
    ``wheelship-fleetOiBbeuXQ``), as its ``safeDockerString`` does."""
    return re.sub(
        r"[^\w-]+",
        lambda m: base64.urlsafe_b64encode(m.group(0).encode()).decode().rstrip("="),
        job,
    )


@dataclass(frozen=True)
class Runner:
    """The e2e "runner" (tests/e2e/conftest.py makes it): a venv every job's python is, a
    wheel of this tree, and the environment for gitlab-ci-local. Here, not in the conftest, so
    test modules import it by a name no other conftest shadows, whatever is collected first."""

    venv: Path
    wheel: Path
    env: dict[str, str]

    @property
    def test_knob_install_inputs(self) -> dict[str, str]:
        """TEST KNOB (no consumer sets these): template inputs that make jobs install this
        tree's wheelship from a wheel file without its dependencies (the runner has them), so
        no job reaches an index. The default path — every dependency from the team's index —
        is what tests/e2e/test_first_pipelines.py, test_library_projects.py and
        test_fleet_pipeline.py run."""
        return {"wheelship": str(self.wheel), "install-args": "--no-deps"}


#: TEST KNOB (no consumer sets it): build with the runner's interpreter, which has the build
#: requirements, instead of the templates' default cached build environments.
TEST_KNOB_NO_ISOLATION = {"WHEELSHIP_ISOLATION": "none"}


@dataclass(frozen=True)
class Pipeline:
    """The predefined variables of one kind of GitLab pipeline."""

    variables: Mapping[str, str]
    unset: tuple[str, ...] = ()

    @classmethod
    def branch(cls, name: str, *, iid: int = 7, source: str = "push") -> Pipeline:
        return cls(
            {
                "CI_PIPELINE_SOURCE": source,
                "CI_COMMIT_BRANCH": name,
                "CI_COMMIT_REF_NAME": name,
                "CI_PIPELINE_IID": str(iid),
            }
        )

    @classmethod
    def merge_request(
        cls, source: str, target: str = "main", *, mr_iid: int = 12, iid: int = 7
    ) -> Pipeline:
        # GitLab sets no CI_COMMIT_BRANCH in merge-request pipelines.
        return cls(
            {
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_COMMIT_REF_NAME": source,
                "CI_MERGE_REQUEST_IID": str(mr_iid),
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": source,
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": target,
                "CI_PIPELINE_IID": str(iid),
            },
            unset=("CI_COMMIT_BRANCH",),
        )

    @classmethod
    def tag(cls, tag: str, *, iid: int = 7) -> Pipeline:
        # Real GitLab: no branch in tag pipelines, the ref is the tag.
        return cls(
            {
                "CI_PIPELINE_SOURCE": "push",
                "CI_COMMIT_TAG": tag,
                "CI_COMMIT_REF_NAME": tag,
                "CI_PIPELINE_IID": str(iid),
            },
            unset=("CI_COMMIT_BRANCH",),
        )

    @classmethod
    def schedule(cls, branch: str = "main", *, iid: int = 7) -> Pipeline:
        return cls.branch(branch, iid=iid, source="schedule")


@dataclass
class Job:
    name: str
    stage: str
    when: str
    needs: list[str] = field(default_factory=list)
    allow_failure: bool = False


@dataclass
class PipelineRun:
    project: Path
    returncode: int
    output: str
    seconds: float
    kept: Path | None = None

    @property
    def state_dir(self) -> Path:
        return self.kept or self.project / ".gitlab-ci-local"

    def keep(self, dest: Path) -> PipelineRun:
        """A copy of this run's logs and artifacts in ``dest``: the next run of the same project
        overwrites them (and reuses the artifacts, like later jobs of one GitLab pipeline)."""
        for part in ("output", "artifacts"):
            if (self.state_dir / part).exists():
                shutil.copytree(self.state_dir / part, dest / part, dirs_exist_ok=True)
        return PipelineRun(self.project, self.returncode, self.output, self.seconds, dest)

    def log(self, job: str) -> str:
        path = self.state_dir / "output" / f"{file_name(job)}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def artifacts(self, job: str) -> Path:
        """The directory with the job's artifacts (paths as in the project)."""
        return self.state_dir / "artifacts" / file_name(job)

    def dotenv(self, job: str) -> dict[str, str]:
        """The dotenv report the job exported, as later jobs see it."""
        for path in sorted((self.state_dir / "artifacts").glob(f"{job}/.gitlab-ci-reports/**/*")):
            if path.is_file() and path.suffix == ".env":
                return dict(
                    line.split("=", 1) for line in path.read_text().splitlines() if "=" in line
                )
        return {}

    def passed(self, job: str) -> bool:
        return f"PASS  {job}" in self.output or f"PASS {job}" in self.output

    def explain(self) -> str:
        """Everything useful for an assertion message."""
        logs = sorted((self.state_dir / "output").glob("*.log"))
        parts = [f"gitlab-ci-local exit {self.returncode} in {self.seconds:.1f}s", self.output]
        parts += [f"--- {p.stem} ---\n{p.read_text(errors='replace')[-6000:]}" for p in logs]
        return "\n".join(parts)


class GitlabCiLocal:
    """gitlab-ci-local bound to one project directory and one job environment."""

    def __init__(
        self,
        project: Path,
        *,
        env: Mapping[str, str] | None = None,
        home: Path | None = None,
        timeout: float = 600,
    ) -> None:
        self.project = project
        self.home = home or project.parent / "gcl-home"
        self.home.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.upper().startswith("GCL")}
        for noisy in ("PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "COV_CORE_SOURCE"):
            base.pop(noisy, None)
        self.env = {**base, **(env or {}), "NO_COLOR": "1", "FORCE_COLOR": "0"}
        self.timeout = timeout

    def _command(
        self,
        args: Sequence[str],
        pipeline: Pipeline | None,
        variables: Mapping[str, str] | None,
        inputs: Mapping[str, str] | None,
    ) -> list[str]:
        cmd = [
            str(BINARY),
            "--home",
            str(self.home),
            "--no-color",
            "--force-shell-executor",
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--ignore-predefined-vars",
            _PREDEFINED,
        ]
        merged = {**(pipeline.variables if pipeline else {}), **(variables or {})}
        for key, value in merged.items():
            cmd += ["--variable", f"{key}={value}"]
        for key in pipeline.unset if pipeline else ():
            cmd += ["--unset-variable", key]
        for key, value in (inputs or {}).items():
            cmd += ["--input", f"{key}={value}"]
        return cmd + list(args)

    def _run(self, cmd: list[str], timeout: float | None = None) -> tuple[int, str, float]:
        start = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout or self.timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - start

    def run(
        self,
        *jobs: str,
        pipeline: Pipeline | None = None,
        variables: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
        manual: Sequence[str] = (),
        needs: bool = False,
        concurrency: int = 2,
    ) -> PipelineRun:
        """Run the pipeline (or ``jobs``, with ``needs=True`` their needed jobs too)."""
        args = [f"--concurrency={concurrency}"]
        for name in manual:
            args += ["--manual", name]
        if needs:
            args.append("--needs")
        code, out, seconds = self._run(self._command([*args, *jobs], pipeline, variables, inputs))
        return PipelineRun(self.project, code, out, seconds)

    def jobs(
        self,
        pipeline: Pipeline | None = None,
        variables: Mapping[str, str] | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> dict[str, Job]:
        """The jobs the pipeline would have (``when: never`` left out), without running any."""
        code, out, _ = self._run(
            self._command(["--list-json"], pipeline, variables, inputs), timeout=120
        )
        if code != 0:
            raise AssertionError(f"gitlab-ci-local --list-json failed ({code}):\n{out}")
        start = out.index("[")
        data: list[dict[str, Any]] = json.loads(out[start : out.rindex("]") + 1])
        jobs = {}
        for item in data:
            if item.get("when") == "never":
                continue
            needs = [n if isinstance(n, str) else n.get("job", "") for n in item.get("needs") or []]
            jobs[item["name"]] = Job(
                item["name"],
                item.get("stage", ""),
                item.get("when", ""),
                needs,
                bool(item.get("allow_failure", False)),
            )
        return jobs

    def preview(
        self, pipeline: Pipeline | None = None, inputs: Mapping[str, str] | None = None
    ) -> str:
        """The pipeline with includes, inputs and extends expanded (one YAML document)."""
        cmd = self._command(["--preview"], pipeline, None, inputs)
        proc = subprocess.run(
            cmd,
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise AssertionError(f"gitlab-ci-local --preview failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout
