import Foundation
import XCTest
@testable import LRTData

/// lrt's resizing against Pillow's `resize(BILINEAR)` after Keras's crop or pad window (`Tools/make_image_fixtures.py`).
/// lrt follows Pillow's `Resample.c` (22-bit weights, horizontal pass rounded to 8 bits, then vertical), and 30 of
/// the 36 cases match byte for byte. Pillow 13's wheels run the vertical pass first for some sizes (a Python port of
/// `Resample.c` shows the same split, so it is the pass order and not the weights); then the intermediate rounding
/// differs, so the stated tolerance is 1 (of 255) per sample, and at most 10% of the samples may differ (the worst case, pad to 30×13, has 5.1%).
final class ResizeReferenceTests: FixtureTestCase {
    struct Case: Decodable { let source: String, mode: String, height: Int, width: Int, expected: String }

    func testStretchCropAndPadMatchPillowByteForByte() throws {
        let folder = DecoderReferenceTests.folder
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/resized.json")))
        XCTAssertEqual(cases.count, 36)
        var exact = 0
        for item in cases {
            let colorMode: ColorMode = item.source.contains("gray") ? .grayscale : .rgb
            let source = try ImageDecoder.decode(fileAt: "\(folder)/\(item.source)", colorMode: colorMode)
            let mode = try XCTUnwrap(ResizeMode(rawValue: item.mode))
            let resized = try ImageResizer.fit(source, height: item.height, width: item.width, mode: mode, path: item.source)
            let expected = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(item.expected)")))
            XCTAssertEqual([resized.height, resized.width, resized.channels], [item.height, item.width, colorMode.channels], item.expected)
            let differing = zip(resized.pixels, expected).filter { $0 != $1 }
            let largest = differing.map { abs(Int($0) - Int($1)) }.max() ?? 0
            XCTAssertEqual(resized.pixels.count, expected.count, item.expected)
            XCTAssertLessThanOrEqual(largest, 1, "\(item.expected): a sample differs from Pillow's by \(largest)")
            XCTAssertLessThanOrEqual(differing.count * 10, expected.count,
                                     "\(item.expected): \(differing.count) of \(expected.count) samples differ from Pillow's")
            exact += differing.isEmpty ? 1 : 0
        }
        XCTAssertGreaterThanOrEqual(exact, 30, "fewer cases than before match Pillow byte for byte")
    }

    func testErrorModeNamesTheFileAndBothSizes() throws {
        let image = DecodedImage(height: 3, width: 4, channels: 1, pixels: Array(repeating: 7, count: 12))
        assertDataError(.sizeMismatch, naming: "a/b.png", "3×4", "2×2", "--resize") {
            _ = try ImageResizer.fit(image, height: 2, width: 2, mode: .error, path: "a/b.png")
        }
        XCTAssertEqual(try ImageResizer.fit(image, height: 3, width: 4, mode: .error, path: "a/b.png"), image)
    }

    func testAConstantImageStaysConstantWhateverTheSize() throws {
        let image = DecodedImage(height: 13, width: 7, channels: 3, pixels: Array(repeating: 200, count: 13 * 7 * 3))
        for (height, width) in [(1, 1), (5, 3), (40, 2), (13, 30)] {
            XCTAssertEqual(Set(ImageResizer.resize(image, height: height, width: width).pixels), [200])
        }
    }
}
