"""The ``s1stac`` command line: one thin command per stage, each calling one library function."""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import pathlib
import sys
from typing import Annotated

import typer

from s1stac import __version__
from s1stac._cli_options import CatalogOption
from s1stac._cli_options import fail as _fail
from s1stac.errors import S1StacError

app = typer.Typer(
    name="s1stac",
    help="Sentinel-1 GRD time series and timescans on xarray/dask, registered in STAC.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

log = logging.getLogger("s1stac")

user_app = typer.Typer(
    help="Users of `s1stac serve` (HTTP Basic login, then bearer tokens).",
    no_args_is_help=True,
)
app.add_typer(user_app, name="user")


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only.")] = False,
) -> None:
    """Sentinel-1 GRD time series and timescans on xarray/dask, registered in STAC."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        for noisy in ("rasterio", "numba", "fiona", "pyogrio", "matplotlib", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


@app.command()
def version() -> None:
    """Print the version of s1stac."""
    typer.echo(__version__)


@app.command()
def inventory(
    paths: Annotated[
        list[pathlib.Path] | None,
        typer.Argument(help="SAFE folders, zips, or folders to search for them."),
    ] = None,
    catalog: CatalogOption = pathlib.Path("catalog"),
    aoi: Annotated[
        str | None,
        typer.Option(
            help="Area of interest: WKT, GeoJSON, 'minx,miny,maxx,maxy' or a vector file."
        ),
    ] = None,
    stac_url: Annotated[
        str | None, typer.Option(help="STAC API (or static catalog) to search instead of PATHs.")
    ] = None,
    collection: Annotated[
        str | None, typer.Option(help="Collection id to search at --stac-url.")
    ] = None,
    start: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="First day (STAC search).")
    ] = None,
    end: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day (STAC search).")
    ] = None,
    plot: Annotated[
        pathlib.Path | None, typer.Option(help="Write a PNG map of the footprints and the AOI.")
    ] = None,
    refine: Annotated[
        bool, typer.Option(help="Apply the search refinement (duplicates, coverage, tracks).")
    ] = True,
) -> None:
    """Register Sentinel-1 GRD products as STAC items and group them by track and acquisition."""
    from s1stac.inventory import inventory as run_inventory

    if not paths and not stac_url:
        raise _fail(ValueError("give product PATHs or --stac-url URL --collection ID"))
    try:
        result = run_inventory(
            [str(p) for p in paths or []],
            catalog=catalog,
            aoi=aoi,
            stac_url=stac_url,
            collection=collection,
            start=start,
            end=end,
            refine=refine,
            plot=plot,
        )
    except S1StacError as error:
        raise _fail(error) from error
    typer.echo(result.summary())


@app.command()
def download(
    items: Annotated[
        list[str] | None,
        typer.Argument(help="GRD item ids (default: every item whose product is not local)."),
    ] = None,
    catalog: CatalogOption = pathlib.Path("catalog"),
    dest: Annotated[
        pathlib.Path, typer.Option("--dest", help="Folder receiving the zips / SAFE folders.")
    ] = pathlib.Path("downloads"),
    token: Annotated[
        str | None,
        typer.Option(
            help="Bearer token of the provider (default $S1STAC_TOKEN; ~/.netrc is read too)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Files fetched at the same time.")] = 4,
    sas_url: Annotated[
        str | None,
        typer.Option(
            help="Token service for unsigned blob URLs (default: the Planetary Computer's)."
        ),
    ] = None,
) -> None:
    """Download the products of GRD items found in a STAC API and register them locally."""
    from s1stac.download import download as run_download

    try:
        paths = run_download(catalog, items, dest=dest, token=token, workers=workers, progress=True)
    except S1StacError as error:
        raise _fail(error) from error
    for path in paths:
        typer.echo(str(path))


@app.command()
def ard(
    products: Annotated[
        list[str],
        typer.Argument(
            help="GRD item ids of the catalog, or SAFE folders / zips (inventoried first).",
            show_default=False,
        ),
    ],
    catalog: CatalogOption = pathlib.Path("catalog"),
    product_type: Annotated[
        str,
        typer.Option(
            "--product-type", help="GTC-sigma0, GTC-gamma0 or RTC-gamma0 (terrain flattened)."
        ),
    ] = "RTC-gamma0",
    resolution: Annotated[
        float, typer.Option("--resolution", help="Output pixel spacing in metres.")
    ] = 20.0,
    dem: Annotated[
        pathlib.Path | None,
        typer.Option("--dem", help="DEM GeoTIFF covering the scenes (required)."),
    ] = None,
    crs: Annotated[
        str, typer.Option("--crs", help="Output CRS: EPSG:4326, EPSG:CODE (metres) or AUTO:42001.")
    ] = "EPSG:4326",
    speckle_filter: Annotated[
        str | None,
        typer.Option(
            "--speckle-filter", help="Single-date speckle filter: boxcar, lee, refined_lee."
        ),
    ] = None,
    ls_mask: Annotated[
        bool, typer.Option("--ls-mask", help="Also write the layover/shadow mask (asset ls_mask).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Redo acquisitions already in s1-ard.")
    ] = False,
    stop_on_error: Annotated[
        bool,
        typer.Option(
            "--stop-on-error",
            help="Stop at the first failing acquisition (default: go on, list the failures).",
        ),
    ] = False,
) -> None:
    """Compute the ARD of GRD products into the s1-ard collection (one item per acquisition)."""
    from s1stac.ard_products import ard_products
    from s1stac.inventory import inventory as run_inventory

    paths = [p for p in products if pathlib.Path(p).exists()]
    try:
        if paths:
            run_inventory(paths, catalog=catalog, refine=False)
        items = ard_products(
            catalog,
            product_type=product_type,  # type: ignore[arg-type] # checked by ArdOptions
            resolution=resolution,
            dem=dem,
            crs=crs,
            speckle_filter=speckle_filter,  # type: ignore[arg-type]
            ls_mask=ls_mask,
            items=products,
            overwrite=overwrite,
            on_error="raise" if stop_on_error else "continue",
            progress=True,
        )
    except S1StacError as error:
        raise _fail(error) from error
    for item in items:
        typer.echo(f"{item.id}: {item.get_self_href()}")


def _register_product_commands() -> None:
    from s1stac._cli_products import register

    register(app)


_register_product_commands()  # timeseries, timescan, mosaic: listed after ard


@app.command()
def simulate(
    out_dir: Annotated[pathlib.Path, typer.Argument(help="Folder to write the products into.")],
    dates: Annotated[int, typer.Option(help="Acquisitions per track (12-day repeat).")] = 4,
    start: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="Date of the first acquisition.")
    ] = dt.datetime(2021, 3, 1),
    tracks: Annotated[
        str,
        typer.Option(
            help="Comma-separated DIRECTION:RELATIVE_ORBIT, e.g. ASCENDING:117; "
            "'auto': one ascending and one descending track that see the scene."
        ),
    ] = "auto",
    slices: Annotated[int, typer.Option(help="Consecutive slices per acquisition (1 or 2).")] = 1,
    size: Annotated[
        str, typer.Option(help="'small' (seconds) or 'full' (IW GRDH size).")
    ] = "small",
    dem: Annotated[
        pathlib.Path | None, typer.Option(help="DEM GeoTIFF to simulate over (default: generated).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    zip_products: Annotated[
        bool, typer.Option("--zip", help="Write zips instead of SAFE.")
    ] = False,
) -> None:
    """Write simulated Sentinel-1 IW GRDH products and their ground truth."""
    from s1stac.simulate import parse_tracks
    from s1stac.simulate import simulate as run_simulate

    try:
        result = run_simulate(
            out_dir,
            dates=dates,
            start=start,
            tracks=parse_tracks(tracks),
            slices=slices,
            size=size,
            dem=dem,
            seed=seed,
            zip=zip_products,
        )
    except S1StacError as error:
        raise _fail(error) from error
    for path in result.products:
        typer.echo(str(path))


@app.command()
def validate(
    catalog: CatalogOption = pathlib.Path("catalog"),
    schemas: Annotated[
        pathlib.Path | None,
        typer.Option(help="Offline mirror of the STAC schemas (default: $S1STAC_STAC_SCHEMAS)."),
    ] = None,
) -> None:
    """Validate the catalog, its collections and items against the STAC schemas, offline."""
    from s1stac.catalog import StaticCatalog

    try:
        count = StaticCatalog(catalog).validate(schemas_dir=schemas)
    except S1StacError as error:
        raise _fail(error) from error
    typer.echo(f"{catalog}: {count} STAC objects valid")


@app.command()
def demo(
    out: Annotated[
        pathlib.Path,
        typer.Option(
            "--out",
            "--workdir",
            help="Folder of the run: simulated products, pictures and (by default) the catalog.",
        ),
    ] = pathlib.Path("demo"),
    catalog: Annotated[
        pathlib.Path | None,
        typer.Option("--catalog", "-c", help="Static STAC catalog root (default: OUT/catalog)."),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler: threads (default), processes or tcp://host:8786."),
    ] = None,
) -> None:
    """Run the whole chain on simulated scenes, ending in a STAC catalog."""
    from s1stac.pipeline import run_demo

    try:
        result = run_demo(out, catalog=catalog or out / "catalog", scheduler=scheduler)
    except S1StacError as error:
        raise _fail(error) from error
    typer.echo(result.summary())


@app.command()
def run(
    graph: Annotated[pathlib.Path, typer.Argument(help="openEO process graph (JSON file).")],
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE for a graph parameter (VALUE as JSON)."),
    ] = None,
    catalog: CatalogOption = pathlib.Path("catalog"),
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler: 'threads' (default), 'processes', 'synchronous' or the "
            "address of a distributed scheduler (tcp://host:8786)."
        ),
    ] = None,
) -> None:
    """Evaluate an openEO process graph over the catalog; outputs are registered in it."""
    from s1stac.openeo import parse_parameter, run_graph

    try:
        parameters = dict(parse_parameter(text) for text in param or [])
        result = run_graph(graph, catalog=catalog, parameters=parameters, scheduler=scheduler)
    except S1StacError as error:
        raise _fail(error) from error
    for item in result.items:
        typer.echo(f"{item.get('collection')}/{item['id']}")


@app.command()
def processes() -> None:
    """List the openEO processes the engine implements (id, namespace, summary)."""
    from s1stac.openeo import list_processes

    for spec in list_processes():
        namespace = spec.get("namespace", "")
        label = f"{namespace}:{spec['id']}" if namespace else spec["id"]
        typer.echo(f"{label:<34} {spec.get('summary', '')}")


StateDirOption = Annotated[
    pathlib.Path | None,
    typer.Option(help="Server state folder (users, jobs); default <catalog>/.s1stac."),
]


@app.command()
def serve(
    catalog: CatalogOption = pathlib.Path("catalog"),
    host: Annotated[
        str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Batch jobs run at the same time.")] = 2,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Dask scheduler: threads, synchronous, processes or tcp://host:8786."),
    ] = None,
    state_dir: StateDirOption = None,
    token_ttl: Annotated[
        float, typer.Option("--token-ttl", help="Lifetime of login tokens, seconds.")
    ] = 86400.0,
) -> None:
    """Serve the catalog: openEO API 1.2 (/openeo/1.2), STAC API (/stac), HTML pages (/browse)."""
    from s1stac.api import serve as serve_api

    try:
        serve_api(
            catalog,
            host=host,
            port=port,
            workers=workers,
            scheduler=scheduler,
            state_dir=state_dir,
            token_ttl=token_ttl,
        )
    except S1StacError as error:
        raise _fail(error) from error


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="User name (letters, digits, _ . @ -).")],
    catalog: CatalogOption = pathlib.Path("catalog"),
    replace: Annotated[
        bool, typer.Option("--replace", help="Set a new password for an existing user.")
    ] = False,
    state_dir: StateDirOption = None,
) -> None:
    """Add a user; the password is read from standard input (asked twice on a terminal)."""
    from s1stac.api import add_user

    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("repeat: ") != password:
            raise _fail(ValueError("the two passwords differ"))
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        path = add_user(catalog, name, password, state_dir=state_dir, replace=replace)
    except S1StacError as error:
        raise _fail(error) from error
    typer.echo(f"user {name} stored in {path}")
