import numpy as np
from pathlib import Path
import sys
sys.path.insert(0, "/work/main/tests")
from test_pipeline_e2e import _dub, Case, pipeline  # noqa
from xdub.media.decode import iter_frames

def test_debug(pipeline, tmp_path):
    rs = [_dub(pipeline, tmp_path / n, Case(n, duration_s=0.8))[2] for n in "abc"]
    fr = [[f.rgb for f in iter_frames(r.output)] for r in rs]
    for k in (1, 2):
        print("run", k, [int(np.abs(a.astype(int) - b).max()) for a, b in zip(fr[0], fr[k])])
