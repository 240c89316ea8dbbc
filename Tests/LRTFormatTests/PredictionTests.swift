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
}
