import Foundation
import LRTHDF5
import LRTLayers
import LRTOptimizers
import LRTTensor
import XCTest
@testable import LRTFormat

/// A Functional model saved by Keras 3 (`keras3-functional-sgd-momentum.h5`, a residual block with
/// BatchNormalization, made by Tools/make_format_fixtures.py): it loads as a graph, predicts what
/// Keras predicted, its SGD momentum imports so that lrt's next step is Keras's, and lrt's own
/// checkpoint of it reads back to the same model.
final class FunctionalKerasFileTests: FormatTestCase {
    private let fixtureName = "keras3-functional-sgd-momentum"

    func testKerasFunctionalFilePredictsLikeKeras() throws {
        let contents = try Checkpoint.load(from: try fixture("\(fixtureName).h5"))
        XCTAssertEqual(contents.warnings, [])
        let model = try XCTUnwrap(contents.model as? Functional)
        XCTAssertEqual(model.layers.map(\.name), ["stem", "stem_bn", "stem_relu", "block_conv", "block_bn", "add", "block_relu", "pool", "scores"])
        XCTAssertEqual(model.layerInputs?[5], ["stem_relu", "block_bn"])
        let reference = try HDF5File.openForReading(atPath: try fixture("\(fixtureName).step.h5")).root
        let (inputs, inputShape) = try reference.readFloats("x")
        let predictions = model.predict(Tensor(shape: inputShape, storage: inputs))
        XCTAssertLessThanOrEqual(maximumDifference(predictions.storage, try reference.readFloats("y_pred").values), 1e-5)
    }

    /// One training step after importing Keras's momentum equals Keras's `train_on_batch`,
    /// BatchNormalization's batch statistics and the gradient summed at the shortcut included.
    func testImportedStateTakesKerasNextStepThroughTheGraph() throws {
        let contents = try Checkpoint.load(from: try fixture("\(fixtureName).h5"))
        let model = contents.model
        let optimizer = try XCTUnwrap(contents.kerasOptimizer).makeOptimizer(for: model)
        let reference = try HDF5File.openForReading(atPath: try fixture("\(fixtureName).step.h5")).root
        let (inputs, inputShape) = try reference.readFloats("x")
        let labels = try reference.readInt64s("y").values.map { Int32($0) }
        var context = ForwardContext(training: true)
        let logits = model.forward(Tensor(shape: inputShape, storage: inputs), context: &context)
        model.zeroGradients()
        model.backward(SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels[...]).gradient)
        optimizer.apply(to: model.parameterGroups, epoch: 0)
        XCTAssertEqual(optimizer.step, Int(try reference.int64Attribute("iteration")))
        for parameter in model.weights {  // the moving statistics moved as Keras's did
            let expected = try reference.readFloats(parameter.path).values
            XCTAssertLessThanOrEqual(maximumDifference(parameter.value.storage, expected), 1e-5, parameter.path)
        }
    }

    /// lrt's checkpoint of a Functional model: Keras 3's weight paths without a model scope
    /// (`model_weights/stem/stem/kernel`), and it reads back to the same graph and weights.
    func testLrtCheckpointOfAFunctionalModelRoundTrips() throws {
        let contents = try Checkpoint.load(from: try fixture("\(fixtureName).h5"))
        let path = directory.appendingPathComponent("functional.h5").path
        try Checkpoint.save(model: contents.model, optimizer: nil, training: nil, to: path)
        let file = try HDF5File.openForReading(atPath: path)
        XCTAssertEqual(try file.root.openGroup("model_weights/stem").stringArrayAttribute("weight_names"), ["stem/kernel"])
        XCTAssertTrue(file.root.contains("model_weights/stem/stem/kernel"))
        let reread = try Checkpoint.load(from: path)
        XCTAssertEqual(reread.model.config.serialized, contents.model.config.serialized)
        XCTAssertEqual(reread.model.weights.map(\.value), contents.model.weights.map(\.value))
        let inspection = Inspection(path: path, contents: reread).text
        XCTAssertTrue(inspection.contains("(Functional)"), inspection)
        XCTAssertTrue(inspection.contains("Connected to"), inspection)
        XCTAssertTrue(inspection.contains("stem_relu, block_bn"), inspection)
    }
}
