import Foundation
import LRTHDF5
import LRTLayers
import LRTTensor
import XCTest
@testable import LRTFormat

/// `lrt predict`: inputs `x` from one HDF5 file, predictions `y_pred` to another.
final class PredictionTests: FormatTestCase {
    func testPredictionsEqualTheModelsOwn() throws {
        let checkpoint = try savedCheckpoint()
        var noise = SeededGenerator(seed: 9)
        let inputs = (0..<(7 * 9)).map { _ in Float(noise.next() >> 40) / Float(1 << 24) }
        let file = try HDF5File.create(atPath: path("inputs.h5"))
        try file.root.writeFloats("x", inputs, shape: [7, 3, 3, 1])
        try file.close()
        let summary = try Prediction.run(modelPath: checkpoint, inputsPath: path("inputs.h5"), outputPath: path("out.h5"), batchSize: 3)
        XCTAssertEqual(summary.count, 7)
        XCTAssertEqual(summary.outputShape, [7, 2])
        let (predictions, shape) = try HDF5File.openForReading(atPath: path("out.h5")).root.readFloats("y_pred")
        XCTAssertEqual(shape, [7, 2])
        let model = try Checkpoint.load(from: checkpoint).model
        XCTAssertEqual(predictions, model.predict(Tensor(shape: [7, 3, 3, 1], storage: inputs)).storage)
    }

    /// A Keras reference file serves as inputs as it is; lrt's y_pred equals Keras's within 1e-5.
    /// Keras's reference file (its `x` and what Keras predicted, `y_pred`) works as the inputs of
    /// its model, and the predictions written are Keras's.
    func testKerasReferenceFilesWorkAsInputs() throws {
        let summary = try Prediction.run(modelPath: try fixture("keras3-adam.h5"), inputsPath: try fixture("keras3-adam.step.h5"),
                                         outputPath: path("predictions.h5"))
        XCTAssertEqual(summary.outputShape, [8, 3])
        let predictions = try HDF5File.openForReading(atPath: path("predictions.h5")).root.readFloats("y_pred").values
        let expected = try HDF5File.openForReading(atPath: try fixture("keras3-adam.step.h5")).root.readFloats("y_pred").values
        XCTAssertEqual(predictions.count, expected.count)
        XCTAssertLessThanOrEqual(maximumDifference(predictions, expected), 1e-5)
    }

    func testInputsOfTheWrongShapeOrNameAreRefused() throws {
        let checkpoint = try savedCheckpoint()
        let file = try HDF5File.create(atPath: path("inputs.h5"))
        try file.root.writeFloats("x", [Float](repeating: 0, count: 8), shape: [2, 4])
        try file.root.writeFloats("images", [Float](repeating: 0, count: 9), shape: [1, 3, 3, 1])
        try file.close()
        for (name, fragments) in [("x", ["/x", "[2, 4]", "[count, 3, 3, 1]"]), ("pixels", ["no dataset 'pixels'", "images"])] {
            XCTAssertThrowsError(try Prediction.run(modelPath: checkpoint, inputsPath: path("inputs.h5"), outputPath: path("out.h5"),
                                                    inputName: name)) { error in
                XCTAssert(error is CheckpointError)
                for fragment in fragments { XCTAssert("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'") }
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.h5")), "a failed prediction writes nothing")
    }

    /// `y_pred` carries the checkpoint's class names; a Keras file without them gets the indices, marked as such.
    func testClassNamesAreWrittenBesideThePredictions() throws {
        let checkpoint = try savedCheckpoint()
        let file = try HDF5File.create(atPath: path("inputs.h5"))
        try file.root.writeFloats("x", [Float](repeating: 0.5, count: 2 * 9), shape: [2, 3, 3, 1])
        try file.close()
        let summary = try Prediction.run(modelPath: checkpoint, inputsPath: path("inputs.h5"), outputPath: path("out.h5"))
        XCTAssertEqual(summary.classNames, ["cat", "dog"])
        let predictions = try HDF5File.openForReading(atPath: path("out.h5")).root.openDataset("y_pred")
        XCTAssertEqual(try predictions.stringArrayAttribute("class_names"), ["cat", "dog"])
        XCTAssertEqual(try predictions.stringAttribute("class_names_source"), "checkpoint")

        _ = try Prediction.run(modelPath: try fixture("keras3-adam.h5"), inputsPath: try fixture("keras3-adam.step.h5"),
                               outputPath: path("keras.h5"))
        let keras = try HDF5File.openForReading(atPath: path("keras.h5")).root.openDataset("y_pred")
        XCTAssertEqual(try keras.stringArrayAttribute("class_names"), ["0", "1", "2"])
        XCTAssertEqual(try keras.stringAttribute("class_names_source"), "indices")
    }

    /// Integer inputs (8-bit pixels stored as integers) are refused unless a scale says how to read them; with
    /// `scale` 255 the predictions are those of the float inputs `x / 255`.
    func testIntegerInputsNeedAScale() throws {
        let checkpoint = try savedCheckpoint()
        var noise = SeededGenerator(seed: 3)
        let pixels = (0..<(4 * 9)).map { _ in Int64(noise.next() % 256) }
        let file = try HDF5File.create(atPath: path("pixels.h5"))
        try file.root.writeInt64s("x", pixels, shape: [4, 3, 3, 1])
        try file.close()
        XCTAssertThrowsError(try Prediction.run(modelPath: checkpoint, inputsPath: path("pixels.h5"), outputPath: path("out.h5"))) { error in
            XCTAssert(error is CheckpointError)
            for fragment in ["pixels.h5", "/x", "int64", "--scale 255"] { XCTAssert("\(error)".contains(fragment), "'\(error)' lacks '\(fragment)'") }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out.h5")), "a refused prediction writes nothing")
        XCTAssertThrowsError(try Prediction.run(modelPath: checkpoint, inputsPath: path("pixels.h5"), outputPath: path("out.h5"), scale: 0))

        _ = try Prediction.run(modelPath: checkpoint, inputsPath: path("pixels.h5"), outputPath: path("out.h5"), scale: 255)
        let root = try HDF5File.openForReading(atPath: path("out.h5")).root
        let predictions = try root.readFloats("y_pred").values
        XCTAssertEqual(try root.doubleAttribute("input_scale"), 255)
        let model = try Checkpoint.load(from: checkpoint).model
        let expected = model.predict(Tensor(shape: [4, 3, 3, 1], storage: pixels.map { Float($0) * Float(1.0 / 255) })).storage
        XCTAssertLessThanOrEqual(maximumDifference(predictions, expected), 1e-6)
        let unscaled = model.predict(Tensor(shape: [4, 3, 3, 1], storage: pixels.map(Float.init))).storage
        XCTAssertGreaterThan(maximumDifference(predictions, unscaled), 1e-3, "the scale must change what the model sees")
    }
}
