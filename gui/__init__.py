"""xdub_gui: the PySide6 tray app (imported as ``xdub_gui``)."""
