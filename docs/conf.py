"""Sphinx configuration of the bilevel-mp documentation site.

Build (warnings are errors, tutorials are executed): ``python -m sphinx -W --keep-going -b html
docs docs/_build/html``. The API pages are generated from the docstrings (autodoc), the
tutorials under ``tutorials/`` are MyST notebooks run by myst-nb at every build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny torch workloads: one thread per process

import bilevel_mp  # noqa: E402  (after the path)

project = "bilevel-mp"
author = "bilevel-mp developers"
copyright = "2026, bilevel-mp developers"
release = bilevel_mp.__version__
version = release

extensions = [
    "myst_nb",                 # Markdown pages and executed tutorial notebooks (MyST)
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",     # the package's NumPy-style "Parameters / Returns" sections
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", "design", "figures/README*", "**.ipynb_checkpoints", "check_site.py"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
root_doc = "index"

# tutorials: run every time the site is built; an error in a cell fails the build
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True
myst_enable_extensions = ["colon_fence"]  # no math: MathJax would need a CDN
myst_heading_anchors = 3

autodoc_default_options = {"member-order": "bysource"}  # members listed page by page
autodoc_typehints = "description"
autodoc_class_signature = "separated"
autodoc_mock_imports: list[str] = []
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False

html_theme = "furo"
html_title = f"bilevel-mp {release}"
html_static_path: list[str] = []
