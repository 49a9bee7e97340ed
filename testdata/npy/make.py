#!/usr/bin/env python3
"""make.py — the .npy fixtures of dataset's tests, written by NumPy itself (np.save).

    python3 testdata/npy/make.py   (Debian's python3-numpy)
"""
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5) / 7  # N×C×H×W
np.save(os.path.join(here, 'nchw_f32.npy'), x)
np.save(os.path.join(here, 'nhwc_f64.npy'), x.transpose(0, 2, 3, 1).astype(np.float64))  # channels last
np.save(os.path.join(here, 'nchw_f32.labels.npy'), np.array([1, 0], dtype=np.int64))
np.save(os.path.join(here, 'u8.npy'), (np.arange(60) % 256).astype(np.uint8).reshape(3, 4, 5))
np.save(os.path.join(here, 'f16.npy'), np.array([0.5, -2, 65504], dtype=np.float16))
np.save(os.path.join(here, 'fortran.npy'), np.asfortranarray(np.ones((3, 2), dtype=np.float32)))
np.save(os.path.join(here, 'bigendian.npy'), np.ones(3, dtype='>f4'))
