# s1stac: pure-Python Sentinel-1 GRD processing (no SNAP, no OTB).
FROM python:3.11-slim-bookworm

# Debian's proj-data holds the EGM96 geoid grid that turns DEM heights into ellipsoid heights.
RUN apt-get update \
    && apt-get install -y --no-install-recommends proj-data \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/s1stac
COPY pyproject.toml README.md ./
COPY s1stac ./s1stac
COPY process_graphs ./process_graphs
RUN pip install --no-cache-dir .

WORKDIR /data
ENTRYPOINT ["s1stac"]
CMD ["--help"]
