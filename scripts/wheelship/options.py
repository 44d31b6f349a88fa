"""The one option layer: options from flags, environment variables and the configuration file.

Every option is declared once as an :class:`Option` — the ones several commands share right here
(:data:`PROJECT`, :data:`CONFIG`, :data:`DIST`, ...), the others in their command's module.
:func:`add_options` puts options on an argparse parser (``--help`` names the environment
variable); :func:`load` reads the configuration file once (validated against the schema), then
:func:`resolve` picks, per option, the first of: the flag, the ``WHEELSHIP_*`` environment
variable, the command's section of the file, the default — and records which source won, so the
debug log can say so without printing secrets. Path options come out as
:class:`~pathlib.Path` objects (joined to ``--project`` where the option says so), checked
before any work starts (:func:`check_path`). Each settings
class is built from the :class:`Resolved` options by its one ``from_options`` constructor.

An option's value type (:class:`ValueType`) also gives its JSON Schema, so the schema's command
sections (``ci/schema.py`` generates them) cannot disagree with the flags.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wheelship import config as config_file
from wheelship import log
from wheelship.errors import ConfigurationError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def parse_list(text: str) -> list[str]:
    """Comma- or whitespace-separated values."""
    return [part for part in text.replace(",", " ").split() if part]


@dataclass(frozen=True)
class ValueType:
    """How an option's text becomes its value, and the JSON Schema of the value in the file."""

    name: str
    parse: Callable[[str], Any]
    schema: Mapping[str, Any]

    def __call__(self, text: str) -> Any:
        return self.parse(text)


def _integer(minimum: int | None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {text!r}") from None
        if minimum is not None and value < minimum:
            raise ValueError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"{text!r} is not a regular expression ({exc})") from None
    return text


def _variable(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        # not echoed: a value where a variable's name belongs may be the secret itself
        raise ValueError("expected the name of an environment variable (letters, digits, _)")
    return text


#: ``${VAR}`` expands to a string: integers may be written as strings of digits.
_DIGITS = {0: "^[0-9]+$", 1: "^0*[1-9][0-9]*$"}
#: http only to loopback (the rule of :func:`wheelship.net.check_url`), in a form editors check.
URL_PATTERN = (
    r"^(https://[^/\s@]+|http://(localhost|127\.[0-9]+\.[0-9]+\.[0-9]+|\[::1\])(:[0-9]+)?)"
    r"(/[^\s]*)?$"
)
URL_MESSAGE = (
    "not an https:// URL, or plain http to a non-loopback host (plain http only to 127.0.0.1, "
    "localhost or [::1]; no user:password@)"
)

TEXT = ValueType("text", str, {"type": "string"})
NATURAL = ValueType(
    "natural", _integer(0), {"type": ["integer", "string"], "minimum": 0, "pattern": _DIGITS[0]}
)
POSITIVE = ValueType(
    "positive", _integer(1), {"type": ["integer", "string"], "minimum": 1, "pattern": _DIGITS[1]}
)
#: A URL: the work layer checks it with :func:`wheelship.net.check_url` (its message names the
#: option's role); the schema states the same rule for the file.
URL = ValueType("url", str, {"type": "string", "pattern": URL_PATTERN, "x-message": URL_MESSAGE})
REGEX = ValueType("regex", _regex, {"type": "string", "format": "regex"})
#: A regex whose named groups the commands read (x-groups: see wheelship.schema).
TAG_REGEX = ValueType("regex", _regex, {**REGEX.schema, "x-groups": ["major", "minor", "patch"]})
BRANCH_REGEX = ValueType("regex", _regex, {**REGEX.schema, "x-groups": ["major", "minor"]})
#: The name of an environment variable (an option naming where a secret is, never the secret).
VARIABLE = ValueType(
    "variable",
    _variable,
    {
        "type": "string",
        "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
        "x-message": "expected the name of an environment variable (letters, digits, _)",
    },
)

#: What a path option names: an existing input ``dir`` or ``file``, or an output ``out-file``
#: or ``out-dir`` (created when missing).
PathKind = Literal["dir", "file", "out-file", "out-dir"]


@dataclass(frozen=True)
class Option:
    """One setting: ``--flag`` / ``WHEELSHIP_ENV`` / config key ``dest``."""

    dest: str
    flags: tuple[str, ...]
    help: str
    env: str | None = None
    default: Any = None
    type: Callable[[str], Any] = TEXT
    choices: tuple[str, ...] | None = None
    kind: Literal["value", "flag", "list"] = "value"  # list: repeatable, or comma list from env
    metavar: str | None = None
    secret: bool = False
    config_key: str | None = None  # key in the config section; None = dest with '_' -> '-'
    path: PathKind | None = None  # a path, checked before any work (see check_path)
    under_project: bool = False  # a relative path is relative to --project (else to the cwd)
    in_file: bool = True  # may be set in the configuration file's command section
    make_parents: bool = False  # an out-file whose missing directories are created (reports)

    @property
    def env_name(self) -> str:
        return self.env or "WHEELSHIP_" + self.dest.upper()

    @property
    def key(self) -> str:
        return self.config_key or self.dest.replace("_", "-")

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of this option's value in the configuration file."""
        out: dict[str, Any] = {"description": self.help}
        if self.kind == "flag":
            out["type"] = "boolean"
        elif self.choices:
            out.update(type="string", enum=list(self.choices))
        else:
            value = (
                dict(self.type.schema) if isinstance(self.type, ValueType) else {"type": "string"}
            )
            if self.kind == "list":
                out["anyOf"] = [value, {"type": "array", "items": value}]
            else:
                out.update(value)
        if self.default not in (None, [], ()):
            out["default"] = self.default
        return out


def opt(dest: str, *flags: str, help: str, **kwargs: Any) -> Option:
    return Option(dest=dest, flags=flags or (f"--{dest.replace('_', '-')}",), help=help, **kwargs)


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for o in options:
        default_txt = "" if o.default in (None, False, [], ()) else f"; default: {o.default}"
        helptext = f"{o.help} [env: {o.env_name}{default_txt}]"
        if o.help == argparse.SUPPRESS:
            helptext = o.help
        if o.kind == "flag":
            parser.add_argument(
                *o.flags, dest=o.dest, action="store_true", default=None, help=helptext
            )
        elif o.kind == "list":
            parser.add_argument(
                *o.flags,
                dest=o.dest,
                action="append",
                default=None,
                metavar=o.metavar,
                help=helptext + " (repeatable)",
            )
        else:
            parser.add_argument(
                *o.flags,
                dest=o.dest,
                default=None,
                metavar=o.metavar,
                choices=o.choices,
                help=helptext,
            )


@dataclass
class Resolved:
    """Resolved options: ``values`` by dest, the source that won each, and the whole loaded
    configuration file (``data``, read once per command; other sections for a command that runs
    another one's check, like tag's compat gate)."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    config: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


def _convert(o: Option, raw: Any, where: str) -> Any:
    try:
        if o.kind == "flag":
            return raw if isinstance(raw, bool) else parse_bool(str(raw))
        if o.kind == "list":
            items: list[str] = []
            for item in raw if isinstance(raw, list | tuple) else [raw]:
                items.extend(parse_list(str(item)) if where.startswith("env") else [str(item)])
            return [o.type(i) for i in items]
        if isinstance(raw, bool) and o.type is not TEXT:
            raise ValueError(f"expected a value, got {raw}")
        # YAML gives numbers as numbers: they are checked like the same text in a flag
        value = o.type(raw if isinstance(raw, str) else str(raw))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{where}: {exc}", f"fix the value of {where.split(' ')[-1]}"
        ) from None
    if o.choices and value not in o.choices:
        raise ConfigurationError(
            f"{where}: expected one of {', '.join(o.choices)}, got {value!r}",
            "use one of the listed values",
        )
    return value


def resolve(
    ns: argparse.Namespace,
    options: Iterable[Option],
    config: Mapping[str, Any] | None = None,
    config_path: str = "",
    environ: Mapping[str, str] | None = None,
    *,
    quiet: bool = False,
) -> Resolved:
    """Resolve every option: flag > env > config section > default.

    ``config`` is the command's section of the configuration file and ``config_path`` its key
    path (``tag``), used in error messages. Unknown keys in the section are refused. ``quiet``
    skips the debug log of the sources (for a first look at a few options that the command's
    full resolve logs anyway).
    """
    env = os.environ if environ is None else environ
    options = list(options)
    out = Resolved()
    if config:
        known = {o.key for o in options}
        unknown = sorted(set(config) - known)
        if unknown:
            where = f"{config_path}.{unknown[0]}" if config_path else unknown[0]
            raise ConfigurationError(
                f"{where}: unknown key", f"use one of {', '.join(sorted(known))}"
            )
    for o in options:
        flag_value = getattr(ns, o.dest, None)
        if flag_value is not None:
            value, source = _convert(o, flag_value, f"option {o.flags[0]}"), "flag"
        elif env.get(o.env_name, "") != "":
            # An empty variable is unset, for flags too: a CI template passes an input it was
            # given no value for as "", and that must leave the configuration file in charge.
            value = _convert(o, env[o.env_name], f"environment variable {o.env_name}")
            source = "env"
        elif config and o.key in config:
            where = f"{config_path}.{o.key}" if config_path else o.key
            value, source = _convert(o, config[o.key], f"configuration key {where}"), "config"
        else:
            value, source = o.default, "default"
            if o.kind == "list" and value is None:
                value = []
        out.values[o.dest] = value
        out.sources[o.dest] = source
        if not quiet:
            shown = "[MASKED]" if o.secret else repr(value)
            log.debug(f"setting {o.dest} = {shown} (from {source})")
    return out


# -- options several commands share, declared once ---------------------------------------------

PROJECT = opt(
    "project",
    help="the project directory (where its pyproject.toml and wheelship.yml are); relative "
    "paths of other options are relative to it unless they say otherwise",
    default=".",
    metavar="DIR",
    path="dir",
    in_file=False,
)
CONFIG = opt(
    "config",
    help="the wheelship configuration file, relative to --project (default: wheelship.yml "
    "there, when it exists; a file named here must exist)",
    metavar="FILE",
    in_file=False,
)
DIST = opt(
    "dist",
    help="directory with the built files and wheelship-manifest.json, relative to --project",
    default="dist",
    metavar="DIR",
    path="dir",
    under_project=True,
)
TAG_PATTERN = opt(
    "tag_pattern",
    help="regular expression of release tags, with named groups major/minor/patch "
    "(and optional pre_label/pre_num)",
    type=TAG_REGEX,
    metavar="RX",
)
RELEASE_BRANCH_PATTERN = opt(
    "release_branch_pattern",
    help="regular expression of release branches, with named groups major and minor "
    "(default: ^release/X.Y$)",
    type=BRANCH_REGEX,
    metavar="RX",
)
OFFLINE = opt(
    "offline",
    help="never fetch tags or history from origin (a shallow clone is then an error)",
    kind="flag",
    default=False,
)
TARGET = opt(
    "target",
    help="the deploy target (a key of targets:), or a group of them (a key of groups:)",
    metavar="T",
)
OUT = opt(
    "out",
    help="where plan, report and runbook files are written, relative to --project",
    default=".",
    metavar="DIR",
    path="out-dir",
    under_project=True,
)
CONCURRENCY = opt(
    "concurrency",
    help="how many job/cluster calls run at once",
    type=POSITIVE,
    default=16,
    metavar="N",
)

#: Keys of the ``version:`` section that every command reading tags shares: one tag pattern (and
#: one fetch policy) for the project, so version, build, tag and compat see the same releases.
SHARED_VERSION_KEYS = ("tag-pattern", "offline")


def command_section(
    data: Mapping[str, Any],
    name: str,
    options: Iterable[Option],
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``name:`` section, falling back to the ``version:`` section for the shared keys the
    command has (its own section and its flags still win)."""
    keys = {o.key for o in options} & set(SHARED_VERSION_KEYS)
    version = config_file.section(data, "version")
    merged = {
        **{k: version[k] for k in sorted(keys) if k in version},
        **config_file.section(data, name),
    }
    check_one_tag_pattern(merged, environ)
    return merged


def check_one_tag_pattern(
    section: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> None:
    """The templates' rules decide with WHEELSHIP_TAG_PATTERN which tags start a release
    pipeline; a different pattern in wheelship.yml would be silently outvoted by it (the variable
    wins), so the jobs and the file would disagree about what a release is."""
    env = os.environ if environ is None else environ
    given, written = env.get("WHEELSHIP_TAG_PATTERN", ""), section.get("tag-pattern")
    if given and written and unslash(given) != unslash(str(written)):
        raise ConfigurationError(
            f"WHEELSHIP_TAG_PATTERN {given!r} (the templates' release-tag-pattern input, which "
            f"their rules use) differs from tag-pattern {written!r} in wheelship.yml",
            "set the release-tag-pattern input to the pattern between slashes and delete "
            "tag-pattern from wheelship.yml (rules cannot read the file)",
        )


def unslash(pattern: str) -> str:
    """A pattern in GitLab's ``/regex/`` form (how the templates' variable holds it, since
    ``=~`` takes a regex from a variable only in that form) as a plain regex."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        return pattern[1:-1]
    return pattern


def load(
    ns: argparse.Namespace,
    options: Iterable[Option],
    section: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Resolved:
    """Resolve a command's options: find ``--project``/``--config``, read and validate the
    configuration file once, resolve every option against the ``section`` of it, then make path
    options absolute and check them. Nothing is read from disk when ``section`` is None."""
    options = list(options)
    data: dict[str, Any] = {}
    path: Path | None = None
    first = resolve(
        ns, [o for o in options if o.dest in ("project", "config")], None, "", environ, quiet=True
    )
    project = Path(first.get("project") or ".")
    if section is not None:
        if not project.is_dir():
            what = "is not a directory" if project.exists() else "does not exist"
            raise ConfigurationError(
                f"project directory {project} {what}", "pass --project DIR of a Python project"
            )
        cfg = Path(first.get("config") or config_file.DEFAULT_CONFIG)
        path = cfg if cfg.is_absolute() else project / cfg
        named = first.sources.get("config", "default") != "default"
        data = config_file.load(path, required=named, environ=environ)
    sect = command_section(data, section, options, environ) if section else None
    out = resolve(ns, options, sect, section or "", environ)
    out.data, out.config = data, path
    for o in options:
        if o.path is None or o.dest == "project":
            continue
        value = out.values.get(o.dest)
        if value in (None, ""):
            out.values[o.dest] = None
            continue
        p = Path(str(value)).expanduser()
        if o.under_project and not p.is_absolute():
            p = project / p
        # name where the value came from: the flag, the variable or the file's key
        source = out.sources[o.dest]
        where = {"env": o.env_name, "config": f"{section}.{o.key}"}.get(source, o.flags[0])
        out.values[o.dest] = check_path(p, o.path, where, make_parents=o.make_parents)
    if "project" in out.values:
        out.values["project"] = project
    return out


def check_path(
    path: Path, kind: PathKind, flag: str, *, required: bool = False, make_parents: bool = False
) -> Path:
    """Refuse, before any work, a path that cannot serve as ``kind``: a file where a directory
    belongs or the other way round, an output in a directory that does not exist, or one that
    cannot be written. A missing input is left to the work layer (it knows what to suggest)
    unless ``required``."""

    def refuse(what: str, fix: str) -> ConfigurationError:
        return ConfigurationError(f"{flag} {path}: {what}", fix)

    if kind in ("dir", "out-dir") and path.exists() and not path.is_dir():
        raise refuse("is not a directory", f"pass a directory with {flag}")
    if kind in ("file", "out-file") and path.is_dir():
        raise refuse("is a directory", f"pass a file path with {flag}")
    if kind in ("dir", "file"):
        if required and not path.exists():
            raise refuse("does not exist", f"pass an existing path with {flag}")
        return path
    # outputs: the file's directory must exist; a directory is created under a writable one
    parent = path.parent if kind == "out-file" else path
    if kind == "out-file" and not make_parents and not parent.is_dir():
        what = "is not a directory" if parent.exists() else "does not exist"
        raise refuse(f"its directory {parent} {what}", f"create it or pass another {flag}")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise refuse(f"{probe} is not a directory", f"pass another {flag}")
    writable = path if path.exists() else probe
    if not os.access(writable, os.W_OK) or (writable.is_dir() and not _can_create_in(writable)):
        raise refuse(f"{writable} is not writable", f"pass a writable {flag}")
    return path


def _can_create_in(directory: Path) -> bool:
    """Whether an entry can really be made in ``directory``: ``os.access`` says yes to root
    everywhere, also where the file system refuses (/proc, /sys), and the output would then fail
    after the work was done. The probe leaves nothing behind."""
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".wheelship-probe-", dir=directory))
    except OSError:
        return False
    return True
