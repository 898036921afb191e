"""Stage 3: the Streamlit dashboard over the workspace (``safecal dashboard``).

:func:`launch` starts it as a ``streamlit run`` server on 127.0.0.1 and waits until it
answers; the pages are in ``dashboards/app_pages/`` and read the workspace through
:mod:`dashboards.data` (cached calls of calibrate's functions).
"""

from safecal.dashboards.launch import Dashboard, free_port, launch, stop

__all__ = ["Dashboard", "free_port", "launch", "stop"]
