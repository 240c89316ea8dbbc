import Foundation
import XCTest
@testable import LRTData

/// lrt's decoded pixels against the bytes Pillow reads from the same files (`Tools/make_image_fixtures.py` wrote
/// both): every PNG colour type and bit depth, interlaced files, a gAMA chunk, and baseline and progressive JPEG.
final class DecoderReferenceTests: XCTestCase {
    struct Expected: Decodable {
        struct Image: Decodable { let file: String, height: Int, width: Int }
        let images: [Image]
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/images").path

    func loadExpected() throws -> [Expected.Image] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/expected.json"))
        return try JSONDecoder().decode(Expected.self, from: data).images
    }

    func testEveryFixtureDecodesToPillowsBytesInEveryColorMode() throws {
        let images = try loadExpected()
        XCTAssertGreaterThanOrEqual(images.count, 25, "the fixture list is incomplete")
        var compared = 0
        for image in images {
            for mode in ColorMode.allCases {
                let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(Self.folder)/\(image.file).\(mode.rawValue).raw")))
                let decoded = try ImageDecoder.decode(fileAt: "\(Self.folder)/\(image.file)", colorMode: mode)
                XCTAssertEqual([decoded.height, decoded.width, decoded.channels], [image.height, image.width, mode.channels],
                               "\(image.file) as \(mode)")
                let differing = zip(decoded.pixels, expected).filter { $0 != $1 }.count
                XCTAssertEqual(decoded.pixels.count, expected.count, "\(image.file) as \(mode)")
                XCTAssertEqual(differing, 0, "\(image.file) as \(mode): \(differing) of \(expected.count) bytes differ from Pillow's")
                compared += 1
            }
        }
        XCTAssertEqual(compared, images.count * 3)
    }

    func testSixteenBitGrayIsScaledNotColorManaged() throws {
        // The first three samples are 32·257, 128·257 and 65535: libpng's colour management gave 99 and 186.
        let image = try ImageDecoder.decode(fileAt: Self.folder + "/gray16.png", colorMode: .grayscale)
        XCTAssertEqual(Array(image.pixels.prefix(3)), [32, 128, 255])
    }

    func testPureColorsBecomePillowsLuma() throws {
        let image = try ImageDecoder.decode(fileAt: Self.folder + "/rgb8.png", colorMode: .grayscale)
        XCTAssertEqual(Array(image.pixels.prefix(3)), [76, 150, 29])  // libpng's simplified API gave 126 for red
    }

    func testGammaChunkIsIgnored() throws {
        let plain = try ImageDecoder.decode(fileAt: Self.folder + "/gray8.png", colorMode: .grayscale)
        let gamma = try ImageDecoder.decode(fileAt: Self.folder + "/gray8-gamma1.png", colorMode: .grayscale)
        XCTAssertEqual(gamma.pixels, plain.pixels)
    }

    func testAJPEGNamedPNGIsReadByItsContent() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lrt-jpeg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let renamed = folder.appendingPathComponent("photo.png").path
        try FileManager.default.copyItem(atPath: Self.folder + "/baseline420.jpg", toPath: renamed)
        let original = try ImageDecoder.decode(fileAt: Self.folder + "/baseline420.jpg", colorMode: .rgb)
        XCTAssertEqual(try ImageDecoder.decode(fileAt: renamed, colorMode: .rgb), original)
    }

    func testHeadersGiveSizeAndDefaultChannelsWithoutDecoding() throws {
        let expected: [String: [Int]] = ["gray16.png": [5, 7, 1], "gray-alpha8.png": [5, 7, 1], "palette.png": [5, 7, 3],
                                         "rgba16-interlaced.png": [5, 7, 3], "gray-progressive.jpg": [24, 32, 1],
                                         "baseline420.jpg": [24, 32, 3]]
        for (file, shape) in expected {
            let header = try ImageDecoder.header(fileAt: "\(Self.folder)/\(file)")
            XCTAssertEqual([header.height, header.width, header.channels], shape, file)
        }
    }

    func testLibjpegTurboVersionIsKnown() {
        XCTAssertTrue(JPEGCodec.libjpegTurboVersion.hasPrefix("2.") || JPEGCodec.libjpegTurboVersion.hasPrefix("3."),
                      JPEGCodec.libjpegTurboVersion)
    }
}
