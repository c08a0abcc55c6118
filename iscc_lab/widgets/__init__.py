"""Notebook widgets: `UploadWidget`, `ExplainWidget` and `SimprintWidget`.

The only part of iscc-lab that imports ipywidgets (and anywidget); the core stays free of them.
`upload.py` holds the upload widget (its front end is `static/upload.js` and `upload.css`,
loaded by anywidget from the package), `inspect.py` the explain and simprint views. Their HTML
and size texts come from `iscc_lab.display`, shared with the notebook cards.
"""

from iscc_lab.display import human_size, limit_size
from iscc_lab.widgets.inspect import ExplainWidget, SimprintWidget, simprint_rows
from iscc_lab.widgets.upload import (
    KERNEL_LIMIT,
    PROBE_CODE,
    UploadWidget,
    kernel_limit_message,
    results_frame,
    upload_limit_message,
)

__all__ = [
    "KERNEL_LIMIT",
    "PROBE_CODE",
    "ExplainWidget",
    "SimprintWidget",
    "UploadWidget",
    "human_size",
    "kernel_limit_message",
    "limit_size",
    "results_frame",
    "simprint_rows",
    "upload_limit_message",
]
