"""``wheelship demo``: build the example, deploy it to an embedded workspace, show every view.

1. a tagged git copy of the example project ``tsff``; build 1.0.0, the version in production;
2. an embedded workspace emulator on loopback, seeded with jobs and clusters on 1.0.0;
3. a new release (tag v1.1.0) and its build;
4. ``plan``, ``deploy``, ``status`` and the admin ``runbook``, exactly as the CLI runs them;
5. the admin applies the runbook's API calls to the restricted cluster: one version live;
6. the emulator stops; the project, the plan, the reports and the runbook stay in the work dir.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from wheelship import log
from wheelship.building.builder import BuildResult, BuildSettings, build_project
from wheelship.building.version import VersionSettings
from wheelship.databricks.auth import PatAuth
from wheelship.databricks.client import Client
from wheelship.demo import workspace
from wheelship.demo.project import commit_all, example_project
from wheelship.deploy import report, workflow
from wheelship.deploy.apply import Timing
from wheelship.emulator import Emulator
from wheelship.errors import ConfigurationError, WheelshipError

PREVIOUS_TAG = "v1.0.0"
NEW_TAG = "v1.1.0"
#: Simulated time runs this much faster than real time (cluster restarts, installs, runs).
CLOCK_SPEED = 200.0


@dataclass(frozen=True)
class DemoSettings:
    workdir: Path | None = None
    clock_speed: float = CLOCK_SPEED
    timing: Timing = field(
        default_factory=lambda: Timing(first=0.1, longest=0.5, progress_every=5.0)
    )


@dataclass
class DemoResult:
    workdir: Path
    project: Path
    seed_file: Path | None = None
    url: str = ""
    seconds: float = 0.0
    invariants: list[str] = field(default_factory=list)
    drift: bool = True


def _release(project: Path) -> None:
    """What the team does between two releases: a change, a commit, a tag."""
    changes = project / "CHANGELOG.md"
    changes.write_text("# Changelog\n\n## 1.1.0\n\n- Holt-Winters: damped trend by default.\n")
    commit_all(project, "Holt-Winters: damped trend", tag=NEW_TAG, who="demo")


def _isolation(project: Path) -> str:
    """``none`` (offline, this interpreter) when it already satisfies the example's build-system
    requirements, else ``cached``: deciding up front keeps the demo from announcing a build that
    it then starts again elsewhere."""
    import build

    requires = tomllib.loads((project / "pyproject.toml").read_text())["build-system"]["requires"]
    missing = [chain for req in requires for chain in build.check_dependency(req)]
    return "cached" if missing else "none"


def _build(project: Path, outdir: Path | None, isolation: list[str]) -> BuildResult:
    """Build offline with this interpreter's setuptools when it can (wheelship depends on it),
    else in the cached build environment. ``isolation`` remembers the choice for the next build."""
    version = VersionSettings(project=project)
    if isolation[0] == "none":
        try:
            return build_project(BuildSettings(version=version, outdir=outdir, isolation="none"))
        except WheelshipError as exc:
            log.info(f"building in a build environment instead ({exc.what})")
            isolation[0] = "cached"
    return build_project(BuildSettings(version=version, outdir=outdir, isolation=isolation[0]))


def _heading(step: str) -> None:
    log.result("")
    log.result(f"━━ {step} " + "━" * max(0, 72 - len(step)))


def run_demo(settings: DemoSettings) -> DemoResult:
    started = time.perf_counter()
    workdir = settings.workdir or Path(tempfile.mkdtemp(prefix="wheelship-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    project = workdir / "tsff"
    if project.exists():
        raise ConfigurationError(f"{project} already exists", "pass an empty --workdir")
    result = DemoResult(workdir=workdir, project=project)

    _heading("1. the example project tsff, and its release in production (1.0.0)")
    example_project(project, tag=PREVIOUS_TAG)
    isolation = [_isolation(project)]
    previous = _build(project, Path("dist-1.0.0"), isolation)
    log.result(f"built {previous.wheel.name} from tag {PREVIOUS_TAG} ({previous.seconds:.1f} s)")

    # ``source`` paths in a seed file are relative to the file: the work dir can move.
    wheel = Path(os.path.relpath(previous.wheel.resolve(), workdir.resolve()))
    seed = workspace.seed(wheel, previous.info.version)
    seed_file = workspace.write_seed(workdir / workspace.SEED_FILE, seed)
    result.seed_file = seed_file
    with Emulator(seed=seed_file, clock_speed=settings.clock_speed) as emu:
        result.url = emu.url
        _heading(f"2. an offline Databricks workspace at {emu.url}")
        log.result(
            f"seeded from {seed_file} (kept: 'wheelship emulator --seed-file' serves it again)"
        )
        log.result(
            "jobs tsff-train, tsff-score (serverless), tsff-backtest (for_each, pypi pin), "
            "tsff-smoke on tsff 1.0.0;"
        )
        log.result(
            "clusters forecasting-interactive (RUNNING), forecasting-nightly (TERMINATED), "
            "restricted-shared (admin only)"
        )

        _heading(f"3. a new release: tag {NEW_TAG}, build")
        _release(project)
        new = _build(project, None, isolation)
        log.result(f"built {new.wheel.name} ({new.seconds:.1f} s); manifest {new.manifest.version}")
        (project / "wheelship.yml").write_text(workspace.CONFIG)
        log.result(f"wrote {project / 'wheelship.yml'}")

        env = {
            "DATABRICKS_HOST": emu.url,
            "DATABRICKS_TOKEN": emu.token,
            "DATABRICKS_CONFIG_FILE": str(workdir / "no-databrickscfg"),
        }
        wf = workflow.Settings(
            config=project / "wheelship.yml",
            target="prod",
            dist=project / "dist",
            out=project / "out",
            project=project,
        )
        # the demo's workspace runs on a fast clock and its own credentials
        knobs = workflow.Knobs(timing=settings.timing, environ=env)

        _heading("4. wheelship plan --target prod   (read-only)")
        plan = workflow.run_plan(wf, knobs)
        log.result(report.plan_markdown(plan).rstrip())

        _heading("5. wheelship deploy --target prod")
        plan, applied = workflow.run_deploy(wf, knobs)
        log.result(
            f"deployed tsff {plan.version}: {applied.changed} change(s) in {applied.seconds:.1f} s, "
            f"{applied.requests} API requests"
        )
        for outcome in applied.clusters:
            log.result(
                f"  cluster {outcome.name}: {outcome.state}"
                + (" (restarted)" if outcome.restarted else "")
            )
        if applied.smoke:
            log.result(f"  smoke run {applied.smoke['run_id']}: {applied.smoke['result']}")
        for warning in [*plan.warnings, *applied.warnings]:
            log.result(f"  note: {warning}")
        again, _ = workflow.run_deploy(
            dataclasses.replace(wf, out=project / "out" / "rerun"), knobs
        )
        log.result(f"and again: {report.plan_summary(again)}")

        _heading("6. wheelship status --target prod")
        st = workflow.run_status(wf, knobs)
        log.result(report.status_text(st))
        result.drift = st.drift

        _heading("7. the admin runbook for the restricted cluster (runbook.md)")
        text = (project / "out" / "runbook.md").read_text()
        log.result(_abridged(text))

        _heading("8. the admin sends the runbook's API calls; status again")
        book = json.loads((project / "out" / "runbook.json").read_text())
        admin = Client(emu.url, PatAuth(emu.token))
        try:
            for entry in book["clusters"]:
                for call in entry["api_calls"]:
                    if call["method"] != "GET":
                        admin.request(call["method"], call["path"], json_body=call["body"])
                        log.result(f"{call['method']} {call['path']} {json.dumps(call['body'])}")
        finally:
            admin.close()
        emu.settle()  # the restart and the installs finish (simulated time)
        st = workflow.run_status(wf, knobs)
        log.result(report.status_text(st))
        result.drift = st.drift
        result.invariants = emu.invariants()
        if result.invariants:
            log.warn("workspace invariants broken: " + "; ".join(result.invariants))

    result.seconds = time.perf_counter() - started
    _heading("done")
    log.result(f"emulator stopped; demo took {result.seconds:.1f} s")
    log.result(f"project, plan, deploy report and runbook: {project}/ and {project / 'out'}/")
    log.result(f"the workspace before the deploy: {seed_file}")
    log.result(
        f"next: 'wheelship emulator --seed-file {seed_file}' serves that workspace for your own "
        "wheelship.yml (README: Try it on your own project)"
    )
    return result


def _abridged(markdown: str, lines: int = 40) -> str:
    out = markdown.rstrip().splitlines()
    if len(out) <= lines:
        return "\n".join(out)
    return "\n".join([*out[:lines], f"… ({len(out) - lines} more lines in runbook.md)"])
