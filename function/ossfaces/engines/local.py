"""Engine ``local``: read the photo from OSS and analyse it in-process with the bundled models (``ossfaces.vision``)."""

from __future__ import annotations

from typing import Any

from ossfaces.engines import EngineResult, Photo, if_match
from ossfaces.errors import BadImage
from ossfaces.settings import Settings
from ossfaces.vision import FaceAnalyzer, ImageInfo


class LocalEngine:
    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.max_bytes = settings.max_image_bytes
        self.analyzer = FaceAnalyzer.load(
            settings.models_dir,
            threads=settings.threads or None,
            min_face_px=settings.min_face_px,
            score_threshold=settings.score_threshold,
            max_pixels=settings.max_pixels,
            embeddings=settings.embeddings,
        )
        self.version = self.analyzer.version

    def analyze(self, photo: Photo) -> EngineResult:
        data = photo.bucket.get_object(photo.key, headers=if_match(photo.etag)).read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise BadImage("InvalidImage.TooLarge", f"the object is larger than {self.max_bytes} bytes")
        analysis = self.analyzer.analyze(data)
        return EngineResult(faces=[dict(face) for face in analysis.faces], image=image_block(analysis.image))


def image_block(image: ImageInfo) -> dict[str, Any]:
    """The document's ``Image`` block (``document.ImageDetails``) from the decoder's ``vision.ImageInfo``."""
    return {"Width": image.width, "Height": image.height, "Format": image.format, "Orientation": image.orientation}
