"""Rebuild bqat/engines/speech/data/wada_table.json, the WADA-SNR lookup table.

WADA-SNR (Kim and Stern, "Robust signal-to-noise ratio estimation based on waveform amplitude
distribution analysis", Interspeech 2008) models clean speech amplitudes as Gamma-distributed
(shape 0.4) and noise as Gaussian; the statistic G = ln E|z| - E ln|z| of the noisy signal z
grows monotonically with the SNR. This script tabulates G for SNR = -20..100 dB by Monte Carlo
with common random numbers (one set of draws for every SNR, so the table is smooth and
monotone): speech x = sign * Gamma(0.4), scaled so that E x^2 / E n^2 is the SNR, n ~ N(0, 1).

Usage: .venv/bin/python scripts/build_wada_table.py [--samples N]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from bqat.engines.speech.wada import SHAPE, SNR_DB, TABLE_FILE


def wada_table(samples: int, seed: int = 0, snr_db: np.ndarray = SNR_DB) -> np.ndarray:
    """G(SNR) for each SNR in `snr_db`, from `samples` draws of speech and noise."""
    rng = np.random.default_rng(seed)
    speech = rng.gamma(SHAPE, 1.0, samples) * rng.choice([-1.0, 1.0], samples)
    noise = rng.standard_normal(samples)
    speech_power = SHAPE * (SHAPE + 1.0)  # E x^2 of a Gamma(shape, 1) magnitude
    table = np.empty(len(snr_db))
    for i, snr in enumerate(snr_db):
        z = np.abs(speech * np.sqrt(10.0 ** (snr / 10.0) / speech_power) + noise)
        table[i] = np.log(z.mean()) - np.log(z).mean()
    # Below about -15 dB G is flat to within the Monte Carlo error: keep the table monotone.
    return np.maximum.accumulate(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4_000_000)
    args = parser.parse_args()
    table = wada_table(args.samples)
    about = "WADA-SNR: G = ln E|z| - E ln|z| of Gamma(0.4) speech + Gaussian noise, by SNR"
    lines = [
        "{",
        f' "about": "{about} (scripts/build_wada_table.py)",',
        f' "shape": {SHAPE}, "samples": {args.samples}, "seed": 0,',
        f' "snr_db": {json.dumps(SNR_DB.tolist())},',
        f' "g": {json.dumps([round(float(v), 8) for v in table])}',
        "}",
    ]
    TABLE_FILE.write_text("\n".join(lines) + "\n")
    print(f"{TABLE_FILE}: {len(table)} values, G from {table[0]:.5f} to {table[-1]:.5f}")


if __name__ == "__main__":
    main()
