import Foundation
import LRTTensor
import XCTest
@testable import LRTLayers

final class InitializerTests: XCTestCase {
    /// HeNormal (Keras's, He et al. 2015): mean 0, standard deviation √(2 / fanIn) after truncation at two
    /// standard deviations of the untruncated normal, and a bell shape, not a uniform one.
    func testHeNormalHasTheTruncatedNormalStatisticsKerasDraws() throws {
        var generator = SeededGenerator(seed: 7)
        let shape = [3, 3, 64, 128]  // fan in 3·3·64 = 576
        let values = Initializer.heNormal.make(shape: shape, generator: &generator).storage.map(Double.init)
        XCTAssertEqual(values.count, 73_728)
        let target = (2.0 / 576).squareRoot()
        let mean = values.reduce(0, +) / Double(values.count)
        let deviation = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 4 * target / Double(values.count).squareRoot())
        XCTAssertEqual(deviation, target, accuracy: 0.01 * target)
        // No value beyond 2 standard deviations of the untruncated normal (target / 0.8796…).
        let bound = 2 * target / Initializer.truncationStandardDeviation
        XCTAssertLessThanOrEqual(values.map(abs).max() ?? 0, bound)
        XCTAssertGreaterThan(values.map(abs).max() ?? 0, 0.95 * bound)
        // |x| < target / 2: 35.6 % for this truncated normal, 28.9 % for a uniform of the same deviation.
        let central = Double(values.filter { abs($0) < target / 2 }.count) / Double(values.count)
        XCTAssertEqual(central, 0.356, accuracy: 0.01)
        // A different seed, different values; the same seed, the same values.
        var same = SeededGenerator(seed: 7), other = SeededGenerator(seed: 8)
        XCTAssertEqual(Initializer.heNormal.make(shape: shape, generator: &same).storage.map(Double.init), values)
        XCTAssertNotEqual(Initializer.heNormal.make(shape: shape, generator: &other).storage.map(Double.init), values)
    }

    func testHeNormalIsReadAndWrittenAsKerasNamesIt() throws {
        XCTAssertEqual(try Initializer(keras: .string("he_normal")), .heNormal)
        let written = Initializer.heNormal.config
        XCTAssertEqual(written["class_name"], .string("HeNormal"))
        XCTAssertEqual(try Initializer(keras: written), .heNormal)
        // Keras 3.15 writes input_axes and output_axes too.
        let keras = try JSONValue.parse(#"{"module": "keras.initializers", "class_name": "HeNormal", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}"#)
        XCTAssertEqual(try Initializer(keras: keras), .heNormal)
    }
}
