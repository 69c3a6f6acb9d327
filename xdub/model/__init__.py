"""Model: the X-Dub DiT, AudioProjModule, VAE, text context and the model folder.

Import the submodules by name (``xdub.model.dit``, ``xdub.weights.manager`` ...). This package
imports nothing itself, so that the torch-free parts (the folder table, the model manager) stay
cheap to import for the daemon's server and the CLI.
"""
