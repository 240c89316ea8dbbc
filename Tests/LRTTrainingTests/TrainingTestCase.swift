import XCTest
import Foundation

/// What the training tests share: a temporary folder per test, the bundled digits, and a small MLP for them.
class TrainingTestCase: XCTestCase {
    var directory: URL!
    let sampleRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Samples/digits").standardized.path

    /// A Keras config of Flatten, Dense(`hiddenUnits`, relu) and Dense(10, softmax) for 8×8 gray digits.
    static func digitsMLP(hiddenUnits: Int) -> String {
        """
        {"class_name": "Sequential", "config": {"name": "digits_mlp", "layers": [
          {"class_name": "InputLayer", "config": {"batch_shape": [null, 8, 8, 1]}},
          {"class_name": "Flatten", "config": {}},
          {"class_name": "Dense", "config": {"units": \(hiddenUnits), "activation": "relu"}},
          {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]}}
        """
    }

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("lrt-\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// `name` inside the test's folder.
    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
}
