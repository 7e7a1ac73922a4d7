"""What every chapter page shows first: the box that says how the page was made, and the device it ran on.

Notebooks import this rather than the runner in :mod:`scalingbook.site`, so that a chapter's staleness
key covers only the code the chapter runs (see :func:`scalingbook.site.book.staleness_key`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scalingbook import __version__
from scalingbook.chapters.params import read_params
from scalingbook.lab.store import REPO_ROOT, Result, commit_label, git_state


class DeviceError(RuntimeError):
    """The ``device`` parameter names a device this machine does not have."""


def pick_device(device: str) -> str:
    """Resolve the ``device`` parameter: ``auto`` means the GPU when there is one."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise DeviceError("parameter 'device' is 'cuda' but torch sees no GPU; use --device cpu or auto")
    return device


def chapter_header(name: str, namespace: dict[str, Any], sources: list[Result | str] | None = None):
    """The box at the top of a chapter: profile, parameters, version, commit and result sources.

    ``namespace`` is the notebook's ``globals()``, from which the declared parameters are read. A
    source is a stored result or, for files outside the results store, a line describing one.
    """
    from IPython.display import Markdown

    params = read_params(REPO_ROOT / "notebooks" / f"{name}.py")
    commit, dirty = git_state()
    rows = []
    for key, param in params.items():
        value = namespace[key]
        mark = "" if value == param.default else " (changed)"
        rows.append(f"| `{key}` | `{value!r}`{mark} | {param.help} |")
    origin = [f"- {r if isinstance(r, str) else r.describe()}" for r in sources or []] or [
        "- computed in this notebook; it reads no stored results"
    ]
    text = "\n".join(
        [
            "````{admonition} How this page was made",
            ":class: note",
            f"**Profile:** `{namespace['profile']}` · **scalingbook** {__version__} · "
            f"**commit** `{commit_label(commit, dirty, width=10)}` · "
            f"**executed** {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            "",
            "**Results used:**",
            *origin,
            "",
            "```{dropdown} Parameters of this run",
            "| parameter | value | meaning |",
            "|---|---|---|",
            *rows,
            "```",
            "````",
        ]
    )
    return Markdown(text)
