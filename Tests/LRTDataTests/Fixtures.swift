import Foundation
import XCTest
@testable import LRTData

/// A temporary folder for PNG fixtures, removed when the test ends.
class FixtureTestCase: XCTestCase {
    var folder = ""

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("LRTDataTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The absolute path of `relative` inside the fixture folder.
    func path(_ relative: String) -> String { folder + "/" + relative }

    /// Writes a PNG whose every byte is `value`, creating folders as needed; returns its path.
    @discardableResult
    func writeImage(_ relative: String, height: Int = 2, width: Int = 3, channels: Int = 1, value: UInt8 = 0) throws -> String {
        try writeImage(relative, Array(repeating: value, count: height * width * channels),
                       height: height, width: width, channels: channels)
    }

    /// Writes `pixels` [height, width, channels] as a PNG, creating folders as needed; returns its path.
    @discardableResult
    func writeImage(_ relative: String, _ pixels: [UInt8], height: Int, width: Int, channels: Int) throws -> String {
        let file = path(relative)
        try makeFolder((relative as NSString).deletingLastPathComponent)
        try PNGCodec.encode(pixels, height: height, width: width, channels: channels, toFileAt: file)
        return file
    }

    /// Writes raw bytes (e.g. a corrupt image), creating folders as needed; returns its path.
    @discardableResult
    func writeBytes(_ relative: String, _ bytes: [UInt8]) throws -> String {
        let file = path(relative)
        try makeFolder((relative as NSString).deletingLastPathComponent)
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }

    func makeFolder(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path(relative), withIntermediateDirectories: true)
    }

    /// Asserts that `body` throws a `DataError` of `kind` whose one-line message contains every fragment.
    func assertDataError(_ kind: DataError.Kind, naming fragments: String..., file: StaticString = #filePath,
                         line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? DataError else {
                return XCTFail("expected a DataError, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "message is one line: \(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "\"\(error)\" should name \(fragment)",
                              file: file, line: line)
            }
        }
    }
}
