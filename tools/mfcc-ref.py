#!/usr/bin/env python3
"""An independent implementation of the MLPerf Tiny keyword-spotting MFCCs, for audio's tests.

The definition is TensorFlow's, as the benchmark's training code uses it (mlcommons/tiny,
benchmark/training/keyword_spotting/get_dataset.py): wav / max(wav), zero-padded to 16,000
samples; tf.signal.stft with 480-sample frames every 320, a periodic Hann window and a
512-point FFT, magnitude; tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 20, 4000);
log(mel + 1e-6); tf.signal.mfccs_from_log_mel_spectrograms (DCT-II / sqrt(2·40)); 10 kept.

Written with SciPy and NumPy only (scipy.io.wavfile to read, scipy.signal.get_window for the
window, scipy.fft.rfft and scipy.fft.dct), none of fourbit's code. Usage:

    python3 tools/mfcc-ref.py OUT.npy CLIP.wav...

writes an N×49×10 float32 array, one row per clip in the order given.
"""
import sys

import numpy as np
import scipy.fft
import scipy.io.wavfile
import scipy.signal

RATE, SAMPLES, WINDOW, STRIDE, NFFT = 16000, 16000, 480, 320, 512
BANDS, LOW, HIGH, COEFFS = 40, 20.0, 4000.0, 10


def hz_to_mel(f):
    return 1127.0 * np.log1p(f / 700.0)


def mel_matrix():
    bins = NFFT // 2 + 1
    freqs = np.linspace(0.0, RATE / 2.0, bins)[1:]
    mel = hz_to_mel(freqs)[:, None]
    edges = np.linspace(hz_to_mel(LOW), hz_to_mel(HIGH), BANDS + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0.0, np.minimum((mel - lower) / (center - lower), (upper - mel) / (upper - center)))
    return np.vstack([np.zeros((1, BANDS)), w])  # the DC bin weighted 0


def mfcc(path):
    rate, x = scipy.io.wavfile.read(path)
    assert rate == RATE, f"{path}: {rate} Hz"
    x = x.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    peak = x.max()
    if peak > 0:
        x = x / peak
    x = np.pad(x[:SAMPLES], (0, max(0, SAMPLES - len(x))))
    win = scipy.signal.get_window("hann", WINDOW, fftbins=True)  # periodic
    frames = 1 + (SAMPLES - WINDOW) // STRIDE
    stft = np.stack([scipy.fft.rfft(x[t * STRIDE:t * STRIDE + WINDOW] * win, NFFT) for t in range(frames)])
    logmel = np.log(np.abs(stft) @ mel_matrix() + 1e-6)
    return (scipy.fft.dct(logmel, type=2, axis=-1) / np.sqrt(2.0 * BANDS))[:, :COEFFS]


if __name__ == "__main__":
    out = np.stack([mfcc(p) for p in sys.argv[2:]]).astype(np.float32)
    np.save(sys.argv[1], out)
    print(f"{sys.argv[1]}: {out.shape}")
