"""Face: person detection, landmarks, speaker choice, the crop track, crop and paste-back."""
