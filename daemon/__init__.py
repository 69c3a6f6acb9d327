"""xdub_daemon: the local daemon that owns the GPU (imported as ``xdub_daemon``)."""
