"""Audio: Whisper + Wav2Vec2 features (the per-latent-frame windows over them are
``xdub.sample.audio_windows``)."""
