"""Audio: Whisper + Wav2Vec2 features and their per-latent-frame windows."""
