"""Take quality: sync, identity and preservation metrics, the take report and the dataset table.

Each metric module is pure functions on decoded frames and audio (shapes and units in the
docstrings): ``sync`` (speech envelope x mouth opening -> offset and confidence), ``mouth``
(where the mouth opening and the mouth region come from), ``preservation`` (PSNR/SSIM outside
the mouth, flicker), ``seams`` (the same around the 77/5-frame window boundaries), ``syncnet``
and ``mfcc`` (LSE-C / LSE-D), ``identity`` (CSIM with an ArcFace IResNet). ``take`` runs them
over a take, ``report`` and ``html`` present the result, ``dataset`` aggregates a folder.
Nothing here downloads weights: the networks run only when their files are on disk
(``xdub.eval.weights``).
"""
