"""The image classification demo data: scikit-learn's bundled handwritten digits (8x8 grey
scans, no download) written as PNG or JPEG files in label folders, as an image classification
job's S3Prefix channel reads them."""

from __future__ import annotations

import io

DIGIT_SIZE = 32  # pixels per side of a written image (the scans are 8x8)


def digit_images(per_digit: int, digits: tuple[int, ...] = tuple(range(10)), offset: int = 0, fmt: str = "PNG"):
    """(label, file name, image bytes) for ``per_digit`` scans of each digit, from the
    ``offset``-th scan of that digit on, scaled up to DIGIT_SIZE pixels, dark ink on white."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    scans = load_digits()
    extension = "png" if fmt == "PNG" else "jpg"
    for digit in digits:
        indexes = np.flatnonzero(scans.target == digit)[offset : offset + per_digit]
        for index in indexes:
            ink = (255 - scans.images[index] * 255 / 16).astype(np.uint8)
            image = Image.fromarray(ink, mode="L").resize((DIGIT_SIZE, DIGIT_SIZE), Image.Resampling.BILINEAR)
            buffer = io.BytesIO()
            image.convert("RGB").save(buffer, format=fmt)
            yield str(digit), f"digit-{index:04d}.{extension}", buffer.getvalue()
