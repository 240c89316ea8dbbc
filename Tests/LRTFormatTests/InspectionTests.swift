import Foundation
import LRTLayers
import XCTest
@testable import LRTFormat

/// `lrt inspect`'s report: a Keras-style summary, the optimizer and its state, progress, history, classes.
final class InspectionTests: FormatTestCase {
    func testTextReportOfAnLrtCheckpoint() throws {
        let text = try Inspection(path: try fixture("lrt-v1.h5")).text
        for fragment in [
            "format      lrt-checkpoint version 1", "keras_version 3.15.1, backend lrt",
            "model       \"v1_fixture\" (Sequential), input [4, 4, 1]",
            "Layer (type)", "Output Shape", "Param #",
            "conv2d (Conv2D)", "(None, 3, 3, 2)", "batch_normalization (BatchNormalization)",
            "max_pooling2d (MaxPooling2D)", "(None, 2, 2, 2)", "dense_1 (Dense)", "(None, 2)",
            "Total params: 53 (212 B)", "Trainable params: 49 (196 B)", "Non-trainable params: 4 (16 B)",
            "optimizer   SGD (lrt/optimizer)", "momentum 0.9, nesterov true", "learning_rate Constant(learning_rate 0.02)",
            "layer_rates paper", "step 2, slots momentum", "layer rates",
            "training    epoch 2 done, global step 2, 3/5 examples into epoch 3", "batch size 3, seed 11",
            "dataset     /data/shapes", "classes     2: left, right",
            "   epoch      loss  accuracy  val_loss  val_accuracy", "       2    0.5000    0.8000       nan        0.6000",
        ] {
            XCTAssert(text.contains(fragment), "report lacks '\(fragment)':\n\(text)")
        }
    }

    /// Keras's summary() counts, for a real Keras file: 64·5+5 = 325, 5·3+3 = 18, 343 in all (4 bytes each).
    func testTextReportOfAKerasFile() throws {
        let text = try Inspection(path: try fixture("keras3-adam.h5")).text
        for fragment in [
            "format      Keras legacy HDF5 (.h5), keras_version 3.15.1, backend jax",
            "dense_4 (Dense)", "(None, 5)", "325", "(None, 3)", "18", "Total params: 343 (1.34 KB)",
            "optimizer   Adam (Keras training_config)", "learning_rate 0.01, beta_1 0.9, beta_2 0.999, epsilon 1e-07, amsgrad false",
            "step 4, slots momentum, velocity", "training    none recorded",
        ] {
            XCTAssert(text.contains(fragment), "report lacks '\(fragment)':\n\(text)")
        }
    }

    func testJSONReportForScripts() throws {
        let json = try JSONValue.parse(try Inspection(path: try fixture("lrt-v1.h5")).json.serialized)
        XCTAssertEqual(json["format"]?.stringValue, "lrt-checkpoint")
        XCTAssertEqual(json["format_version"]?.intValue, 1)
        XCTAssertEqual(json["model"]?["layers"]?.arrayValue?.count, 9)
        XCTAssertEqual(json["model"]?["layers"]?.arrayValue?.first?["output_shape"], .array([.number(3), .number(3), .number(2)]))
        XCTAssertEqual(json["model"]?["total_parameters"]?.intValue, 53)
        XCTAssertEqual(json["model"]?["non_trainable_parameters"]?.intValue, 4)
        XCTAssertEqual(json["optimizer"]?["source"]?.stringValue, "lrt")
        XCTAssertEqual(json["optimizer"]?["step"]?.intValue, 2)
        XCTAssertEqual(json["optimizer"]?["layer_rate_multipliers"]?.arrayValue?.count, 4)
        XCTAssertEqual(json["training"]?["position"]?.intValue, 3)
        XCTAssertEqual(json["training"]?["epoch_length"]?.intValue, 5)
        XCTAssertEqual(json["training"]?["seed"]?.stringValue, "11")
        XCTAssertEqual(json["dataset"]?["class_names"], .array([.string("left"), .string("right")]))
        XCTAssertEqual(json["history"]?["val_loss"]?.arrayValue?.last, .null, "NaN is written as null")
        XCTAssertEqual(json["warnings"], .array([]))
    }

    func testJSONReportOfAKerasFile() throws {
        let json = try Inspection(path: try fixture("keras3-sgd-momentum.h5")).json
        XCTAssertEqual(json["format"]?.stringValue, "keras")
        XCTAssertEqual(json["format_version"], .null)
        XCTAssertEqual(json["optimizer"]?["source"]?.stringValue, "keras")
        XCTAssertEqual(json["optimizer"]?["class_name"]?.stringValue, "SGD")
        XCTAssertEqual(json["optimizer"]?["step"]?.intValue, 4)
        XCTAssertEqual(json["training"], .null)
    }
}
