import Foundation
import LRTHDF5
import XCTest

/// Files written here look to other HDF5 tools as h5py's do, and real Keras 3 files read.
final class InteropTests: HDF5TestCase {
    /// The Keras files committed with the format tests (Tools/make_format_fixtures.py, Keras 3.15.1).
    private static let kerasDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("LRTFormatTests/Fixtures")

    /// The committed Keras fixture `name`; a missing one fails the test.
    private func kerasFile(_ name: String) throws -> HDF5File {
        let path = Self.kerasDirectory.appendingPathComponent(name).path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("Keras fixture \(path) is missing; it is committed with the tests")
            throw HDF5Error(kind: .fileNotFound, filePath: path, objectPath: nil, problem: "missing fixture")
        }
        return try HDF5File.openForReading(atPath: path)
    }

    /// Output of `h5dump` with `arguments`; fails when it is not installed (Tools/setup.sh installs hdf5-tools).
    private func h5dump(_ arguments: [String]) throws -> String {
        guard let executable = ["/usr/bin/h5dump", "/usr/local/bin/h5dump", "/opt/homebrew/bin/h5dump"]
            .first(where: FileManager.default.isExecutableFile(atPath:))
        else {
            XCTFail("h5dump is not installed; run Tools/setup.sh (Debian package hdf5-tools)")
            throw HDF5Error(kind: .fileNotFound, filePath: "h5dump", objectPath: nil, problem: "not installed")
        }
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return String(decoding: data, as: UTF8.self)
    }

    /// The h5dump block describing attribute `name`, up to its DATA section.
    private func attributeBlock(_ name: String, in dump: String) throws -> Substring {
        let start = try XCTUnwrap(dump.range(of: "ATTRIBUTE \"\(name)\""), "no attribute \(name) in dump")
        let end = try XCTUnwrap(dump.range(of: "DATA {", range: start.upperBound..<dump.endIndex))
        return dump[start.lowerBound..<end.lowerBound]
    }

    func testH5dumpSeesStringAttributesAsVariableLengthUTF8LikeH5py() throws {
        let path = temporaryPath("interop.h5")
        let file = try HDF5File.create(atPath: path)
        try file.root.setAttribute("keras_version", string: "3.15.1")
        try file.root.setAttribute("layer_names", strings: ["dense", "dense_1"])
        try file.root.setAttribute("step", int64: 5)
        try file.root.setAttribute("rate", double: 0.5)
        try file.root.setEmptyArrayAttribute("weight_names")
        try file.close()

        let dump = try h5dump(["-A", path])
        for name in ["keras_version", "layer_names"] {
            let block = try attributeBlock(name, in: dump)
            for expected in ["H5T_STRING", "STRSIZE H5T_VARIABLE;", "CSET H5T_CSET_UTF8;"] {
                XCTAssertTrue(block.contains(expected), "\(name) lacks \(expected):\n\(block)")
            }
        }
        XCTAssertTrue(try attributeBlock("keras_version", in: dump).contains("DATASPACE  SCALAR"))
        XCTAssertTrue(try attributeBlock("layer_names", in: dump).contains("DATASPACE  SIMPLE { ( 2 ) / ( 2 ) }"))
        XCTAssertTrue(try attributeBlock("step", in: dump).contains("H5T_STD_I64LE"))
        XCTAssertTrue(try attributeBlock("rate", in: dump).contains("H5T_IEEE_F64LE"))
        let empty = try attributeBlock("weight_names", in: dump)
        XCTAssertTrue(empty.contains("H5T_IEEE_F64LE") && empty.contains("SIMPLE { ( 0 ) / ( 0 ) }"), "\(empty)")
        XCTAssertTrue(dump.contains("(0): \"3.15.1\""))
    }

    func testH5dumpSeesLittleEndianDatasetsAndDeflate() throws {
        let path = temporaryPath("datasets.h5")
        let file = try HDF5File.create(atPath: path)
        try file.root.writeFloats("kernel", [1, 2, 3, 4, 5, 6], shape: [2, 3], gzipLevel: 4)
        try file.root.writeInt64s("step", [9], shape: [])
        try file.close()

        let kernel = try h5dump(["-p", "-d", "/kernel", path])
        for expected in ["H5T_IEEE_F32LE", "SIMPLE { ( 2, 3 ) / ( 2, 3 ) }", "CHUNKED", "DEFLATE", "LEVEL 4"] {
            XCTAssertTrue(kernel.contains(expected), "kernel lacks \(expected):\n\(kernel)")
        }
        let step = try h5dump(["-d", "/step", path])
        XCTAssertTrue(step.contains("H5T_STD_I64LE") && step.contains("SCALAR") && step.contains("(0): 9"), step)
    }

    func testReadsKeras3ModelFile() throws {
        let root = try kerasFile("keras3-sgd-momentum.h5").root
        XCTAssertEqual(try root.stringAttribute("keras_version"), "3.15.1")
        XCTAssertTrue(try root.stringAttribute("model_config").hasPrefix("{\"class_name\": \"Sequential\""))
        let weights = try root.openGroup("model_weights")
        XCTAssertEqual(try weights.stringArrayAttribute("layer_names"), ["flatten", "dense", "dense_1"])
        XCTAssertEqual(try weights.openGroup("dense").stringArrayAttribute("weight_names"), ["tiny/dense/kernel", "tiny/dense/bias"])
        XCTAssertEqual(try root.datasetShape("model_weights/dense/tiny/dense/kernel"), [64, 5])
        let kernel = try root.readFloats("model_weights/dense/tiny/dense/kernel")
        XCTAssertEqual(kernel.shape, [64, 5])
        XCTAssertEqual(kernel.values.count, 64 * 5)
        XCTAssertTrue(kernel.values.allSatisfy(\.isFinite))
        XCTAssertTrue(kernel.values.contains { $0 != 0 })
        XCTAssertTrue(root.contains("model_weights/dense/tiny/dense/bias"))
    }

    func testKerasEmptyWeightNamesReadAsEmptyList() throws {
        let flatten = try kerasFile("keras3-sgd-momentum.h5").root.openGroup("model_weights/flatten")
        XCTAssertEqual(try flatten.stringArrayAttribute("weight_names"), [])
    }
}
