"""The face networks in plain PyTorch: YOLOX (person detection) and RTMW (whole-body
pose), their layers, configs and strict checkpoint loading."""
