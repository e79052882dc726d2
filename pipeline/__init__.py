"""callqa: speech analytics and automatic quality assurance for call-center recordings."""

import os

# A call-recording tool must not phone home or fetch weights unless the user asks for it.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
