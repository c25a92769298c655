"""Windows of a dask array handed to delayed tasks without duplicating its graph.

Used wherever one task per output block needs an arbitrary window of a lazily computed
source (radar images in geocoding and terrain simulation, the native DEM in resampling).
"""

from __future__ import annotations

from typing import Any

import dask.array as da
import numpy as np

__all__ = ["WindowReader", "assemble_window"]


class WindowReader:
    """Hand windows of a dask array to delayed tasks without duplicating its graph.

    ``dask.delayed(f)(array[window])`` optimises the graph of every slice on its own, which
    fuses the producing tasks into each slice: the chunks (a radar image and everything it
    is computed from) would be recomputed for every window.  Here a task receives the chunks
    overlapping its window as they are (``to_delayed(optimize_graph=False)``) and cuts the
    window itself.
    """

    def __init__(self, array: da.Array) -> None:
        self.array = array
        self.blocks = array.to_delayed(optimize_graph=False)
        self.offsets = [np.cumsum((0,) + c) for c in array.chunks]

    def parts(self, window: tuple[slice, slice]) -> tuple[Any, Any]:
        """Return the chunks overlapping a 2-D ``window`` and the part of each inside it."""
        pieces = []
        for axis, cut in enumerate(window):
            edges = self.offsets[axis]
            first = int(np.searchsorted(edges, cut.start, side="right")) - 1
            last = max(int(np.searchsorted(edges, cut.stop, side="left")), first + 1)
            pieces.append(
                [
                    (k, slice(max(cut.start - edges[k], 0), min(cut.stop, edges[k + 1]) - edges[k]))
                    for k in range(first, last)
                ]
            )
        blocks = [[self.blocks[i, j] for j, _ in pieces[1]] for i, _ in pieces[0]]
        cuts = [[(si, sj) for _, sj in pieces[1]] for _, si in pieces[0]]
        return blocks, cuts


def assemble_window(blocks: Any, cuts: Any) -> Any:
    """Cut the window out of the chunks returned by :meth:`WindowReader.parts`."""
    return np.block(
        [
            [b[c] for b, c in zip(row, cut_row, strict=True)]
            for row, cut_row in zip(blocks, cuts, strict=True)
        ]
    )
