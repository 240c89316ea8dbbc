import XCTest
@testable import LRTData

final class PNGCodecTests: FixtureTestCase {
    func testGrayscaleRoundTripKeepsEveryByte() throws {
        let pixels = (0..<15).map { UInt8($0 * 17) }  // [3, 5, 1]
        let file = try writeImage("gray.png", pixels, height: 3, width: 5, channels: 1)
        let decoded = try PNGCodec.decode(fileAt: file, channels: 1)
        XCTAssertEqual(decoded.height, 3)
        XCTAssertEqual(decoded.width, 5)
        XCTAssertEqual(decoded.pixels, pixels)
    }

    func testRGBRoundTripKeepsEveryByte() throws {
        let pixels = (0..<24).map { UInt8(($0 * 37) % 256) }  // [2, 4, 3]
        let file = try writeImage("rgb.png", pixels, height: 2, width: 4, channels: 3)
        let decoded = try PNGCodec.decode(fileAt: file, channels: 3)
        XCTAssertEqual(decoded.height, 2)
        XCTAssertEqual(decoded.width, 4)
        XCTAssertEqual(decoded.pixels, pixels)
    }

    func testRGBFileReadAsGrayscaleGivesLuminance() throws {
        // Gray-coloured pixels keep their value; pure red is darker than pure green (ITU-R 601 luma, as Pillow).
        let pixels: [UInt8] = [0, 0, 0, 128, 128, 128, 255, 255, 255, 255, 0, 0, 0, 255, 0]  // [1, 5, 3]
        let file = try writeImage("rgb.png", pixels, height: 1, width: 5, channels: 3)
        let gray = try PNGCodec.decode(fileAt: file, channels: 1).pixels
        XCTAssertEqual(gray.count, 5)
        XCTAssertEqual(gray[0], 0)
        XCTAssertEqual(Int(gray[1]), 128, accuracy: 1)
        XCTAssertEqual(gray[2], 255)
        XCTAssertGreaterThan(gray[3], 0)
        XCTAssertLessThan(gray[3], gray[4])
    }

    func testGrayscaleFileReadAsRGBRepeatsTheValue() throws {
        let file = try writeImage("gray.png", [0, 100, 255], height: 1, width: 3, channels: 1)
        let rgb = try PNGCodec.decode(fileAt: file, channels: 3).pixels
        XCTAssertEqual(rgb, [0, 0, 0, 100, 100, 100, 255, 255, 255])
    }

    func testDecodeOfMissingFileNamesThePath() {
        let file = path("absent.png")
        assertDataError(.invalidImage, naming: file) { _ = try PNGCodec.decode(fileAt: file, channels: 1) }
    }

    func testDecodeOfNeitherPNGNorJPEGNamesThePathAndItsFirstBytes() throws {
        let file = try writeBytes("text.png", Array("not a png at all".utf8))
        assertDataError(.invalidImage, naming: file, "not a PNG or JPEG file", "6E 6F 74 20") {
            _ = try PNGCodec.decode(fileAt: file, channels: 1)
        }
    }

    func testDecodeOfTruncatedPNGNamesThePath() throws {
        let whole = try writeImage("whole.png", (0..<1024).map { UInt8($0 % 251) }, height: 32, width: 32, channels: 1)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: whole)))
        let file = try writeBytes("truncated.png", Array(bytes.prefix(bytes.count / 2)))
        assertDataError(.invalidImage, naming: file, "libpng: ") { _ = try PNGCodec.decode(fileAt: file, channels: 1) }
    }

    func testUnsupportedChannelCountsAreRejected() throws {
        let file = try writeImage("gray.png")
        assertDataError(.invalidArgument, naming: "channel count 2") { _ = try PNGCodec.decode(fileAt: file, channels: 2) }
        assertDataError(.invalidArgument, naming: "channel count 4") {
            try PNGCodec.encode([0, 0, 0, 0], height: 1, width: 1, channels: 4, toFileAt: self.path("x.png"))
        }
    }

    func testEncodeRejectsAPixelCountThatDoesNotMatchTheSize() {
        let file = path("short.png")
        assertDataError(.invalidArgument, naming: file, "5 bytes", "2×3×1") {
            try PNGCodec.encode([1, 2, 3, 4, 5], height: 2, width: 3, channels: 1, toFileAt: file)
        }
        assertDataError(.invalidArgument, naming: file) {
            try PNGCodec.encode([], height: 0, width: 3, channels: 1, toFileAt: file)
        }
    }

    func testEncodeIntoAMissingFolderNamesThePath() {
        let file = path("no/such/folder/x.png")
        assertDataError(.writeFailed, naming: file, "libpng: ") {
            try PNGCodec.encode([0], height: 1, width: 1, channels: 1, toFileAt: file)
        }
    }

    func testLibpngVersionIsTheRunTimeOne() {
        XCTAssertTrue(PNGCodec.libpngVersion.hasPrefix("1.6."), PNGCodec.libpngVersion)
    }
}
