"""Settings from flags, environment variables and the configuration file.

Every option is declared once as an :class:`Option`. :func:`add_options` puts it on an argparse
parser (its ``--help`` names the environment variable); :func:`resolve` picks, per option, the
first of: the flag, the ``WHEELSHIP_*`` environment variable, the configuration file section, the
default — and records which source won, so the debug log can say so without printing secrets.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
class Option:
    """One setting: ``--flag`` / ``WHEELSHIP_ENV`` / config key ``dest``."""

    dest: str
    flags: tuple[str, ...]
    help: str
    env: str | None = None
    default: Any = None
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    kind: str = "value"  # value | flag (store_true) | list (repeatable, or comma list from env)
    metavar: str | None = None
    secret: bool = False
    config_key: str | None = None  # key in the config section; None = dest with '_' -> '-'

    @property
    def env_name(self) -> str:
        return self.env or "WHEELSHIP_" + self.dest.upper()

    @property
    def key(self) -> str:
        return self.config_key or self.dest.replace("_", "-")


def opt(dest: str, *flags: str, help: str, **kwargs: Any) -> Option:
    return Option(dest=dest, flags=flags or (f"--{dest.replace('_', '-')}",), help=help, **kwargs)


def add_options(parser: argparse.ArgumentParser, options: Iterable[Option]) -> None:
    for o in options:
        default_txt = "" if o.default in (None, False, [], ()) else f"; default: {o.default}"
        helptext = f"{o.help} [env: {o.env_name}{default_txt}]"
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
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

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
        value = o.type(raw) if isinstance(raw, str) else raw
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
