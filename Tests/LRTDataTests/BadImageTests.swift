import Foundation
import XCTest
@testable import LRTData

/// Files that are not good images: each is refused at once with a one-line message naming it and the reason.
final class BadImageTests: FixtureTestCase {
    private var reference: String { DecoderReferenceTests.folder }

    func testAFIFONamedPNGIsRefusedAtOnceInsteadOfBlocking() throws {
        let fifo = path("x.png")
        XCTAssertEqual(mkfifo(fifo, 0o644), 0, String(cString: strerror(errno)))
        let started = Date()
        assertDataError(.notARegularFile, naming: fifo, "FIFO") { _ = try ImageDecoder.decode(fileAt: fifo, colorMode: .rgb) }
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
    }

    func testAFolderNamedPNGIsNotARegularFile() throws {
        try makeFolder("folder.png")
        assertDataError(.notARegularFile, naming: path("folder.png"), "folder") {
            _ = try ImageDecoder.decode(fileAt: self.path("folder.png"), colorMode: .rgb)
        }
    }

    func testAnUnreadableFileSaysPermissionNotReexport() throws {
        let file = try writeImage("locked.png")
        XCTAssertEqual(chmod(file, 0), 0)
        defer { chmod(file, 0o644) }
        if getuid() != 0 {
            assertDataError(.permissionDenied, naming: file, "permission denied", "chmod") {
                _ = try ImageDecoder.decode(fileAt: file, colorMode: .grayscale)
            }
        }
        // As root the file stays readable, so check the message for EACCES itself too.
        let error = ImageFile.openError(file, errno: EACCES)
        XCTAssertEqual(error.kind, .permissionDenied)
        XCTAssertTrue(error.description.contains("permission denied") && !error.description.contains("re-export"), "\(error)")
    }

    func testZeroByteFileIsNamedAsEmpty() throws {
        let file = try writeBytes("empty.png", [])
        assertDataError(.invalidImage, naming: file, "empty") { _ = try ImageDecoder.decode(fileAt: file, colorMode: .rgb) }
    }

    func testSymlinkLoopIsNamed() throws {
        try FileManager.default.createSymbolicLink(atPath: path("a.png"), withDestinationPath: path("b.png"))
        try FileManager.default.createSymbolicLink(atPath: path("b.png"), withDestinationPath: path("a.png"))
        assertDataError(.invalidImage, naming: path("a.png"), "symbolic link loop") {
            _ = try ImageDecoder.decode(fileAt: self.path("a.png"), colorMode: .rgb)
        }
    }

    func testBadCRCIsRefusedWithLibpngsReason() throws {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: reference + "/gray8.png")))
        bytes[29] ^= 0xFF  // the IHDR chunk's CRC (8 signature + 4 length + 4 type + 13 data)
        let file = try writeBytes("crc.png", bytes)
        assertDataError(.invalidImage, naming: file, "libpng: ", "CRC") { _ = try ImageDecoder.decode(fileAt: file, colorMode: .rgb) }
    }

    func testTruncatedPNGAndJPEGAreRefused() throws {
        for name in ["rgb8.png", "baseline420.jpg", "progressive.jpg"] {
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(reference)/\(name)")))
            let file = try writeBytes("truncated-" + name, Array(bytes.prefix(bytes.count * 2 / 3)))
            assertDataError(.invalidImage, naming: file, name.hasSuffix("png") ? "libpng: " : "libjpeg: ") {
                _ = try ImageDecoder.decode(fileAt: file, colorMode: .rgb)
            }
        }
    }

    func testHugeDeclaredSizeIsRefusedFromTheHeaderBeforeAllocating() throws {
        // A valid header declaring 200,000 × 200,000 pixels (40 gigapixels), then an empty IDAT.
        var header: [UInt8] = [0, 3, 0x0D, 0x40, 0, 3, 0x0D, 0x40, 8, 0, 0, 0, 0]  // width, height, depth 8, gray
        header = Array("IHDR".utf8) + header
        let crc = crc32(header)
        let bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + header
            + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: crc >> UInt32($0)) }
            + [0, 0, 0, 0] + Array("IDAT".utf8) + [0x35, 0xAF, 0x06, 0x1E]  // CRC-32 of "IDAT"
        let file = try writeBytes("huge.png", bytes)
        assertDataError(.imageTooLarge, naming: file, "200000×200000", "limit") {
            _ = try ImageDecoder.decode(fileAt: file, colorMode: .grayscale)
        }
        let small = reference + "/rgb8.png"  // 7×5 = 35 pixels
        assertDataError(.imageTooLarge, naming: small, "7×5") { _ = try ImageDecoder.decode(fileAt: small, colorMode: .rgb, pixelLimit: 34) }
        XCTAssertNoThrow(try ImageDecoder.decode(fileAt: small, colorMode: .rgb, pixelLimit: 35))
    }

    func testCMYKIsNotSilentlyMisread() throws {
        // Pillow wrote it (Tools/make_image_fixtures.py); it is not in expected.json, as lrt refuses it.
        let file = reference + "/refused-cmyk.jpg"
        assertDataError(.invalidImage, naming: file, "CMYK") { _ = try ImageDecoder.decode(fileAt: file, colorMode: .rgb) }
    }

    /// The CRC-32 of PNG chunks (ISO 3309, as zlib's `crc32`).
    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
