"""Model: the X-Dub DiT, AudioProjModule, VAE, text context and the model folder."""
