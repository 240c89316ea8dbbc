import Foundation
import LRTHDF5
import XCTest

/// Everything written can be read back unchanged after closing and reopening the file.
final class RoundTripTests: HDF5TestCase {
    func testLibraryVersionIs110() {
        XCTAssertTrue(HDF5Library.version.hasPrefix("1.10."), HDF5Library.version)
    }

    func testFloatsRoundTripInSeveralShapesWithAndWithoutGzip() throws {
        let path = temporaryPath("floats.h5")
        let cases: [(name: String, shape: [Int], gzipLevel: Int?)] = [
            ("scalar", [], nil), ("vector", [5], nil), ("matrix", [2, 3], nil), ("cube", [2, 3, 4], nil),
            ("empty", [0, 3], nil), ("compressed", [300, 200], 6), ("compressedLarge", [1024, 600], 1),
            ("compressedScalar", [], 9), ("compressedEmpty", [0], 4),
        ]
        func values(_ shape: [Int]) -> [Float] { (0..<shape.reduce(1, *)).map { Float($0) * 0.25 - 3 } }

        let file = try HDF5File.create(atPath: path)
        for entry in cases {
            try file.root.writeFloats(entry.name, values(entry.shape), shape: entry.shape, gzipLevel: entry.gzipLevel)
        }
        try file.close()

        let reopened = try HDF5File.openForReading(atPath: path)
        for entry in cases {
            let read = try reopened.root.readFloats(entry.name)
            XCTAssertEqual(read.shape, entry.shape, entry.name)
            XCTAssertEqual(read.values, values(entry.shape), entry.name)
            XCTAssertEqual(try reopened.root.datasetShape(entry.name), entry.shape, entry.name)
        }
        XCTAssertEqual(try reopened.root.memberNames(), cases.map(\.name).sorted())
    }

    func testGzipLevelStoresChunkedDeflatedData() throws {
        let path = temporaryPath("gzip.h5")
        let file = try HDF5File.create(atPath: path)
        try file.root.writeFloats("zeros", [Float](repeating: 0, count: 100_000), shape: [100_000], gzipLevel: 9)
        try file.root.writeFloats("plain", [Float](repeating: 0, count: 100_000), shape: [100_000])
        try file.close()
        // 400 kB of zeros compress to almost nothing; the uncompressed copy takes it all.
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertLessThan(size, 450_000)
        XCTAssertGreaterThan(size, 400_000)
    }

    func testInt64sRoundTripIncludingExtremes() throws {
        let path = temporaryPath("ints.h5")
        let values: [Int64] = [.min, -1, 0, 1, .max, 42]
        let file = try HDF5File.create(atPath: path)
        try file.root.writeInt64s("step", [7], shape: [])
        try file.root.writeInt64s("table", values, shape: [3, 2])
        try file.close()

        let root = try HDF5File.openForReading(atPath: path).root
        XCTAssertEqual(try root.readInt64s("step").values, [7])
        XCTAssertEqual(try root.readInt64s("step").shape, [])
        XCTAssertEqual(try root.readInt64s("table").values, values)
        XCTAssertEqual(try root.readInt64s("table").shape, [3, 2])
        // Integers are converted to Float by readFloats.
        XCTAssertEqual(try root.readFloats("step").values, [7])
    }

    func testDatasetNamesWithSeveralComponentsCreateIntermediateGroups() throws {
        let path = temporaryPath("nested-dataset.h5")
        let file = try HDF5File.create(atPath: path)
        try file.root.writeFloats("dense/mlp/dense/kernel", [1, 2], shape: [1, 2])
        XCTAssertTrue(file.root.contains("dense/mlp"))
        XCTAssertEqual(try file.root.openGroup("dense/mlp").readFloats("dense/kernel").values, [1, 2])
    }

    func testCreateGroupCreatesIntermediateGroupsAndListsMembers() throws {
        let path = temporaryPath("groups.h5")
        let file = try HDF5File.create(atPath: path)
        let dense = try file.root.createGroup("mlp/dense")
        XCTAssertEqual(dense.path, "/mlp/dense")
        try file.root.createGroup("mlp/conv")
        try file.root.openGroup("mlp").writeFloats("bias", [0], shape: [1])
        try file.close()

        let root = try HDF5File.openForReading(atPath: path).root
        XCTAssertTrue(root.contains("mlp"))
        XCTAssertTrue(root.contains("mlp/dense"))
        XCTAssertTrue(root.contains("mlp/bias"))
        XCTAssertFalse(root.contains("mlp/missing"))
        XCTAssertFalse(root.contains("missing/dense"))
        XCTAssertFalse(root.contains("mlp/bias/below"))
        XCTAssertFalse(root.contains(""))
        XCTAssertEqual(try root.memberNames(), ["mlp"])
        XCTAssertEqual(try root.openGroup("mlp").memberNames(), ["bias", "conv", "dense"])
        XCTAssertEqual(try root.openGroup("mlp").openGroup("dense").path, "/mlp/dense")
        XCTAssertEqual(try root.openGroup("mlp/dense").memberNames(), [])
    }

    func testEveryAttributeKindRoundTripsOnGroupsAndDatasets() throws {
        let path = temporaryPath("attributes.h5")
        let file = try HDF5File.create(atPath: path)
        let group = try file.root.createGroup("layer")
        try group.writeFloats("kernel", [1], shape: [1])
        let objects: [any HDF5Object] = [file.root, group, try group.openDataset("kernel")]
        for object in objects {
            try object.setAttribute("text", string: "héllo ✓ \(object.path)")
            try object.setAttribute("empty_text", string: "")
            try object.setAttribute("names", strings: ["dense", "dense_1", "ünï"])
            try object.setAttribute("no_names", strings: [])
            try object.setAttribute("epoch", int64: -12)
            try object.setAttribute("rate", double: 0.125)
            try object.setEmptyArrayAttribute("weight_names")
        }
        try file.close()

        let reopened = try HDF5File.openForReading(atPath: path)
        let group2 = try reopened.root.openGroup("layer")
        for object in [reopened.root, group2, try group2.openDataset("kernel")] as [any HDF5Object] {
            XCTAssertEqual(try object.stringAttribute("text"), "héllo ✓ \(object.path)")
            XCTAssertEqual(try object.stringAttribute("empty_text"), "")
            XCTAssertEqual(try object.stringArrayAttribute("names"), ["dense", "dense_1", "ünï"])
            XCTAssertEqual(try object.stringArrayAttribute("no_names"), [])
            XCTAssertEqual(try object.stringArrayAttribute("text"), ["héllo ✓ \(object.path)"])
            XCTAssertEqual(try object.int64Attribute("epoch"), -12)
            XCTAssertEqual(try object.doubleAttribute("rate"), 0.125)
            XCTAssertEqual(try object.doubleAttribute("epoch"), -12)
            XCTAssertEqual(try object.stringArrayAttribute("weight_names"), [])
            XCTAssertTrue(object.hasAttribute("epoch"))
            XCTAssertFalse(object.hasAttribute("missing"))
        }
    }

    func testSettingAnExistingAttributeReplacesItEvenWithAnotherType() throws {
        let path = temporaryPath("replace.h5")
        let file = try HDF5File.create(atPath: path)
        try file.root.setAttribute("value", string: "first")
        try file.root.setAttribute("value", string: "second")
        XCTAssertEqual(try file.root.stringAttribute("value"), "second")
        try file.root.setAttribute("value", int64: 3)
        try file.close()
        XCTAssertEqual(try HDF5File.openForReading(atPath: path).root.int64Attribute("value"), 3)
    }

    func testGroupKeepsFileOpenAfterLastFileReferenceIsDropped() throws {
        let path = temporaryPath("lifetime.h5")
        var group: HDF5Group? = try HDF5File.create(atPath: path).root.createGroup("kept")
        try group?.setAttribute("alive", int64: 1)
        group = nil  // closes the file
        XCTAssertEqual(try HDF5File.openForReading(atPath: path).root.openGroup("kept").int64Attribute("alive"), 1)
    }
}
