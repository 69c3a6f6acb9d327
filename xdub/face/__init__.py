"""Face: person detection, landmarks, speaker choice, the crop track, crop and paste-back.

The networks themselves (YOLOX, RTMW, their layers, configs and checkpoints) are ``xdub.face.nets``;
the modules here run them and do the geometry around them.
"""
