"""The fingerprint engine: decode, bring to 500 ppi, NFIQ 2 features and score, the record."""

from __future__ import annotations

from bqat.engines.engine import Engine
from bqat.engines.fingerprint.context import fingerprint_context
from bqat.engines.fingerprint.forest import MODEL
from bqat.engines.fingerprint.measures import FINGERPRINT_MEASURES
from bqat.engines.fingerprint.options import FingerprintOptions
from bqat.engines.fingerprint.profiles import PROFILES
from bqat.ingest import IMAGE_EXTENSIONS

ENGINE = Engine(
    modality="fingerprint",
    measures=tuple(FINGERPRINT_MEASURES),
    options=FingerprintOptions,
    models=(MODEL,),
    extensions=IMAGE_EXTENSIONS,
    context=fingerprint_context,
    profiles=PROFILES,
)
