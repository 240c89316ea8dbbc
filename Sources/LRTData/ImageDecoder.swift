import CJPEG
import Foundation

/// The channels images are read as (Keras's `color_mode`).
public enum ColorMode: String, Sendable, CaseIterable, Codable {
    /// One channel: gray files as stored, colour files by ITU-R 601 luma as Pillow's `convert("L")` computes it.
    case grayscale
    /// Three channels: gray replicated, alpha dropped.
    case rgb
    /// Four channels: alpha as stored (a PNG `tRNS` chunk becomes one), 255 where the file has none.
    case rgba

    /// The number of channels: 1, 3 or 4.
    public var channels: Int {
        switch self {
        case .grayscale: return 1
        case .rgb: return 3
        case .rgba: return 4
        }
    }

    /// The mode with `channels` channels (1, 3 or 4), or nil.
    public init?(channels: Int) {
        guard let mode = ColorMode.allCases.first(where: { $0.channels == channels }) else { return nil }
        self = mode
    }
}

/// An image decoded to 8-bit samples.
public struct DecodedImage: Equatable, Sendable {
    public var height: Int
    public var width: Int
    public var channels: Int
    /// Samples, row-major. [height, width, channels]
    public var pixels: [UInt8]

    public init(height: Int, width: Int, channels: Int, pixels: [UInt8]) {
        precondition(pixels.count == height * width * channels, "\(pixels.count) samples for \(height)×\(width)×\(channels)")
        (self.height, self.width, self.channels, self.pixels) = (height, width, channels, pixels)
    }
}

/// Decodes PNG and JPEG files (told apart by their first bytes, not their name) to the sample values Pillow,
/// Keras and torchvision read: no gamma, sRGB or ICC conversion; 16-bit samples to 8 bits by `round(v·255/65535)`;
/// colour to gray by ITU-R 601 luma with Pillow's integer weights; alpha dropped unless `rgba`.
public enum ImageDecoder {
    /// Images with more pixels than this are refused from their header, before any pixel memory is allocated
    /// (Pillow's limit, twice its `MAX_IMAGE_PIXELS` warning: 178,956,970).
    public static let defaultPixelLimit = 178_956_970

    /// Decodes the file at `path` as `colorMode`.
    /// - Parameter pixelLimit: the largest height × width accepted (default ``defaultPixelLimit``).
    /// - Throws: `DataError` naming the file: not a regular file, permission denied, not PNG or JPEG, corrupt or
    ///   truncated (with libpng's or libjpeg's reason), or declaring more than `pixelLimit` pixels.
    public static func decode(fileAt path: String, colorMode: ColorMode,
                              pixelLimit: Int = defaultPixelLimit) throws(DataError) -> DecodedImage {
        try decode(ImageFile.read(path), path: path, colorMode: colorMode, pixelLimit: pixelLimit)
    }

    /// Decodes the PNG or JPEG file content `bytes`; `path` only names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String, colorMode: ColorMode,
                              pixelLimit: Int = defaultPixelLimit) throws(DataError) -> DecodedImage {
        let native: DecodedImage
        let checkSize = { (height: Int, width: Int) throws(DataError) in
            guard height.multipliedReportingOverflow(by: width).partialValue <= pixelLimit,
                  !height.multipliedReportingOverflow(by: width).overflow else {
                throw DataError(.imageTooLarge, path: path,
                                "image declares \(width)×\(height) pixels, more than the limit of \(pixelLimit)",
                                hint: "shrink the image, or delete it if the size is wrong")
            }
        }
        if PNGCodec.hasSignature(bytes) {
            native = try PNGCodec.decodeSamples(bytes, path: path, keepAlpha: colorMode == .rgba, checkSize: checkSize)
        } else if JPEGCodec.hasSignature(bytes) {
            native = try JPEGCodec.decodeSamples(bytes, path: path, checkSize: checkSize)
        } else {
            let start = bytes.prefix(8).map { String(format: "%02X", $0) }.joined(separator: " ")
            throw DataError(.invalidImage, path: path, "not a PNG or JPEG file (it starts with bytes \(start))",
                            hint: "convert the image to PNG or JPEG, or delete it")
        }
        return convert(native, to: colorMode)
    }

    /// The size of the PNG or JPEG at `path` and the channels its colour mode has by default (1 for gray, 3 for
    /// colour; alpha not counted), from the header alone, without decoding pixels.
    /// - Throws: `DataError` naming the path when the file cannot be read or is not a PNG or JPEG.
    public static func header(fileAt path: String) throws(DataError) -> (height: Int, width: Int, channels: Int) {
        let bytes = try ImageFile.read(path)
        var found: (height: Int, width: Int, channels: Int)?
        let probe = { (height: Int, width: Int) throws(DataError) in found = (height, width, 0) }
        if PNGCodec.hasSignature(bytes) {
            let channels = try PNGCodec.headerChannels(bytes, path: path, checkSize: probe)
            found?.channels = channels >= 3 ? 3 : 1
        } else if JPEGCodec.hasSignature(bytes) {
            let channels = try JPEGCodec.headerChannels(bytes, path: path, checkSize: probe)
            found?.channels = channels
        } else {
            _ = try decode(bytes, path: path, colorMode: .grayscale)  // throws the "not a PNG or JPEG" error
        }
        return found!
    }

    /// `image` (1 gray, 2 gray+alpha, 3 RGB or 4 RGBA channels) in `mode`, as Pillow's `convert` does it.
    static func convert(_ image: DecodedImage, to mode: ColorMode) -> DecodedImage {
        let source = image.channels, target = mode.channels
        if source == target { return image }
        let pixelCount = image.height * image.width
        let pixels = [UInt8](unsafeUninitializedCapacity: pixelCount * target) { output, initialized in
            image.pixels.withUnsafeBufferPointer { input in
                for pixel in 0..<pixelCount {
                    let sample = input.baseAddress! + pixel * source
                    let destination = output.baseAddress! + pixel * target
                    let isColor = source >= 3
                    let alpha: UInt8 = source == 2 ? sample[1] : source == 4 ? sample[3] : 255
                    if target == 1 {
                        destination[0] = isColor ? luma(sample[0], sample[1], sample[2]) : sample[0]
                    } else {
                        destination[0] = sample[0]
                        destination[1] = isColor ? sample[1] : sample[0]
                        destination[2] = isColor ? sample[2] : sample[0]
                        if target == 4 { destination[3] = alpha }
                    }
                }
            }
            initialized = pixelCount * target
        }
        return DecodedImage(height: image.height, width: image.width, channels: target, pixels: pixels)
    }

    /// ITU-R 601 luma in Pillow's integers (`L24` in `Convert.c`): (19595 R + 38470 G + 7471 B + 2¹⁵) >> 16.
    @inline(__always)
    static func luma(_ red: UInt8, _ green: UInt8, _ blue: UInt8) -> UInt8 {
        let weighted: UInt32 = UInt32(red) * 19595 + UInt32(green) * 38470
        return UInt8((weighted + UInt32(blue) * 7471 + 0x8000) >> 16)
    }
}

/// Reads JPEG files with libjpeg-turbo's TurboJPEG API, with the decoder settings Pillow uses (accurate integer
/// IDCT, fancy upsampling).
public enum JPEGCodec {
    /// Whether `bytes` start with a JPEG start-of-image marker.
    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF
    }

    /// The channels of the JPEG in `bytes` (1 gray, 3 colour), from its header; `checkSize` sees its size.
    static func headerChannels(_ bytes: [UInt8], path: String,
                               checkSize: (_ height: Int, _ width: Int) throws(DataError) -> Void) throws(DataError) -> Int {
        guard let handle = tjInitDecompress() else {
            throw DataError(.invalidImage, path: path, "cannot start the JPEG decoder (out of memory)", hint: "free memory and retry")
        }
        defer { tjDestroy(handle) }
        return try readHeader(bytes, path: path, handle: handle, checkSize: checkSize).channels
    }

    /// The size and channels of the JPEG in `bytes`, read with `handle`; CMYK is refused.
    private static func readHeader(_ bytes: [UInt8], path: String, handle: tjhandle,
                                   checkSize: (_ height: Int, _ width: Int) throws(DataError) -> Void)
    throws(DataError) -> (height: Int32, width: Int32, channels: Int) {
        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer {
            tjDecompressHeader3(handle, $0.baseAddress, UInt($0.count), &width, &height, &subsampling, &colorspace)
        }
        guard header == 0 else { throw invalid(path, handle) }
        guard colorspace != lrt_tj_colorspace_cmyk(), colorspace != lrt_tj_colorspace_ycck() else {
            throw DataError(.invalidImage, path: path, "JPEG is CMYK, which lrt does not read",
                            hint: "convert the image to RGB, or delete it")
        }
        try checkSize(Int(height), Int(width))
        return (height, width, colorspace == lrt_tj_colorspace_gray() ? 1 : 3)
    }

    /// The JPEG's samples: 1 channel for a grayscale file, 3 (RGB) for a colour one.
    static func decodeSamples(_ bytes: [UInt8], path: String,
                              checkSize: (_ height: Int, _ width: Int) throws(DataError) -> Void) throws(DataError) -> DecodedImage {
        guard let handle = tjInitDecompress() else {
            throw DataError(.invalidImage, path: path, "cannot start the JPEG decoder (out of memory)", hint: "free memory and retry")
        }
        defer { tjDestroy(handle) }
        let (height, width, channels) = try readHeader(bytes, path: path, handle: handle, checkSize: checkSize)
        let format = channels == 1 ? lrt_tj_pixel_format_gray() : lrt_tj_pixel_format_rgb()
        var pixels = [UInt8](repeating: 0, count: Int(height) * Int(width) * channels)
        // At most 500 scans: a progressive JPEG with thousands of tiny scans would take minutes.
        let flags = Int32(TJFLAG_LIMITSCANS)
        let result = bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                tjDecompress2(handle, source.baseAddress, UInt(source.count), target.baseAddress,
                              width, 0, height, format, flags)
            }
        }
        if result != 0 {
            // A warning still leaves an image, but a truncated or corrupt one is partly gray: refuse it, as Pillow
            // does. Only stray bytes between markers (common in camera files, and read by Pillow) are let through.
            let message = String(cString: tjGetErrorStr2(handle))
            let isWarning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
            guard isWarning, message.contains("extraneous bytes before marker") else { throw invalid(path, handle) }
        }
        return DecodedImage(height: Int(height), width: Int(width), channels: channels, pixels: pixels)
    }

    private static func invalid(_ path: String, _ handle: tjhandle) -> DataError {
        DataError(.invalidImage, path: path, "not a readable JPEG image (libjpeg: \(String(cString: tjGetErrorStr2(handle))))",
                  hint: "re-export the image, or delete it")
    }

    /// The version of libjpeg-turbo lrt was built against, e.g. "2.1.5".
    public static var libjpegTurboVersion: String {
        // TurboJPEG has no run-time version call; the header's is the packaged one.
        let number = lrt_libjpeg_turbo_version_number()
        return "\(number / 1_000_000).\(number / 1000 % 1000).\(number % 1000)"
    }
}
