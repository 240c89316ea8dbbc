import CPNG
import Foundation

/// Writes 8-bit PNG files with libpng's simplified API and reads every PNG libpng reads with its low-level API,
/// samples as stored (no gamma, sRGB or ICC conversion).
public enum PNGCodec {
    /// Decodes a PNG (or JPEG) file to 8-bit pixels with `channels` channels (1 gray, 3 RGB, 4 RGBA), as
    /// ``ImageDecoder/decode(fileAt:colorMode:pixelLimit:)`` does.
    /// - Returns: pixels `[height, width, channels]` in row-major order, and the image size.
    /// - Throws: `DataError` naming the path when the file is missing, is not an image, or is corrupt.
    public static func decode(fileAt path: String, channels: Int) throws -> (pixels: [UInt8], height: Int, width: Int) {
        let image = try ImageDecoder.decode(fileAt: path, colorMode: colorMode(channels: channels))
        return (image.pixels, image.height, image.width)
    }

    /// Encodes 8-bit pixels `[height, width, channels]` (1 = grayscale, 3 = RGB) as a PNG file, replacing any file at `path`.
    /// - Throws: `DataError` when the sizes do not match the pixel count or the file cannot be written.
    public static func encode(_ pixels: [UInt8], height: Int, width: Int, channels: Int, toFileAt path: String) throws {
        let format = try format(channels: channels)
        guard (1...Int(Int32.max)).contains(height), (1...Int(Int32.max)).contains(width),
              product(height, width, channels) == pixels.count else {
            throw DataError(.invalidArgument, path: path,
                            "cannot write \(pixels.count) bytes as a \(height)×\(width)×\(channels) image",
                            hint: "pass height × width × channels bytes, with height and width at least 1")
        }
        var image = png_image()
        image.version = lrt_png_image_version()
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = format
        defer { png_image_free(&image) }
        let written = pixels.withUnsafeBytes { png_image_write_to_file(&image, path, 0, $0.baseAddress, 0, nil) }
        guard written != 0 else {
            throw DataError(.writeFailed, path: path, "cannot write PNG (libpng: \(message(of: &image)))",
                            hint: "check that the folder exists and is writable")
        }
    }

    /// The version of libpng in use at run time, e.g. "1.6.39".
    public static var libpngVersion: String { String(cString: png_get_libpng_ver(nil)) }

    /// Whether `bytes` start as a PNG does ("\u{89}PNG"); libpng checks the rest of the signature.
    static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.starts(with: [0x89, 0x50, 0x4E, 0x47])
    }

    /// The channels of the PNG in `bytes` after palette expansion (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA), from its
    /// header; `checkSize` sees its size.
    static func headerChannels(_ bytes: [UInt8], path: String,
                               checkSize: (_ height: Int, _ width: Int) throws(DataError) -> Void) throws(DataError) -> Int {
        var info = lrt_png_info()
        let headerRead = bytes.withUnsafeBufferPointer { lrt_png_read($0.baseAddress, $0.count, 0, &info, nil) }
        guard headerRead != 0 else { throw invalidImage(path, &info) }
        try checkSize(Int(info.height), Int(info.width))
        return Int(info.channels)
    }

    /// The PNG's samples at 8 bits with the channels the file has (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA); palettes
    /// expanded to RGB, gray of 1, 2 or 4 bits scaled to 8 (×255, ×85, ×17), 16 bits reduced by `round(v·255/65535)`.
    /// - Parameters:
    ///   - keepAlpha: turn a `tRNS` chunk into an alpha channel (for `rgba`); otherwise it is ignored, as Pillow does.
    ///   - checkSize: runs on the header, before any pixel memory is allocated; throw from it to refuse the image.
    static func decodeSamples(_ bytes: [UInt8], path: String, keepAlpha: Bool,
                              checkSize: (_ height: Int, _ width: Int) throws(DataError) -> Void) throws(DataError) -> DecodedImage {
        var info = lrt_png_info()
        let headerRead = bytes.withUnsafeBufferPointer { lrt_png_read($0.baseAddress, $0.count, keepAlpha ? 1 : 0, &info, nil) }
        guard headerRead != 0 else { throw invalidImage(path, &info) }
        let height = Int(info.height), width = Int(info.width), channels = Int(info.channels)
        try checkSize(height, width)
        let sampleBytes = Int(info.bitDepth) / 8
        var samples = [UInt8](repeating: 0, count: height * width * channels * sampleBytes)
        let decoded = bytes.withUnsafeBufferPointer { source in
            samples.withUnsafeMutableBufferPointer { lrt_png_read(source.baseAddress, source.count, keepAlpha ? 1 : 0, &info, $0.baseAddress) }
        }
        guard decoded != 0 else { throw invalidImage(path, &info) }
        if sampleBytes == 2 {
            samples = (0..<samples.count / 2).map { index in
                let value = UInt32(samples[2 * index]) << 8 | UInt32(samples[2 * index + 1])  // big-endian, as stored
                return UInt8((value * 255 + 32767) / 65535)  // round(v·255/65535); no ties, as 65535 is odd
            }
        }
        return DecodedImage(height: height, width: width, channels: channels, pixels: samples)
    }

    /// The colour mode with `channels` channels.
    static func colorMode(channels: Int) throws(DataError) -> ColorMode {
        guard let mode = ColorMode(channels: channels) else {
            throw DataError(.invalidArgument, path: nil, "unsupported channel count \(channels)",
                            hint: "use 1 for grayscale, 3 for RGB or 4 for RGBA")
        }
        return mode
    }

    /// The libpng sample format for writing 1 (gray) or 3 (RGB) channels.
    static func format(channels: Int) throws(DataError) -> png_uint_32 {
        switch channels {
        case 1: return lrt_png_format_gray()
        case 3: return lrt_png_format_rgb()
        default: throw DataError(.invalidArgument, path: nil, "unsupported channel count \(channels)",
                                 hint: "write 1 for grayscale or 3 for RGB")
        }
    }

    /// The product of `factors`, or nil when it overflows `Int`.
    static func product(_ factors: Int...) -> Int? {
        var result = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }

    private static func invalidImage(_ path: String, _ info: inout lrt_png_info) -> DataError {
        let reason = withUnsafeBytes(of: &info.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return DataError(.invalidImage, path: path, "not a readable PNG image (libpng: \(reason))",
                         hint: "re-export the image, or delete it")
    }

    /// libpng's error or warning text from `image.message` (at most 63 bytes, NUL-terminated).
    private static func message(of image: UnsafeMutablePointer<png_image>) -> String {
        withUnsafeBytes(of: &image.pointee.message) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
