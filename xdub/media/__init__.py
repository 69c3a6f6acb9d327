"""Media: PyAV probe, decode, encode, frame-rate conform, audio mixing, synthetic test media."""
