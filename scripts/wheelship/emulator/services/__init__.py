"""One module per REST service; each exposes ``register(router)``."""

from __future__ import annotations

from wheelship.emulator.router import Router


def register_all(router: Router) -> None:
    from wheelship.emulator.services import (
        clusters,
        control,
        dbfs,
        files,
        grants,
        identity,
        jobs,
        libraries,
        permissions,
        workspace,
    )

    for module in (
        identity,
        files,
        workspace,
        dbfs,
        libraries,
        clusters,
        jobs,
        permissions,
        grants,
        control,
    ):
        module.register(router)
