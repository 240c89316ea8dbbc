import CPNG
import Foundation

/// Reads and writes 8-bit grayscale and RGB PNG files with libpng's simplified API (`png_image_*`).
public enum PNGCodec {
    /// Decodes a PNG file to 8-bit pixels with `channels` channels.
    ///
    /// libpng converts whatever the file holds as its simplified API does: colour to gray, gray to RGB,
    /// palettes expanded, 16-bit reduced to 8-bit, and transparent pixels composited onto black.
    /// - Parameters:
    ///   - path: the PNG file.
    ///   - channels: 1 for grayscale or 3 for RGB.
    /// - Returns: pixels `[height, width, channels]` in row-major order, and the image size.
    /// - Throws: `DataError` naming the path when the file is missing, is not a PNG, or is corrupt.
    public static func decode(fileAt path: String, channels: Int) throws -> (pixels: [UInt8], height: Int, width: Int) {
        var pixels: [UInt8] = []
        let size = try read(fileAt: path, channels: channels, into: &pixels)
        return (pixels, size.height, size.width)
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

    /// The size of the PNG at `path` and its channels as lrt reads it (1 for gray, 3 for colour; alpha and
    /// palettes as libpng reports them), from the header alone, without decoding pixels.
    /// - Throws: `DataError` naming the path when the file is missing or is not a PNG.
    public static func header(fileAt path: String) throws -> (height: Int, width: Int, channels: Int) {
        try opened(path) { image throws(DataError) in
            let isColour = image.pointee.format & png_uint_32(PNG_FORMAT_FLAG_COLOR) != 0
            return (Int(image.pointee.height), Int(image.pointee.width), isColour ? 3 : 1)
        }
    }

    /// Runs `body` on the png_image of `path` with its header read, then frees it.
    private static func opened<Result>(_ path: String, _ body: (UnsafeMutablePointer<png_image>) throws(DataError) -> Result)
    throws(DataError) -> Result {
        // libpng keeps a pointer to the png_image for its error handler, so it needs a fixed address.
        let image = UnsafeMutablePointer<png_image>.allocate(capacity: 1)
        image.initialize(to: png_image())
        image.pointee.version = lrt_png_image_version()
        defer {
            png_image_free(image)
            image.deallocate()
        }
        guard png_image_begin_read_from_file(image, path) != 0 else { throw invalidImage(path, image) }
        return try body(image)
    }

    /// The version of libpng in use at run time, e.g. "1.6.39".
    public static var libpngVersion: String { String(cString: png_get_libpng_ver(nil)) }

    /// Decodes the PNG at `path` into `buffer` (resized only when the size changes, so a caller can reuse it).
    ///
    /// `checkSize(height, width)` runs on the header before any pixel is decoded; throw from it to reject the image cheaply.
    static func read(fileAt path: String, channels: Int, into buffer: inout [UInt8],
                     checkSize: (_ height: Int, _ width: Int) throws(DataError) -> Void = { _, _ throws(DataError) in })
    throws(DataError) -> (height: Int, width: Int) {
        let format = try format(channels: channels)
        return try opened(path) { image throws(DataError) in
            let height = Int(image.pointee.height), width = Int(image.pointee.width)
            try checkSize(height, width)
            let byteCount = height * width * channels  // libpng caps each side at 1,000,000: no overflow
            guard UInt64(byteCount) <= ProcessInfo.processInfo.physicalMemory / 2 else {
                throw DataError(.invalidImage, path: path, "image is \(height)×\(width), too large to decode in memory",
                                hint: "resize the image or remove it from the dataset")
            }
            image.pointee.format = format
            if buffer.count != byteCount { buffer = [UInt8](repeating: 0, count: byteCount) }
            var black = png_color(red: 0, green: 0, blue: 0)
            let finished = buffer.withUnsafeMutableBytes { png_image_finish_read(image, &black, $0.baseAddress, 0, nil) }
            guard finished != 0 else { throw invalidImage(path, image) }
            return (height, width)
        }
    }

    /// The libpng sample format for 1 (gray) or 3 (RGB) channels.
    static func format(channels: Int) throws(DataError) -> png_uint_32 {
        switch channels {
        case 1: return lrt_png_format_gray()
        case 3: return lrt_png_format_rgb()
        default: throw DataError(.invalidArgument, path: nil, "unsupported channel count \(channels)",
                                 hint: "use 1 for grayscale or 3 for RGB")
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

    private static func invalidImage(_ path: String, _ image: UnsafeMutablePointer<png_image>) -> DataError {
        DataError(.invalidImage, path: path, "not a readable PNG image (libpng: \(message(of: image)))",
                  hint: "re-export the file as PNG, or delete it")
    }

    /// libpng's error or warning text from `image.message` (at most 63 bytes, NUL-terminated).
    private static func message(of image: UnsafeMutablePointer<png_image>) -> String {
        withUnsafeBytes(of: &image.pointee.message) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
    }
}
