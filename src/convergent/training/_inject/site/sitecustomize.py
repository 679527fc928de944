"""convergent's start-up hook for ``convergent run`` (put on PYTHONPATH by the parent).

Python imports ``sitecustomize`` at start-up. This one installs a light import hook that
wraps ``keras.Model.fit`` once Keras is imported (see ``convergent.training._inject.hook``)
and then runs the next ``sitecustomize`` on ``sys.path``, if any, so an environment's own
start-up customisation still happens. Standard library only until Keras is imported.
"""

from __future__ import annotations

import os
import sys


def _install() -> None:
    if not os.environ.get("CONVERGENT_RECORDS_DIR"):
        return
    try:
        from convergent.training._inject import hook
    except ImportError:  # this interpreter cannot import convergent: run unmonitored
        return
    hook.install()


def _chain() -> None:
    """Run the sitecustomize this file shadows (the next one on sys.path)."""
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_install()
_chain()
