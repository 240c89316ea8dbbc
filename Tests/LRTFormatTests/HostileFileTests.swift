import CHDF5
import Foundation
import LRTHDF5
import LRTLayers
import LRTTensor
import XCTest
@testable import LRTFormat

/// Broken and foreign files, made in-process (CI has no h5py): each is refused with one
/// line naming the file and the object inside it, with nothing on stderr. Tools/make_broken_corpus.py
/// covers many more with h5py (BrokenCorpusTests).
final class HostileFileTests: FormatTestCase {
    // MARK: Not checkpoints at all

    func testMissingTextImageAndForeignFilesAreRefusedByName() throws {
        assertLoadFails(path("absent.h5"), mentioning: ["absent.h5", "no such file"])
        try FileManager.default.createDirectory(atPath: path("folder.h5"), withIntermediateDirectories: false)
        assertLoadFails(path("folder.h5"), mentioning: ["folder.h5", "directory"])
        try Data().write(to: URL(fileURLWithPath: path("empty.h5")))
        assertLoadFails(path("empty.h5"), mentioning: ["empty.h5", "not an HDF5 file"])
        try "hello".write(toFile: path("text.h5"), atomically: true, encoding: .utf8)
        assertLoadFails(path("text.h5"), mentioning: ["text.h5", "not an HDF5 file"])
        let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        try Data(png).write(to: URL(fileURLWithPath: path("image.h5")))
        assertLoadFails(path("image.h5"), mentioning: ["image.h5", "not an HDF5 file"])
        var noise = SeededGenerator(seed: 5)
        try Data((0..<4096).map { _ in UInt8(truncatingIfNeeded: noise.next()) }).write(to: URL(fileURLWithPath: path("noise.h5")))
        assertLoadFails(path("noise.h5"), mentioning: ["noise.h5"])

        let foreign = try HDF5File.create(atPath: path("foreign.h5"))
        try foreign.root.writeFloats("temperature", [1, 2, 3], shape: [3])
        try foreign.close()
        assertLoadFails(path("foreign.h5"), mentioning: ["foreign.h5", "model_config", "another program"])
    }

    /// Every truncation of a real checkpoint is refused with an error, never a crash.
    func testTruncatedCheckpointsAreRefusedAtEveryOffset() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try savedCheckpoint("whole.h5")))
        let offsets = Array(stride(from: 0, to: 1024, by: 64)) + Array(stride(from: 1024, to: bytes.count, by: max(1, bytes.count / 40)))
        for offset in offsets {
            let truncated = path("cut-\(offset).h5")
            try bytes.prefix(offset).write(to: URL(fileURLWithPath: truncated))
            assertLoadFails(truncated, mentioning: ["cut-\(offset).h5"])
        }
    }

    // MARK: The model

    func testBrokenModelConfigsAreRefused() throws {
        let cases: [(String, Damage.Change, [String])] = [
            ("not-json", .string("/", "model_config", #"{"class_name": "Seq"#), ["/@model_config", "not valid JSON"]),
            ("nested", .string("/", "model_config", String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)),
             ["/@model_config", "nested deeper"]),
            ("number", .integer("/", "model_config", 7), ["/@model_config", "integer"]),
            ("unknown-class", .string("/", "model_config", Self.config(dense: #""units": 4"#, flatten: "Embedding")),
             ["Embedding", "not supported"]),
            ("huge-dense", .string("/", "model_config", Self.config(dense: #""units": 1048576"#, input: "[null, 1024, 1024, 1]")),
             ["/@model_config", "Dense layer 'dense'", "1048576 × 1048576"]),
            ("huge-conv", .string("/", "model_config", """
                {"class_name": "Sequential", "config": {"layers": [
                  {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 65536]}},
                  {"class_name": "Conv2D", "config": {"name": "wide", "filters": 65536, "kernel_size": 3}}]}}
                """), ["Conv2D layer 'wide'", "3 × 3 × 65536 × 65536"]),
            ("too-large", .string("/", "model_config", "{\"pad\": \"" + String(repeating: "x", count: 17 << 20) + "\"}"),
             ["/@model_config", "more than the 16777216"]),
            ("missing", .deleteAttribute("/", "model_config"), ["no model_config"]),
        ]
        try assertRefused(cases)
    }

    func testBrokenWeightsAreRefusedByPath() throws {
        let kernel = "/model_weights/dense/mlp/dense/kernel"
        let cases: [(String, Damage.Change, [String])] = [
            ("wrong-shape", .floats(kernel, [Float](repeating: 0, count: 32), [8, 4]), [kernel, "[8, 4]", "[9, 4]"]),
            ("wrong-rank", .floats(kernel, [Float](repeating: 0, count: 36), [36]), [kernel, "[36]", "[9, 4]"]),
            ("strings", .stringDataset(kernel, [9, 4]), [kernel, "string"]),
            ("huge-declared", .emptyDataset(kernel, [1 << 20, 1 << 20]), [kernel, "2^31"]),
            ("missing", .deleteLink(kernel), [kernel, "missing"]),
            ("no-layer-names", .deleteAttribute("/model_weights", "layer_names"), ["/model_weights@layer_names"]),
            ("duplicate-layer", .strings("/model_weights", "layer_names", ["flatten", "dense", "dense"]), ["'dense' twice"]),
            ("ghost-layer", .strings("/model_weights", "layer_names", ["flatten", "ghost"]), ["ghost", "missing"]),
            ("duplicate-weight", .strings("/model_weights/dense", "weight_names", ["mlp/dense/kernel", "mlp/dense/kernel"]),
             ["'kernel' twice"]),
            ("no-weights-group", .deleteLink("/model_weights"), ["no model_weights"]),
        ]
        try assertRefused(cases)
    }

    /// NaN or infinite weights and optimizer slots are refused by path (they loaded silently:
    /// `eval` printed `"loss": null` with status 0 and `resume` blamed the learning rate).
    func testNonFiniteWeightsAndSlotsAreRefused() throws {
        let bias = "/model_weights/dense_1/mlp/dense_1/bias"
        let slot = "/lrt/optimizer/momentum/dense.kernel"
        try assertRefused([
            ("nan-weight", .floats(bias, [.nan, 1], [2]), [bias, "nan at index 0", "must be finite", "earlier checkpoint"]),
            ("infinite-weight", .floats(bias, [1, -.infinity], [2]), [bias, "-inf at index 1"]),
            ("nan-slot", .floats(slot, [Float](repeating: .nan, count: 36), [9, 4]), [slot, "nan at index 0"]),
        ])
    }

    /// Weights stored as float16 or float64 are converted with a note; integers, big-endian
    /// floats and other types are refused (they were converted silently).
    func testWeightTypesOtherThanFloat32AreConvertedOrRefused() throws {
        let bias = "/model_weights/dense_1/mlp/dense_1/bias"
        for (type, note) in [(Damage.StoredType.float16, "float16; converted exactly"), (.float64, "float64; rounded")] {
            let file = try savedCheckpoint("\(type).h5")
            try Damage(file).apply(.typedFloats(bias, [0.5, -2], [2], type))
            let contents = try Checkpoint.load(from: file)
            XCTAssertEqual(contents.model.weights.first { $0.path == "dense_1.bias" }?.value.storage, [0.5, -2])
            XCTAssertEqual(contents.warnings.count, 1)
            XCTAssert(contents.warnings.first?.contains(bias) == true && contents.warnings.first?.contains(note) == true,
                      "\(contents.warnings)")
        }
        try assertRefused([
            ("int32", .typedFloats(bias, [1, 2], [2], .int32), [bias, "stored as int32", "little-endian float32"]),
            ("big-endian", .typedFloats(bias, [1, 2], [2], .bigEndianFloat32), [bias, "big-endian float32"]),
        ])
    }

    /// A kernel stored in an external file is refused: `lrt resume` used to copy that file's
    /// bytes into the checkpoint it wrote.
    func testWeightsStoredInAnotherFileAreRefused() throws {
        let secret = path("secret.bin")
        try Data(repeating: 0x41, count: 4 * 36).write(to: URL(fileURLWithPath: secret))
        let kernel = "/model_weights/dense/mlp/dense/kernel"
        try assertRefused([("external", .externalStorage(kernel, secret, [9, 4]), [kernel, "external file", "only the file it was given"])])
    }

    // MARK: lrt state

    func testBrokenFormatAndOptimizerAreRefused() throws {
        let cases: [(String, Damage.Change, [String])] = [
            ("format-version-missing", .deleteAttribute("/lrt", "format_version"), ["/lrt@format_version", "missing"]),
            ("format-version-zero", .integer("/lrt", "format_version", 0), ["/lrt@format_version", "0"]),
            ("format-version-string", .string("/lrt", "format_version", "1"), ["/lrt@format_version", "string"]),
            ("optimizer-not-json", .string("/lrt/optimizer", "config", "{"), ["/lrt/optimizer@config", "not valid JSON"]),
            ("optimizer-unknown", .string("/lrt/optimizer", "config", #"{"class_name": "Shampoo"}"#), ["/lrt/optimizer@config", "Shampoo"]),
            ("slot-names", .strings("/lrt/optimizer", "slot_names", ["velocity"]), ["/lrt/optimizer@slot_names", "velocity", "momentum"]),
            ("slot-shape", .floats("/lrt/optimizer/momentum/dense.kernel", [0, 0], [2]), ["/lrt/optimizer/momentum/dense.kernel", "[2]"]),
            ("slot-ghost", .floats("/lrt/optimizer/momentum/ghost.kernel", [0], [1]), ["ghost.kernel", "does not have"]),
            ("step-negative", .integer("/lrt/optimizer", "step", -3), ["/lrt/optimizer@step", "-3"]),
            ("multipliers-length", .floats("/lrt/optimizer/layer_rate_multipliers", [1, 1, 1], [3]),
             ["/lrt/optimizer/layer_rate_multipliers", "[3]"]),
            ("multipliers-nan", .floats("/lrt/optimizer/layer_rate_multipliers", [.nan, 1], [2]),
             ["/lrt/optimizer/layer_rate_multipliers", "nan"]),
        ]
        try assertRefused(cases)
    }

    func testBrokenTrainingStateIsRefused() throws {
        let order = "/lrt/training/epoch_order"
        let cases: [(String, Damage.Change, [String])] = [
            ("epoch-negative", .integer("/lrt/training", "epoch", -1), ["/lrt/training@epoch", "-1", "out of range"]),
            ("epoch-huge", .integer("/lrt/training", "epoch", 1 << 40), ["/lrt/training@epoch", "1099511627776"]),
            ("position-beyond", .integer("/lrt/training", "position", 9), ["/lrt/training", "position 9"]),
            ("batch-zero", .integer("/lrt/training", "batch_size", 0), ["/lrt/training@batch_size", "0"]),
            ("order-duplicates", .int64s(order, [3, 1, 1, 2]), [order, "permutation", "twice"]),
            ("order-out-of-range", .int64s(order, [3, 1, 0, 7]), [order, "7 out of range"]),
            ("order-negative", .int64s(order, [3, -1, 0, 2]), [order, "-1 out of range"]),
            ("order-huge-declared", .emptyDataset(order, [1 << 30]), [order, "[1073741824]"]),
            ("loss-sum-nan", .double("/lrt/training", "epoch_loss_sum", .nan), ["/lrt/training@epoch_loss_sum", "nan"]),
            ("history-length", .floats("/lrt/history/loss", [1, 2, 3], [3]), ["/lrt/history/loss", "[3]", "2 epochs"]),
            ("history-huge-declared", .emptyDataset("/lrt/history/loss", [1 << 30]), ["/lrt/history/loss", "[1073741824]"]),
            ("classes", .strings("/lrt/dataset", "class_names", ["a", "b", "c"]), ["/lrt/dataset@class_names", "3 classes", "2 values"]),
        ]
        try assertRefused(cases)
    }

    /// Saves a fresh checkpoint per case, applies the damage, and checks the refusal.
    private func assertRefused(_ cases: [(String, Damage.Change, [String])], line: UInt = #line) throws {
        for (name, change, fragments) in cases {
            let file = try savedCheckpoint("\(name).h5")
            try Damage(file).apply(change)
            assertLoadFails(file, mentioning: ["\(name).h5"] + fragments, line: line)
        }
    }

    /// The test model config with one Dense's options, the Flatten's class and the input shape replaced.
    private static func config(dense: String, flatten: String = "Flatten", input: String = "[null, 3, 3, 1]") -> String {
        """
        {"class_name": "Sequential", "config": {"name": "mlp", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": \(input)}},
          {"class_name": "\(flatten)"}, {"class_name": "Dense", "config": {\(dense)}}]}}
        """
    }
}

/// Damages an HDF5 file in place through the C API (LRTHDF5 writes only whole new files).
struct Damage {
    enum Change {
        case string(String, String, String)        // object, attribute, value (variable-length UTF-8)
        case strings(String, String, [String])     // object, attribute, values
        case integer(String, String, Int64)        // object, attribute, value
        case double(String, String, Double)        // object, attribute, value
        case deleteAttribute(String, String)       // object, attribute
        case deleteLink(String)                    // path
        case floats(String, [Float], [Int])        // dataset path, values, shape (replaces it)
        case int64s(String, [Int64])               // dataset path, values (1-D)
        case stringDataset(String, [Int])          // dataset path, shape: strings where numbers belong
        case emptyDataset(String, [UInt64])        // dataset path, declared shape, nothing written
        case typedFloats(String, [Float], [Int], StoredType)  // dataset path, values, shape, type in the file
        case externalStorage(String, String, [Int])  // dataset path, external file, shape: float32 stored outside
    }

    /// A dataset element type other than lrt's little-endian float32.
    enum StoredType {
        case float16, float64, bigEndianFloat32, int32

        /// The HDF5 type; the caller closes it.
        func make() -> hid_t {
            switch self {
            case .float16:
                // IEEE half precision, as h5py writes numpy.float16.
                let type = H5Tcopy(lrt_H5T_IEEE_F32LE())
                H5Tset_fields(type, 15, 10, 5, 0, 10)
                H5Tset_size(type, 2)
                H5Tset_ebias(type, 15)
                return type
            case .float64: return H5Tcopy(lrt_H5T_IEEE_F64LE())
            case .bigEndianFloat32:
                let type = H5Tcopy(lrt_H5T_IEEE_F32LE())
                H5Tset_order(type, H5T_ORDER_BE)
                return type
            case .int32: return H5Tcopy(lrt_H5T_NATIVE_INT32())
            }
        }
    }

    let path: String
    init(_ path: String) { self.path = path }

    func apply(_ change: Change) throws {
        H5Eset_auto2(lrt_H5E_DEFAULT(), nil, nil)
        let file = H5Fopen(path, 1 /* H5F_ACC_RDWR */, lrt_H5P_DEFAULT())
        guard file >= 0 else { throw CheckpointError(path: path, "cannot open \(path) to damage it") }
        defer { H5Fclose(file) }
        switch change {
        case let .string(object, name, value): try writeStrings(file, object, name, [value], scalar: true)
        case let .strings(object, name, values): try writeStrings(file, object, name, values, scalar: false)
        case let .integer(object, name, value):
            var value = value
            try writeAttribute(file, object, name, type: lrt_H5T_NATIVE_INT64(), dimensions: [], buffer: &value)
        case let .double(object, name, value):
            var value = value
            try writeAttribute(file, object, name, type: lrt_H5T_NATIVE_DOUBLE(), dimensions: [], buffer: &value)
        case let .deleteAttribute(object, name):
            try check(H5Adelete_by_name(file, object, name, lrt_H5P_DEFAULT()), "delete \(object)@\(name)")
        case let .deleteLink(linkPath):
            try check(H5Ldelete(file, linkPath, lrt_H5P_DEFAULT()), "delete \(linkPath)")
        case let .floats(datasetPath, values, shape):
            try replaceDataset(file, datasetPath, type: lrt_H5T_NATIVE_FLOAT(), dimensions: shape.map { UInt64($0) }, values: values)
        case let .int64s(datasetPath, values):
            try replaceDataset(file, datasetPath, type: lrt_H5T_NATIVE_INT64(), dimensions: [UInt64(values.count)], values: values)
        case let .stringDataset(datasetPath, shape):
            let type = H5Tcopy(lrt_H5T_C_S1())
            H5Tset_size(type, 4)
            defer { H5Tclose(type) }
            let words = [UInt8]((0..<shape.reduce(1, *)).flatMap { _ in Array("word".utf8) })
            try replaceDataset(file, datasetPath, type: type, dimensions: shape.map { UInt64($0) }, values: words)
        case let .emptyDataset(datasetPath, dimensions):
            try replaceDataset(file, datasetPath, type: lrt_H5T_NATIVE_FLOAT(), dimensions: dimensions, values: [Float]())
        case let .typedFloats(datasetPath, values, shape, stored):
            let type = stored.make()
            defer { H5Tclose(type) }
            try replaceDataset(file, datasetPath, type: type, memoryType: lrt_H5T_NATIVE_FLOAT(),
                               dimensions: shape.map { UInt64($0) }, values: values)
        case let .externalStorage(datasetPath, externalFile, shape):
            let properties = H5Pcreate(lrt_H5P_DATASET_CREATE())
            defer { H5Pclose(properties) }
            try check(H5Pset_external(properties, externalFile, 0, hsize_t(shape.reduce(4, *))), "store \(datasetPath) externally")
            try replaceDataset(file, datasetPath, type: lrt_H5T_IEEE_F32LE(), dimensions: shape.map { UInt64($0) },
                               values: [Float](), creationProperties: properties)
        }
    }

    private func check(_ result: Int32, _ what: String) throws {
        guard result >= 0 else { throw CheckpointError(path: path, "cannot \(what) in \(path)") }
    }

    private func writeAttribute(_ file: hid_t, _ object: String, _ name: String, type: hid_t, dimensions: [UInt64],
                                buffer: UnsafeRawPointer) throws {
        if H5Aexists_by_name(file, object, name, lrt_H5P_DEFAULT()) > 0 {
            try check(H5Adelete_by_name(file, object, name, lrt_H5P_DEFAULT()), "replace \(object)@\(name)")
        }
        let space = dimensions.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dimensions.count), dimensions, nil)
        defer { H5Sclose(space) }
        let attribute = H5Acreate_by_name(file, object, name, type, space, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT())
        guard attribute >= 0 else { throw CheckpointError(path: path, "cannot create \(object)@\(name) in \(path)") }
        defer { H5Aclose(attribute) }
        try check(H5Awrite(attribute, type, buffer), "write \(object)@\(name)")
    }

    private func writeStrings(_ file: hid_t, _ object: String, _ name: String, _ values: [String], scalar: Bool) throws {
        let type = H5Tcopy(lrt_H5T_C_S1())
        H5Tset_size(type, lrt_H5T_VARIABLE())
        H5Tset_cset(type, H5T_CSET_UTF8)
        defer { H5Tclose(type) }
        let copies = values.map { UnsafePointer(strdup($0)) }
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        try copies.withUnsafeBufferPointer { pointers in
            try writeAttribute(file, object, name, type: type, dimensions: scalar ? [] : [UInt64(values.count)],
                               buffer: UnsafeRawPointer(pointers.baseAddress!))
        }
    }

    private func replaceDataset<Element>(_ file: hid_t, _ datasetPath: String, type: hid_t, memoryType: hid_t? = nil,
                                         dimensions: [UInt64], values: [Element],
                                         creationProperties: hid_t = lrt_H5P_DEFAULT()) throws {
        if H5Lexists(file, datasetPath, lrt_H5P_DEFAULT()) > 0 {
            try check(H5Ldelete(file, datasetPath, lrt_H5P_DEFAULT()), "replace \(datasetPath)")
        }
        let space = H5Screate_simple(Int32(dimensions.count), dimensions, nil)
        defer { H5Sclose(space) }
        let dataset = H5Dcreate2(file, datasetPath, type, space, lrt_H5P_DEFAULT(), creationProperties, lrt_H5P_DEFAULT())
        guard dataset >= 0 else { throw CheckpointError(path: path, "cannot create \(datasetPath) in \(path)") }
        defer { H5Dclose(dataset) }
        if !values.isEmpty {
            try values.withUnsafeBytes { bytes in
                try check(H5Dwrite(dataset, memoryType ?? type, lrt_H5S_ALL(), lrt_H5S_ALL(), lrt_H5P_DEFAULT(), bytes.baseAddress),
                          "write \(datasetPath)")
            }
        }
    }
}
