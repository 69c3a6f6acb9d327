"""Face: person detection, whole-body landmarks, the crop track, crop and paste-back."""
