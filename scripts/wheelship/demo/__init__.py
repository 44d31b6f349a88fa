"""The bundled example project (``tsff``) and the demo built on it."""

from __future__ import annotations

from wheelship.demo.project import EXAMPLE_DIR, EXAMPLE_TAG, example_project

__all__ = ["EXAMPLE_DIR", "EXAMPLE_TAG", "example_project"]
