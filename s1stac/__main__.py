"""Entry point of ``python -m s1stac``."""

from s1stac.cli import app

if __name__ == "__main__":
    app()
