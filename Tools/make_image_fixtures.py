#!/usr/bin/env python3
"""Writes the image fixtures of Tests/LRTDataTests/Fixtures/images and the pixel values other tools read from them.

For every file `NAME.png` or `NAME.jpg` it writes `NAME.MODE.raw` for MODE in grayscale, rgb, rgba: the bytes
[height, width, channels] that lrt must decode, and `expected.json` listing each file with its size.

Pillow writes the files it can write (8-bit gray, gray+alpha, RGB, RGBA, palette with and without tRNS, 1-bit,
16-bit gray, baseline and progressive JPEG); a minimal PNG writer below makes the ones Pillow cannot (gray of 2
and 4 bits, 16-bit RGB/RGBA/gray+alpha, Adam7 interlaced files, a gAMA chunk of 1.0). The expected bytes are
Pillow's own decoding, `Image.open(f).convert(MODE)` as Keras's `load_img` does, except for 16-bit files: Pillow
clips 16-bit gray to 255 and keeps the high byte of 16-bit colour, so for those the expected bytes are
round(v·255/65535) of the stored values, computed here with NumPy and then converted as Pillow converts 8-bit
images (luma (19595 R + 38470 G + 7471 B + 32768) >> 16).

Run with the venv that has Pillow and NumPy (python3 -m venv Tools/.venv; Tools/.venv/bin/pip install pillow numpy):
    Tools/.venv/bin/python Tools/make_image_fixtures.py
"""
import json
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "LRTDataTests", "Fixtures", "images")
MODES = {"grayscale": "L", "rgb": "RGB", "rgba": "RGBA"}
rng = np.random.default_rng(11)
H, W = 5, 7  # odd sizes exercise row padding and every Adam7 pass


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pack_rows(samples, bit_depth):
    """[h, w*channels] integer samples -> filtered (type 0) scanlines."""
    rows = []
    for row in samples:
        if bit_depth == 16:
            data = b"".join(struct.pack(">H", int(v)) for v in row)
        elif bit_depth == 8:
            data = bytes(int(v) for v in row)
        else:
            per_byte = 8 // bit_depth
            data = bytearray()
            for start in range(0, len(row), per_byte):
                byte = 0
                for index, value in enumerate(row[start:start + per_byte]):
                    byte |= int(value) << (8 - bit_depth * (index + 1))
                data.append(byte)
            data = bytes(data)
        rows.append(b"\x00" + data)
    return b"".join(rows)


ADAM7 = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]


def write_png(path, samples, color_type, bit_depth, interlace=False, extra=b"", palette=None):
    """samples: [h, w, channels] integers as stored."""
    height, width, channels = samples.shape
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlace else 0)
    if interlace:
        raw = b""
        for y0, x0, dy, dx in ADAM7:
            sub = samples[y0::dy, x0::dx]
            if sub.size:
                raw += pack_rows(sub.reshape(sub.shape[0], -1), bit_depth)
    else:
        raw = pack_rows(samples.reshape(height, -1), bit_depth)
    body = chunk(b"IHDR", header) + extra
    if palette is not None:
        body += chunk(b"PLTE", bytes(palette))
    body += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n" + body)


def to_8bit(samples16):
    return np.round(samples16.astype(np.float64) * 255 / 65535).astype(np.uint8)


def pillow_modes(image):
    return {mode: np.asarray(image.convert(pillow)) for mode, pillow in MODES.items()}


def modes_from_8bit(array, pillow_mode):
    """The expected bytes for 8-bit samples `array` of Pillow mode `pillow_mode`, converted as Pillow converts."""
    return pillow_modes(Image.fromarray(array, pillow_mode))


def save(name, expected):
    entry = {"file": name}
    for mode, array in expected.items():
        array = np.asarray(array, dtype=np.uint8)
        if array.ndim == 2:
            array = array[:, :, None]
        entry["height"], entry["width"] = int(array.shape[0]), int(array.shape[1])
        with open(os.path.join(OUT, f"{name}.{mode}.raw"), "wb") as file:
            file.write(array.tobytes())
    return entry


def keras_window(image, height, width, mode):
    """The window Keras's crop_to_aspect_ratio / pad_to_aspect_ratio take before resizing (black padding)."""
    w, h = image.size
    if mode == "crop":
        crop_height = min(h, int(w * height / width))
        crop_width = min(w, int(h * width / height))
        top, left = (h - crop_height) // 2, (w - crop_width) // 2
        return image.crop((left, top, left + crop_width, top + crop_height))
    if mode == "pad":
        pad_height = max(h, int(w * height / width))
        pad_width = max(w, int(h * width / height))
        canvas = Image.new(image.mode, (pad_width, pad_height))
        canvas.paste(image, ((pad_width - w) // 2, (pad_height - h) // 2))
        return canvas
    return image


def main():
    warnings.simplefilter("ignore", UserWarning)  # Pillow suggests converting palette+tRNS images: that is the point
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    entries = []

    def pillow_written(name, image, **options):
        path = os.path.join(OUT, name)
        image.save(path, **options)
        entries.append(save(name, pillow_modes(Image.open(path))))

    gray = rng.integers(0, 256, (H, W), dtype=np.uint8)
    rgb = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    rgb[0, :3] = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]  # pure colours: luma 76, 150, 29
    alpha = rng.integers(0, 256, (H, W), dtype=np.uint8)
    pillow_written("gray8.png", Image.fromarray(gray, "L"))
    pillow_written("gray-alpha8.png", Image.fromarray(np.dstack([gray, alpha]), "LA"))
    pillow_written("rgb8.png", Image.fromarray(rgb, "RGB"))
    pillow_written("rgba8.png", Image.fromarray(np.dstack([rgb, alpha]), "RGBA"))
    pillow_written("gray1.png", Image.fromarray(gray > 127).convert("1"))
    palette_image = Image.fromarray(rgb, "RGB").quantize(colors=16)
    pillow_written("palette.png", palette_image)
    transparent = palette_image.copy()
    transparent.info["transparency"] = bytes([0, 128] + [255] * 14)
    pillow_written("palette-trns.png", transparent)
    pillow_written("gray8-trns.png", Image.fromarray(gray, "L"), transparency=int(gray[0, 0]))
    pillow_written("rgb8-trns.png", Image.fromarray(rgb, "RGB"), transparency=tuple(int(v) for v in rgb[1, 1]))

    # Pillow writes 16-bit gray from mode I;16; its decoding clips, so the expected bytes are computed.
    gray16 = rng.integers(0, 65536, (H, W), dtype=np.uint16)
    gray16[0, :3] = [32 * 257, 128 * 257, 65535]
    path = os.path.join(OUT, "gray16.png")
    Image.fromarray(gray16).save(path)
    stored = np.asarray(Image.open(path)).astype(np.uint16)
    assert (stored == gray16).all(), "Pillow did not store the 16-bit gray samples as given"
    entries.append(save("gray16.png", modes_from_8bit(to_8bit(gray16), "L")))

    # Files Pillow cannot write, from the writer above; Pillow still decodes the 8-bit ones as reference.
    def own(name, samples, color_type, bit_depth, **options):
        write_png(os.path.join(OUT, name), samples, color_type, bit_depth, **options)
        return os.path.join(OUT, name)

    for depth in (2, 4):
        values = rng.integers(0, 1 << depth, (H, W, 1))
        entries.append(save(f"gray{depth}.png", pillow_modes(Image.open(own(f"gray{depth}.png", values, 0, depth)))))
    entries.append(save("gray2-interlaced.png", pillow_modes(Image.open(
        own("gray2-interlaced.png", rng.integers(0, 4, (H, W, 1)), 0, 2, interlace=True)))))
    entries.append(save("rgb8-interlaced.png", pillow_modes(Image.open(own("rgb8-interlaced.png", rgb, 2, 8, interlace=True)))))
    entries.append(save("rgba8-interlaced.png", pillow_modes(Image.open(
        own("rgba8-interlaced.png", np.dstack([rgb, alpha]), 6, 8, interlace=True)))))
    palette_indices = rng.integers(0, 4, (H, W, 1))
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 100, 50]
    entries.append(save("palette2-interlaced.png", pillow_modes(Image.open(
        own("palette2-interlaced.png", palette_indices, 3, 2, interlace=True, palette=palette)))))
    # gAMA 1.0 (100000): libpng's colour management would turn 32 into 99; the stored value must come out.
    gamma = own("gray8-gamma1.png", gray[:, :, None], 0, 8, extra=chunk(b"gAMA", struct.pack(">I", 100000)))
    entries.append(save("gray8-gamma1.png", pillow_modes(Image.open(gamma))))

    rgb16 = rng.integers(0, 65536, (H, W, 3), dtype=np.uint16)
    alpha16 = rng.integers(0, 65536, (H, W, 1), dtype=np.uint16)
    own("rgb16.png", rgb16, 2, 16)
    entries.append(save("rgb16.png", modes_from_8bit(to_8bit(rgb16), "RGB")))
    own("rgba16-interlaced.png", np.concatenate([rgb16, alpha16], axis=2), 6, 16, interlace=True)
    entries.append(save("rgba16-interlaced.png", modes_from_8bit(to_8bit(np.concatenate([rgb16, alpha16], axis=2)), "RGBA")))
    own("gray-alpha16.png", np.concatenate([gray16[:, :, None], alpha16], axis=2), 4, 16)
    entries.append(save("gray-alpha16.png", modes_from_8bit(to_8bit(np.dstack([gray16, alpha16[:, :, 0]])), "LA")))

    # JPEG: a smooth picture (so that it compresses like a photo), 4:2:0 and 4:4:4, baseline and progressive, gray.
    y, x = np.mgrid[0:24, 0:32]
    photo = np.dstack([(x * 8) % 256, (y * 10) % 256, ((x + y) * 5) % 256]).astype(np.uint8)
    photo_image = Image.fromarray(photo, "RGB")
    pillow_written("baseline420.jpg", photo_image, quality=85)
    pillow_written("baseline444.jpg", photo_image, quality=90, subsampling=0)
    pillow_written("progressive.jpg", photo_image, quality=75, progressive=True)
    pillow_written("gray-progressive.jpg", photo_image.convert("L"), quality=80, progressive=True)
    pillow_written("odd-size.jpg", Image.fromarray(rgb, "RGB"), quality=95)

    # Refused by lrt (not in expected.json): CMYK JPEG, which Keras and torchvision would read with other colours.
    Image.fromarray(rgb, "RGB").convert("CMYK").save(os.path.join(OUT, "refused-cmyk.jpg"), quality=90)

    # Resizing: Pillow's resize(BILINEAR) (antialiased when shrinking) after Keras's crop or pad window.
    resized = []
    sources = {"resize-source-rgb.png": Image.fromarray(rng.integers(0, 256, (23, 37, 3), dtype=np.uint8), "RGB"),
               "resize-source-gray.png": Image.fromarray((np.add.outer(np.arange(41) * 6, np.arange(50) * 5) % 256).astype(np.uint8), "L")}
    for name, image in sources.items():
        image.save(os.path.join(OUT, name))
        for height, width in [(8, 8), (11, 16), (45, 60), (30, 13), (23, 37), (1, 1)]:
            for mode in ("stretch", "crop", "pad"):
                window = keras_window(image, height, width, mode)
                result = np.asarray(window.resize((width, height), Image.BILINEAR))
                out = f"{name}.{mode}-{height}x{width}.raw"
                with open(os.path.join(OUT, out), "wb") as file:
                    file.write(result.tobytes())
                resized.append({"source": name, "mode": mode, "height": height, "width": width, "expected": out})

    with open(os.path.join(OUT, "resized.json"), "w") as file:
        json.dump(resized, file, indent=1)
        file.write("\n")

    with open(os.path.join(OUT, "expected.json"), "w") as file:
        json.dump({"pillow": Image.__version__, "images": entries}, file, indent=1)
        file.write("\n")
    print(f"wrote {len(entries)} images to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
