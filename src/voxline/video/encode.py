"""Turn a frame into image content for the model: downscaled and encoded once."""

from __future__ import annotations

import io

from ..llm.chat_context import ImageContent
from .frame import VideoFrame


def encode_image(
    frame: VideoFrame,
    *,
    max_size: tuple[int, int] = (1024, 1024),
    format: str = "JPEG",
    quality: int = 75,
) -> ImageContent:
    """Encode `frame` as JPEG (or PNG), no larger than `max_size`, keeping its aspect ratio.
    The result is cached on the frame, so a frame sent in several requests is encoded once."""
    key = ("encoded", max_size, format, quality)
    cached = frame.userdata.get(str(key))
    if isinstance(cached, ImageContent):
        return cached
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - the extra is part of dev
        raise ImportError("encoding video frames needs Pillow: pip install 'voxline[video]'") from e
    image = Image.fromarray(frame.data, mode="RGB")
    image.thumbnail(max_size)
    buffer = io.BytesIO()
    image.save(buffer, format=format, quality=quality)
    mime = "image/jpeg" if format.upper() == "JPEG" else f"image/{format.lower()}"
    content = ImageContent(image=buffer.getvalue(), mime_type=mime)
    frame.userdata[str(key)] = content
    return content
