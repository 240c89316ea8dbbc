import XCTest
import LRTTensor
@testable import LRTLayers

/// The new layers against real Keras 3 (``LayerReference``, made by `Tools/make_layer_fixtures.py`):
/// each is built from the config Keras wrote, given Keras's weights by name, and must give Keras's output.
final class KerasLayerReferenceTests: XCTestCase {
    /// Relative tolerance of the forward pass: `|lrt − Keras| ≤ 1e-5 · max(|Keras|, 1)`.
    private let tolerance: Float = 1e-5

    private func build(_ reference: KerasLayerCase) throws -> Layer {
        let layer = try LayerChecks.make(reference.className, config: try JSONValue.parse(reference.config),
                                         inputShapes: reference.inputShapes)
        XCTAssertEqual(layer.weights.map(\.weightName), reference.weights.map(\.name), "\(reference.name): weight names in Keras's order")
        XCTAssertEqual(layer.weights.map(\.value.shape), reference.weights.map(\.shape), "\(reference.name): weight layouts")
        for (parameter, weight) in zip(layer.weights, reference.weights) where parameter.value.shape == weight.shape {
            parameter.value = Tensor(shape: weight.shape, storage: weight.values)
        }
        return layer
    }

    func testForwardMatchesKeras() throws {
        XCTAssertEqual(LayerReference.cases.count, 25)
        for reference in LayerReference.cases {
            let layer = try build(reference)
            let inputs = zip(reference.inputs, reference.inputShapes).map { values, shape in
                Tensor(shape: [values.count / shape.reduce(1, *)] + shape, storage: values)
            }
            for training in [false, true] {
                let output = LayerChecks.forward(layer, inputs, training: training)
                LayerChecks.assertClose(output, Tensor(shape: reference.outputShape, storage: reference.output), relative: tolerance,
                                        "\(reference.name) (training \(training))")
            }
        }
    }

    /// lrt writes the keys Keras writes, in its order, with the same values (the dtype policy and
    /// the initializers' configs aside, which Keras reads in either form).
    func testConfigsHaveKerasKeysAndValues() throws {
        for reference in LayerReference.cases {
            let keras = try JSONValue.parse(reference.config)
            let written = try build(reference).config
            XCTAssertEqual(written.keys, keras.keys, reference.name)
            for key in keras.keys where key != "dtype" {
                guard let kerasValue = keras[key], case .object = kerasValue else {
                    XCTAssertEqual(written[key], keras[key], "\(reference.name): \(key)")
                    continue
                }
                XCTAssertEqual(written[key]?["class_name"], kerasValue["class_name"], "\(reference.name): \(key)")
            }
        }
    }

    /// Every layer class the issue adds has a Keras case, and every Keras case a registered class.
    func testEveryNewClassHasAKerasCase() {
        let covered = Set(LayerReference.cases.map(\.className))
        for className in ["DepthwiseConv2D", "SeparableConv2D", "ZeroPadding2D", "Concatenate", "GlobalMaxPooling2D", "Reshape",
                          "Rescaling", "ReLU", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"] {
            XCTAssert(covered.contains(className), className)
            XCTAssertNotNil(LayerRegistry.type(named: className), className)
        }
    }
}
