"""Pieces shared by the command modules: the ``--catalog`` option and the one-line error exit."""

from __future__ import annotations

import pathlib
from typing import Annotated

import typer

CatalogOption = Annotated[
    pathlib.Path,
    typer.Option("--catalog", "-c", help="Root folder of the static STAC catalog."),
]


def fail(error: Exception) -> typer.Exit:
    """Print an s1stac error as one clear line and return the exit to raise."""
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)
