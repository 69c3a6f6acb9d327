"""Installing xdub for an editor: the app environment, the host plugins, the login service.

``environment`` (with ``accelerator``, ``locks`` and ``layout``) is stdlib-only: the OS
bootstraps (``installers/install.sh``, ``installers/install.ps1``) run it with uv's Python
before anything else is installed. The rest backs ``xdub setup``.
"""
