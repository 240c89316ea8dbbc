import Foundation
import LRTHDF5
import XCTest

/// Every failure is a thrown HDF5Error naming the file and the object, never a trap and
/// never an HDF5 error dump on stderr.
final class ErrorTests: HDF5TestCase {
    /// A small file: /layer (group, attribute "name"), /layer/kernel (float32 [4, 8]).
    private func makeSampleFile(_ name: String = "sample.h5") throws -> String {
        let path = temporaryPath(name)
        let file = try HDF5File.create(atPath: path)
        let layer = try file.root.createGroup("layer")
        try layer.writeFloats("kernel", (0..<32).map(Float.init), shape: [4, 8])
        try layer.setAttribute("name", string: "dense")
        try layer.setAttribute("names", strings: ["a", "b"])
        try file.close()
        return path
    }

    func testOpeningAMissingFileSaysNoSuchFile() {
        let path = temporaryPath("absent.h5")
        assertHDF5Error(try HDF5File.openForReading(atPath: path), kind: .fileNotFound, mentions: [path, "no such file"])
    }

    func testOpeningOrCreatingADirectorySaysIsADirectory() {
        assertHDF5Error(try HDF5File.openForReading(atPath: directory.path), kind: .isDirectory, mentions: [directory.path, "is a directory"])
        assertHDF5Error(try HDF5File.create(atPath: directory.path), kind: .isDirectory, mentions: [directory.path])
    }

    func testCreatingInAMissingDirectoryGivesHDF5sReason() {
        let path = temporaryPath("missing/dir/file.h5")
        assertHDF5Error(try HDF5File.create(atPath: path), kind: .libraryFailure, mentions: [path, "cannot create file", "HDF5:"])
    }

    func testOpeningATextFileSaysNotAnHDF5File() throws {
        let path = temporaryPath("notes.txt")
        try "epoch,loss\n1,0.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        assertHDF5Error(try HDF5File.openForReading(atPath: path), kind: .notHDF5, mentions: [path, "not an HDF5 file"])
    }

    func testTruncatedFilesAreRefusedAtEveryOffsetWithoutStderrOutput() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: try makeSampleFile()))
        let offsets = [0, 7, 8, 100, 500, 1000, original.count / 2, original.count - 100, original.count - 1]
        var errors: [Int: Error] = [:]
        let stderrText = capturingStandardError {
            for offset in offsets {
                let path = temporaryPath("truncated-\(offset).h5")
                _ = FileManager.default.createFile(atPath: path, contents: original.prefix(offset))
                do {
                    _ = try HDF5File.openForReading(atPath: path)
                } catch {
                    errors[offset] = error
                }
            }
        }
        XCTAssertEqual(stderrText, "")
        for offset in offsets {
            let error = errors[offset] as? HDF5Error
            XCTAssertTrue([.notHDF5, .libraryFailure].contains(error?.kind), "offset \(offset): \(String(describing: error))")
            XCTAssertTrue(error?.description.contains("truncated-\(offset).h5") ?? false, "offset \(offset): \(String(describing: error))")
        }
    }

    func testMissingGroupsDatasetsAndAttributesAreNamedByFullPath() throws {
        let path = try makeSampleFile()
        let root = try HDF5File.openForReading(atPath: path).root
        let layer = try root.openGroup("layer")
        assertHDF5Error(try root.openGroup("layer/missing"), kind: .notFound, mentions: [path, "/layer/missing", "no such group"])
        assertHDF5Error(try root.openGroup("absent/deeper"), kind: .notFound, mentions: [path, "/absent/deeper"])
        assertHDF5Error(try root.openGroup("layer/kernel"), kind: .wrongType, mentions: ["/layer/kernel", "is a dataset, not a group"])
        assertHDF5Error(try root.openDataset("layer"), kind: .wrongType, mentions: ["/layer", "is a group, not a dataset"])
        assertHDF5Error(try layer.readFloats("bias"), kind: .notFound, mentions: [path, "/layer/bias", "no such dataset"])
        assertHDF5Error(try layer.datasetShape("bias"), kind: .notFound, mentions: ["/layer/bias"])
        assertHDF5Error(try layer.stringAttribute("missing"), kind: .notFound, mentions: [path, "/layer@missing", "no such attribute"])
        assertHDF5Error(try layer.openDataset("kernel").int64Attribute("epoch"), kind: .notFound, mentions: ["/layer/kernel@epoch"])
    }

    func testReadingTheWrongStoredTypeNamesPathAndStoredType() throws {
        let path = try makeSampleFile()
        let layer = try HDF5File.openForReading(atPath: path).root.openGroup("layer")
        assertHDF5Error(try layer.readInt64s("kernel"), kind: .wrongType, mentions: ["/layer/kernel", "32-bit float", "expected an integer"])
        assertHDF5Error(try layer.int64Attribute("name"), kind: .wrongType, mentions: ["/layer@name", "variable-length string"])
        assertHDF5Error(try layer.doubleAttribute("name"), kind: .wrongType, mentions: ["/layer@name", "variable-length string"])
        assertHDF5Error(try layer.stringAttribute("names"), kind: .wrongType, mentions: ["/layer@names", "2 strings, expected one"])
    }

    func testWritingMistakesAreRefusedWithTheBadValue() throws {
        let path = try makeSampleFile()
        let file = try HDF5File.openForReading(atPath: path)
        // Read-only: writing must fail with HDF5's reason, not crash.
        assertHDF5Error(try file.root.createGroup("new"), kind: .libraryFailure, mentions: [path, "/new"])

        let writable = try HDF5File.create(atPath: temporaryPath("write.h5"))
        let root = writable.root
        try root.writeFloats("weights", [1, 2], shape: [2])
        assertHDF5Error(try root.writeFloats("weights", [1, 2], shape: [2]), kind: .alreadyExists, mentions: ["/weights", "already exists"])
        assertHDF5Error(try root.writeFloats("other", [1, 2, 3], shape: [2]), kind: .invalidArgument, mentions: ["/other", "[2]", "3 values"])
        assertHDF5Error(try root.writeFloats("scalar", [1, 2], shape: []), kind: .invalidArgument, mentions: ["/scalar"])
        assertHDF5Error(try root.writeInt64s("negative", [], shape: [-1, 0]), kind: .invalidArgument, mentions: ["[-1, 0]"])
        assertHDF5Error(try root.writeFloats("zipped", [1], shape: [1], gzipLevel: 10), kind: .invalidArgument, mentions: ["gzip level 10"])
        assertHDF5Error(try root.createGroup("weights"), kind: .alreadyExists, mentions: ["/weights"])
        assertHDF5Error(try root.createGroup("weights/below"), kind: .wrongType, mentions: ["'/weights'", "is a dataset, not a group"])
        assertHDF5Error(try root.writeInt64s("weights/below/deeper", [1], shape: [1]), kind: .wrongType, mentions: ["'/weights'"])
        assertHDF5Error(try root.createGroup("a//b"), kind: .invalidArgument, mentions: ["'a//b'"])
        assertHDF5Error(try root.createGroup("/absolute"), kind: .invalidArgument, mentions: ["'/absolute'"])
        assertHDF5Error(try root.setAttribute("nul", string: "a\u{0}b"), kind: .invalidArgument, mentions: ["/@nul", "NUL"])
        assertHDF5Error(try root.setAttribute("", int64: 1), kind: .invalidArgument, mentions: ["attribute name is empty"])
    }

    func testUsingAClosedFileIsAnError() throws {
        let file = try HDF5File.create(atPath: temporaryPath("closed.h5"))
        let root = file.root
        try file.close()
        try file.close()
        XCTAssertFalse(file.isOpen)
        assertHDF5Error(try root.createGroup("late"), kind: .fileClosed, mentions: ["closed.h5", "/late", "closed"])
        XCTAssertFalse(root.contains("late"))
        XCTAssertFalse(root.hasAttribute("late"))
    }

    func testFailuresOnAnotherThreadPrintNothingToStderr() throws {
        let path = try makeSampleFile()
        let stderrText = capturingStandardError {
            let finished = DispatchSemaphore(value: 0)
            Thread {
                let file = try? HDF5File.openForReading(atPath: path)
                _ = try? file?.root.readFloats("layer/missing")
                _ = try? file?.root.openGroup("layer").createGroup("x")
                _ = try? HDF5File.create(atPath: "/nonexistent-directory/x.h5")
                finished.signal()
            }.start()
            XCTAssertEqual(finished.wait(timeout: .now() + 30), .success)
        }
        XCTAssertEqual(stderrText, "")
    }
}
