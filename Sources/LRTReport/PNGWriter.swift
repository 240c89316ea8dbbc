import CPNG
import Foundation

/// Encodes 8-bit RGB pixels as PNG through libpng's simplified write API (`png_image_write_to_memory`), with a
/// `tEXt` chunk `Software: lrt plot` after the header, by which lrt recognizes its own output.
public enum PNGWriter {
    /// The keyword and text of the marker chunk.
    public static let softwareKeyword = "Software", softwareText = "lrt plot"

    /// The PNG file for `pixels` `[height, width, 3]`, with `Software` and, when given, `Title` text chunks.
    /// - Throws: ``PlotError`` when the sizes do not match or libpng fails.
    public static func encode(rgb pixels: [UInt8], width: Int, height: Int, title: String = "") throws(PlotError) -> [UInt8] {
        guard width > 0, height > 0, width <= 1 << 15, height <= 1 << 15, pixels.count == width * height * 3 else {
            throw PlotError(.invalidOption, "cannot encode \(pixels.count) bytes as a \(width)×\(height) RGB image; use a --size between 1x1 and 16384x16384")
        }
        var image = png_image()
        image.version = lrt_png_image_version()
        image.width = png_uint_32(width)
        image.height = png_uint_32(height)
        image.format = lrt_png_format_rgb()
        defer { png_image_free(&image) }
        var size: png_alloc_size_t = 0
        let sized = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, 0, nil) }
        guard sized != 0, size > 0 else { throw failure(&image) }
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let written = bytes.withUnsafeMutableBytes { target in
            pixels.withUnsafeBytes { png_image_write_to_memory(&image, target.baseAddress, &size, 0, $0.baseAddress, 0, nil) }
        }
        guard written != 0 else { throw failure(&image) }
        bytes.removeLast(bytes.count - Int(size))
        // The signature (8 bytes) and IHDR (4 length + 4 type + 13 data + 4 CRC) come first; text goes right after.
        var chunks = textChunk(keyword: softwareKeyword, text: softwareText)
        let latin1Title = String(title.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F })
        if !latin1Title.isEmpty { chunks += textChunk(keyword: "Title", text: latin1Title) }
        bytes.insert(contentsOf: chunks, at: 33)
        return bytes
    }

    /// Whether `bytes` (the start of a file) are a PNG with lrt's `Software` text chunk.
    public static func isLRTOutput(_ bytes: [UInt8]) -> Bool {
        guard bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) else { return false }
        var offset = 8
        while offset + 8 <= bytes.count {
            let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            guard length < 1 << 24, offset + 12 + length <= bytes.count else { return false }
            if type == "tEXt" {
                let data = Array(bytes[offset + 8..<offset + 8 + length])
                if data == Array((softwareKeyword + "\0" + softwareText).utf8) { return true }
            }
            if type == "IDAT" || type == "IEND" { return false }  // lrt writes its text before the image data
            offset += 12 + length
        }
        return false
    }

    /// A complete `tEXt` chunk: length, type, `keyword NUL text`, CRC-32.
    static func textChunk(keyword: String, text: String) -> [UInt8] {
        let data = Array(keyword.utf8) + [0] + Array(text.utf8)
        let typeAndData = Array("tEXt".utf8) + data
        let length = UInt32(data.count), crc = crc32(typeAndData)
        return bigEndian(length) + typeAndData + bigEndian(crc)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    /// CRC-32 (ISO 3309, polynomial 0xEDB88320 reflected), as PNG chunks carry.
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    private static func failure(_ image: UnsafeMutablePointer<png_image>) -> PlotError {
        let message = withUnsafeBytes(of: &image.pointee.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return PlotError(.file, "libpng cannot encode the figure: \(message); try a smaller --size")
    }
}
