"""``s1stac timeseries``, ``s1stac timescan`` and ``s1stac mosaic``: the OST batch steps.

Each command calls one function of :mod:`s1stac.pipeline` on the catalog (OST's
``grds_to_ards(timeseries=True, timescan=True, mosaic=True)`` as three steps); complete
products are skipped unless ``--overwrite``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable
from typing import Annotated, Any

import pystac
import typer

from s1stac._cli_options import CatalogOption, fail
from s1stac.errors import S1StacError

TrackOption = Annotated[
    int | None, typer.Option("--track", help="Relative orbit to process (default: every track).")
]
SchedulerOption = Annotated[
    str | None,
    typer.Option(help="Dask scheduler: threads (default), processes or tcp://host:8786."),
]
OverwriteOption = Annotated[
    bool, typer.Option("--overwrite", help="Redo products that are already complete.")
]
AoiOption = Annotated[
    str | None,
    typer.Option(help="Cut to this area: WKT, GeoJSON, 'minx,miny,maxx,maxy' or a vector file."),
]


def _run(job: Callable[[], Iterable[pystac.Item]]) -> None:
    try:
        items = list(job())
    except S1StacError as error:
        raise fail(error) from error
    for item in items:
        typer.echo(f"{item.collection_id}/{item.id}: {item.get_self_href()}")


def register(app: typer.Typer) -> None:
    """Add the three commands to ``app``."""

    @app.command()
    def timeseries(
        catalog: CatalogOption = pathlib.Path("catalog"),
        track: TrackOption = None,
        polarisation: Annotated[
            list[str] | None,
            typer.Option(
                "--polarisation", "-p", help="VV, VH, HH or HV (repeatable; default all)."
            ),
        ] = None,
        mt_filter: Annotated[
            str,
            typer.Option(
                "--mt-filter", help="Multi-temporal speckle filter: boxcar, refined_lee or none."
            ),
        ] = "boxcar",
        db: Annotated[bool, typer.Option("--db/--linear", help="Write dB or linear power.")] = True,
        dtype: Annotated[
            str, typer.Option(help="float32 (NaN no-data), uint8 or uint16 (OST codes, 0 no-data).")
        ] = "float32",
        ls_mask: Annotated[
            bool, typer.Option("--ls-mask", help="Exclude layover/shadow of any date.")
        ] = False,
        overwrite: OverwriteOption = False,
        scheduler: SchedulerOption = None,
    ) -> None:
        """Time series of every track from s1-ard into s1-timeseries (common extent, filter, dB)."""
        from s1stac.pipeline import timeseries as run

        def job() -> Iterable[pystac.Item]:
            return run(
                catalog,
                track=track,
                polarisations=polarisation,
                mt_speckle_filter=None if mt_filter.lower() == "none" else mt_filter,  # type: ignore[arg-type]
                to_db=db,
                dtype=dtype,  # type: ignore[arg-type] # checked by timeseries
                ls_mask=ls_mask,
                overwrite=overwrite,
                scheduler=scheduler,
                progress=True,
            )

        _run(job)

    @app.command()
    def timescan(
        catalog: CatalogOption = pathlib.Path("catalog"),
        metric: Annotated[
            list[str] | None,
            typer.Option(
                "--metric",
                "-m",
                help="avg, max, min, std, cov, median, count, pNN, percentiles, harmonics "
                "(repeatable; default avg max min std cov).",
            ),
        ] = None,
        percentile: Annotated[
            list[float] | None,
            typer.Option(help="Percentiles of the 'percentiles' metric (default 5 and 95)."),
        ] = None,
        outliers: Annotated[
            bool,
            typer.Option(
                "--remove-outliers/--keep-outliers",
                help="OST outlier removal (p5-p95 trimmed mean +- 2 std) before the metrics.",
            ),
        ] = True,
        dtype: Annotated[
            str, typer.Option(help="float32, or uint8 / uint16 codes of OST's metric ranges.")
        ] = "float32",
        track: TrackOption = None,
        overwrite: OverwriteOption = False,
        scheduler: SchedulerOption = None,
    ) -> None:
        """Timescan metrics of every track's time series into s1-timescan."""
        from s1stac.pipeline import timescan_products

        options: dict[str, Any] = {"remove_outliers": outliers, "dtype": dtype}
        if metric:
            options["metrics"] = metric
        if percentile:
            options["percentiles"] = percentile

        def job() -> Iterable[pystac.Item]:
            return timescan_products(
                catalog,
                track=track,
                overwrite=overwrite,
                scheduler=scheduler,
                progress=True,
                **options,
            )

        _run(job)

    @app.command()
    def mosaic(
        catalog: CatalogOption = pathlib.Path("catalog"),
        timeseries: Annotated[
            bool,
            typer.Option(
                "--timeseries",
                help="Mosaic the time series date by date instead of the timescans.",
            ),
        ] = False,
        window_days: Annotated[
            float, typer.Option(help="Dates of the tracks within this many days are paired.")
        ] = 6.0,
        aoi: AoiOption = None,
        harmonise: Annotated[
            bool,
            typer.Option(
                "--harmonise/--no-harmonise", help="Gains of the tracks from their overlaps."
            ),
        ] = True,
        feather: Annotated[
            float | None,
            typer.Option(
                help="Pixels over which weights ramp up from an image edge (default: no cap; "
                "0: plain mean)."
            ),
        ] = None,
        overwrite: OverwriteOption = False,
        scheduler: SchedulerOption = None,
    ) -> None:
        """Mosaic the tracks' timescans (or time series) into s1-mosaic."""
        from s1stac.pipeline import mosaic_products, mosaic_timeseries_products

        options: dict[str, Any] = {
            "aoi": aoi,
            "harmonise": harmonise,
            "feather_distance": feather,
            "overwrite": overwrite,
            "scheduler": scheduler,
            "progress": True,
        }

        def job() -> Iterable[pystac.Item]:
            if timeseries:
                return mosaic_timeseries_products(catalog, window_days=window_days, **options)
            return mosaic_products(catalog, **options)

        _run(job)
