import Foundation
import LRTHDF5
import XCTest

/// Base class: a fresh temporary directory per test, removed afterwards, and assertions
/// for ``HDF5Error``s.
class HDF5TestCase: XCTestCase {
    private(set) var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("LRTHDF5Tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(at: directory)
    }

    /// A path inside the test's temporary directory.
    func temporaryPath(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// Asserts that `expression` throws an ``HDF5Error`` of `kind` whose one-line
    /// description contains every fragment (typically the file path and the object path).
    func assertHDF5Error<T>(
        _ expression: @autoclosure () throws -> T, kind: HDF5Error.Kind, mentions fragments: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try expression(), file: file, line: line) { error in
            guard let error = error as? HDF5Error else {
                return XCTFail("expected HDF5Error, got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "description is not one line: \(error)", file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "'\(error)' does not mention '\(fragment)'", file: file, line: line)
            }
        }
    }

    /// Runs `body` with file descriptor 2 redirected to a file and returns what was written
    /// to stderr meanwhile.
    func capturingStandardError(_ body: () -> Void) -> String {
        let capturePath = temporaryPath("stderr.txt")
        let capture = open(capturePath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let saved = dup(2)
        fflush(nil)
        dup2(capture, 2)
        defer {
            fflush(nil)
            dup2(saved, 2)
            close(saved)
            close(capture)
        }
        body()
        fflush(nil)
        return (try? String(contentsOfFile: capturePath, encoding: .utf8)) ?? ""
    }
}
