"""Weights: the model folder on disk, download and verify, loading the networks, their
placement on the device.

Import the submodules by name (``xdub.weights.folder``, ``xdub.weights.manager`` ...). This
package imports nothing itself, so that the torch-free parts (the folder table, the model
manager) stay cheap to import for the daemon's server and the CLI.
"""
