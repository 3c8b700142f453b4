"""Speech quality: ITU-T P.56 active level, ITU-R BS.1770-4 loudness, signal measures, DNSMOS.

Decoding goes by content (soundfile/libsndfile); the measures that touch every sample run in
the native core; DNSMOS (P.835 and P.808, Microsoft, MIT) runs on the mono mix at 16 kHz.
"""

from bqat.engines.speech.engine import ENGINE

__all__ = ["ENGINE"]
