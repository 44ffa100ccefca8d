"""Sphinx configuration of the user guide (`make docs` builds it into site/).

Sphinx, because it is actively released, reads the Google-style docstrings
(autodoc + napoleon) for the API reference, and turns every warning into an error
with -W. The pages are Markdown (MyST), so the same files render on GitHub and are
read by tests/docs, which runs their examples. Nothing here reaches the network:
no intersphinx, no math (MathJax would come from a CDN), and `offline_assets`
fails the build if a page would load anything from another host.
"""

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

project = "requestcompletion"
author = "the requestcompletion authors"
copyright = "the requestcompletion authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "docstrings",
    "offline_assets",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
# ray-notes.md is the engineers' contract for the Ray strategy, not a page of the guide.
exclude_patterns = ["_ext", "ray-notes.md"]
# In docstrings, `name` is code, as in the Markdown pages.
default_role = "code"

myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "furo"
html_title = "requestcompletion"
html_static_path: list[str] = []
html_show_sourcelink = False

