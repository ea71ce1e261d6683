"""Files that ship with the package: the demo config and the simulator scenarios.

In a checkout they are read from ``config/``; an installed wheel carries copies under
``edge/bundled/`` (see ``[tool.hatch.build.targets.wheel.force-include]``).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["bundled"]

_CHECKOUT = Path(__file__).resolve().parent.parent / "config"
_WHEEL = Path(__file__).resolve().parent / "bundled"


def bundled(name: str) -> Path:
    """The path of ``name`` (``demo.yaml``, ``scenarios``) in the checkout or the wheel."""
    checkout = _CHECKOUT / name
    return checkout if checkout.exists() else _WHEEL / name
