"""ossfaces: face metadata for photos in Alibaba Cloud OSS, written next to each photo as ``<key>.faces.json``."""

__version__ = "0.1.0"
