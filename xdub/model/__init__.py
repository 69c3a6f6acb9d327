"""Model: the networks of X-Dub and their configs: the DiT, the AudioProjModule and the VAE.

Only the networks live here; the model folder, downloads, loading the weights and their place
on the device are ``xdub.weights``. Import the submodules by name (``xdub.model.dit``,
``xdub.model.config`` ...): this package imports nothing itself, so that the torch-free configs
stay cheap to import.
"""
