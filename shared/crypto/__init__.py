"""Pure cryptography shared by the provincial hub and the municipal nodes.

No Django, DRF or Celery here (an import-linter contract enforces it). ``suites`` holds the two
algorithm suites (``gm``: SM2/SM3/SM4, the default; ``intl``: ECDSA P-256/SHA-256/AES-GCM) and
key serialisation; ``tokens`` the compact signed tokens used in QR codes and node → hub
envelopes. Import the submodules directly.
"""
