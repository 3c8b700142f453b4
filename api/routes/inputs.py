"""/inputs/: the folders under the data roots and how many samples of each modality a scan of
each would find, confined exactly as POST /scan/ confines its input."""

from __future__ import annotations

from typing import Annotated

from litestar import get
from litestar.params import Parameter

from api.schemas import FolderOut, InputsOut
from bqat.confinement import resolve_folder
from bqat.ingest import inventory
from bqat.settings import get_settings


@get("/inputs", summary="Folders to scan, with their sample counts", sync_to_thread=True)
def list_inputs(
    path: Annotated[
        str, Parameter(description="A folder relative to the data roots; '.' is the first root")
    ] = ".",
) -> InputsOut:
    """One walk of `path` (no file is decoded): per modality, the samples a scan of `path` and of
    each of its sub-folders would find. 400/403/404 as POST /scan/ answers the same input."""
    found = inventory(resolve_folder(path, get_settings().data_root))
    return InputsOut(
        path=path,
        folders=[FolderOut(name=name, files=files) for name, files in found.folders.items()],
        files=found.files,
    )


ROUTES = [list_inputs]
